"""`mailmonitor --self-test`: one line per check (the frozen bundle's proof that it runs)."""

from __future__ import annotations

from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from mailmonitor.selftest import run_self_test


def test_all_checks_pass_with_a_keyring(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    assert run_self_test(tmp_path) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok   database", "ok   keyring", "ok   libraries", "ok   qt"]
    assert list(tmp_path.iterdir()) == []  # the throwaway database is gone


def test_no_keyring_fails_that_line_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())  # the autouse fixture restores it
    assert run_self_test(tmp_path) == 1
    lines = capsys.readouterr().out.splitlines()
    failed = [line for line in lines if not line.startswith("ok ")]
    assert len(failed) == 1 and failed[0].startswith("FAIL keyring: No usable system keyring")


def test_the_qt_line_names_the_platform_the_app_would_use(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a forced offscreen: without a display on Linux the window cannot open, and the
    self-test says so instead of reporting offscreen (issue 12 §3)."""
    from mailmonitor.selftest import display_problem

    assert display_problem({}, "linux") is not None
    assert "DISPLAY and WAYLAND_DISPLAY are unset" in str(display_problem({}, "linux"))
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({}, "win32") is None and display_problem({}, "darwin") is None
    assert "does not answer" in str(display_problem({"DISPLAY": ":987"}, "linux"))
    assert "not a display name" in str(display_problem({"DISPLAY": "nonsense"}, "linux"))
    wayland = tmp_path / "wayland-0"
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(wayland))
        server.listen()
        assert display_problem({"WAYLAND_DISPLAY": "wayland-0",
                                "XDG_RUNTIME_DIR": str(tmp_path)}, "linux") is None
    assert "does not answer" in str(display_problem(
        {"WAYLAND_DISPLAY": "wayland-gone", "XDG_RUNTIME_DIR": str(tmp_path)}, "linux"))


def test_self_test_under_a_real_x_display_reports_xcb(tmp_path: Path) -> None:
    """The run-tests script provides Xvfb: the self-test, left to choose, opens its window
    there (in a child process: one QApplication per process)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["PYTHON_KEYRING_BACKEND"] = "mailmonitor.memory_keyring.MemoryKeyring"
    assert env.get("DISPLAY"), "the tests run under xvfb-run"
    done = subprocess.run([sys.executable, "-m", "mailmonitor", "--data-dir", str(tmp_path),
                           "--self-test"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok   qt: Qt platform xcb: a window opens and closes" in done.stdout
