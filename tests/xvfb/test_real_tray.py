"""The tray on a real X server (Xvfb) with a real tray host (trayer, XEmbed), inside the D-Bus
session that tools/run-tests.sh starts: the icon follows the worst status, Qt's notification
balloon appears, and clicking it opens the reconnect wizard for that mailbox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.xvfb
ROOT = Path(__file__).resolve().parents[2]


def test_notification_click_opens_the_wizard_with_a_real_tray(tmp_path: Path) -> None:
    display = os.environ.get("DISPLAY")
    assert display, "run the suite through tools/run-tests.sh (Xvfb) so DISPLAY is set"
    assert shutil.which("trayer"), "trayer is missing: apt-get install trayer"
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", PYTHONPATH=str(ROOT))
    env.pop("QT_QPA_PLATFORMTHEME", None)
    host = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype",
                             "request", "--height", "24"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)  # trayer takes the tray selection; the scenario waits for it too
        shot = tmp_path / "tray.png"  # `make screenshots` keeps one in docs/screenshots
        done = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "xvfb" / "tray_scenario.py"), str(shot)],
            env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        host.terminate()
        host.wait(timeout=10)
    assert result["platform"] == "xcb"
    assert result["tray_available"] is True and result["tray_used"] is True
    assert result["tray_worst"] == "disconnected"
    assert "1 needs attention" in result["tray_tooltip"]
    # The tooltip names what needs the rep, as the alerts list does.
    assert result["tray_tooltip"].splitlines()[1:] == [
        "1 thing needs you:", "• ava@northwind.example is disconnected: Invalid Credentials"]
    assert "ava@northwind.example" in (result["notification"] or "")
    assert result["balloon_shown"] is True
    assert result["wizard_opened_for"] == "ava@northwind.example"
    assert shot.exists() and shot.stat().st_size > 1000
