"""Issue 15: a window on a team database (the test PostgreSQL server) sees a status change made
by another process within a second — carried by LISTEN/NOTIFY, without polling — and says which
machine serves each mailbox."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from mailmonitor.clock import FakeClock
from mailmonitor.services.team.leases import LeaseKeeper
from mailmonitor.services.team.live import LiveEvents
from mailmonitor.ui.main_window import MainWindow
from mailmonitor.ui.models import AccountsModel
from tests.factories import make_account
from tests.kill_harness import ROOT

pytestmark = [pytest.mark.ui,
              pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)]


def shown(window: MainWindow, email: str, column: int, role: int = Qt.ItemDataRole.DisplayRole
          ) -> Any:
    model = window.accounts_model
    row = next(i for i in range(model.rowCount()) if model.row(i).email == email)
    return model.index(row, column).data(role)


def test_a_status_change_by_another_process_shows_within_a_second(
        db: str, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    make_account("live@team.example", status="connected")
    window = make_window()
    live = LiveEvents("window-under-test").start()
    try:
        assert live.listening.wait(10)
        assert shown(window, "live@team.example", AccountsModel.STATUS) == "Connected"
        with tempfile.TemporaryDirectory(prefix="mm-live-") as tmp:
            env = dict(os.environ, PYTHONPATH=str(ROOT),
                       PYTHON_KEYRING_BACKEND="tests.file_keyring.FileKeyring",
                       MAILMONITOR_TEST_KEYRING_FILE=str(Path(tmp) / "keyring.json"))
            other = subprocess.run(
                [sys.executable, "-m", "mailmonitor", "--data-dir", tmp, "--database", db,
                 "accounts", "disconnect", "live@team.example"],
                capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
        changed_at = time.monotonic()
        assert other.returncode == 0, other.stderr
        qtbot.waitUntil(
            lambda: shown(window, "live@team.example", AccountsModel.STATUS) == "Stopped",
            timeout=1000)
        assert time.monotonic() - changed_at < 1.0
        assert live.received >= 1  # it came by NOTIFY (nothing in this process changed it)
    finally:
        live.stop()


def test_the_window_says_which_machine_serves_a_mailbox(
        db: str, make_window: Callable[..., MainWindow], clock: FakeClock, qtbot: Any,
        settle: Callable[[], None]) -> None:
    served = make_account("served@team.example", status="connected")
    make_account("orphan@team.example", status="connected")
    LeaseKeeper(clock, holder="srv:1", machine="always-on-box", lease_seconds=3600,
                has_secret=lambda a: a.id == served.id).renew()
    window = make_window()
    settle()
    tip = shown(window, "served@team.example", AccountsModel.STATUS,
                Qt.ItemDataRole.ToolTipRole)
    assert "Served by always-on-box" in tip
    assert shown(window, "orphan@team.example", AccountsModel.REASON) == \
        "No running copy can send for this mailbox"
    assert "No running copy can send for this mailbox" in shown(
        window, "orphan@team.example", AccountsModel.STATUS, Qt.ItemDataRole.ToolTipRole)
    clock.advance(timedelta(hours=2))  # the lease lapsed: nobody serves it any more
    window.accounts_model.refresh_account(served.id)
    assert shown(window, "served@team.example", AccountsModel.REASON) == \
        "No running copy can send for this mailbox"
