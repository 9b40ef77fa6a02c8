"""Offline in headless mode (issue 11, spec §2), for real: `run --headless` in a network
namespace where the operating system reports no network. The mailbox on an internet host is
`offline` (never checked, never blamed); the one on loopback is still checked and connected."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_headless_sees_the_os_offline_and_still_checks_loopback_mailboxes() -> None:
    unshare = ["unshare", "--net"] if os.geteuid() == 0 else \
        ["unshare", "--net", "--map-root-user"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [*unshare, sys.executable, str(ROOT / "tests" / "integration" / "offline_scenario.py")],
        capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    statuses = seen["statuses"]
    status, reason, checks = statuses["rep@example.com"]
    assert (status, reason, checks) == ("offline", None, 0)  # not checked, not blamed
    status, reason, checks = statuses[seen["local"]]
    assert (status, reason) == ("connected", None) and checks >= 1
    assert seen["offline_logged"] and seen["backend"] is not None
    assert seen["exit"] == 0
