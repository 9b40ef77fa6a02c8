"""Offline (issue 11, spec §2): only the OS's network state counts, in `run --headless` too
(QNetworkInformation with a QCoreApplication, no window); mailboxes on this computer or the
local network are still checked while offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account
from mailmonitor.services.monitoring.network import NetworkWatch, reachable_offline
from tests.factories import make_account, probe_fail, probe_ok
from tests.unit.test_monitor import ScriptedChecks, new_monitor, run_ticks

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("host", "local"), [
    ("127.0.0.1", True), ("::1", True), ("localhost", True), ("mail.localhost", True),
    ("192.168.1.20", True), ("10.0.0.5", True), ("172.16.3.4", True), ("fe80::1", True),
    ("fd12:3456::1", True), ("nas.local", True), ("mail.lan", True), ("mailserver", True),
    ("imap.gmail.com", False), ("8.8.8.8", False), ("outlook.office365.com", False),
    ("", False),
])
def test_which_servers_count_as_local(host: str, local: bool) -> None:
    assert reachable_offline(host) is local


def test_offline_still_checks_mailboxes_on_local_servers(db: Path, clock: FakeClock) -> None:
    internet = make_account("rep@example.com", next_check_at=clock.now())
    local = make_account("office@lan.test", imap_host="127.0.0.1", smtp_host="192.168.1.2",
                         next_check_at=clock.now())
    online = [True]
    checks = ScriptedChecks()
    monitor = new_monitor(clock, checks, online)
    run_ticks(monitor, clock, [0])
    online[0] = False
    checks.answer = lambda: (probe_fail("server_unavailable", "* BYE"), probe_ok())
    before = len(checks.calls)
    run_ticks(monitor, clock, [10, 10])
    assert Account.get_by_id(internet.id).status == "offline"  # not blamed, not checked
    assert "rep@example.com" not in checks.calls[before:]
    assert checks.calls[before:].count("office@lan.test") >= 1  # still checked
    assert Account.get_by_id(local.id).status == "warning"  # its own trouble is reported


class Answer:
    """Stands in for QNetworkInformation's answer (the OS's state is not ours to switch)."""

    def __init__(self, reachability: object) -> None:
        self.value = reachability

    def reachability(self) -> object:
        return self.value


def test_the_os_saying_disconnected_is_offline_anything_else_online() -> None:
    from PySide6.QtNetwork import QNetworkInformation

    watch = NetworkWatch.__new__(NetworkWatch)  # no Qt application made in the test process
    watch._own_app = None
    watch.info = Answer(QNetworkInformation.Reachability.Disconnected)
    assert not watch.is_online()
    for state in (QNetworkInformation.Reachability.Online,
                  QNetworkInformation.Reachability.Unknown,
                  QNetworkInformation.Reachability.Local):
        watch.info = Answer(state)
        assert watch.is_online()
    watch.info = None
    assert watch.is_online()


def test_headless_asks_the_os_without_a_window() -> None:
    """In a process with no Qt application (like `run --headless`), the watch makes a
    QCoreApplication, loads a backend if the system has one, and answers."""
    code = (
        "from PySide6.QtCore import QCoreApplication\n"
        "from PySide6.QtGui import QGuiApplication\n"
        "from mailmonitor.services.monitoring.network import NetworkWatch\n"
        "watch = NetworkWatch()\n"
        "app = QCoreApplication.instance()\n"
        "assert app is not None and not isinstance(app, QGuiApplication)\n"
        "print(watch.is_online(), watch.info.backendName() if watch.info else 'none')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    env.pop("QT_QPA_PLATFORM", None)  # no platform plugin is needed at all
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    online, backend = result.stdout.split()
    assert online == "True"  # this machine's OS does not report "disconnected"
    assert backend in ("none", "networkmanager", "glib", "connman")
