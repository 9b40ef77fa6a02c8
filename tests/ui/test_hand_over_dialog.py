"""Issue 21: Hand over to <machine>… in a mailbox's menu, on the test PostgreSQL with a running
copy that can receive it (tests/integration/test_handover.py's Copy: its own keyring and
inbox). The hand-over runs in a worker; the receiver picks the sealed row up meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, SealedSecret
from mailmonitor.services.auth import secrets
from mailmonitor.ui.main_window import MainWindow
from tests.factories import make_account
from tests.integration.test_handover import PASSWORD, Copy

pytestmark = [pytest.mark.ui,
              pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)]


def offered(window: MainWindow, qtbot: Any) -> None:
    window.look_for_receivers()
    qtbot.waitUntil(window.hand_over_action.isVisible, timeout=5000)


def with_a_receiver(make_window: Callable[..., MainWindow], clock: FakeClock, qtbot: Any
                    ) -> tuple[Account, Copy, MainWindow]:
    """A password mailbox, another running copy ("server") that can receive it, and the
    window once it offers the hand-over."""
    account = make_account("rep@team.example")
    secrets.set_secret(account.email, "password", PASSWORD)
    server = Copy(clock, "server")
    window = make_window()
    offered(window, qtbot)
    return account, server, window


def test_no_other_running_copy_no_hand_over(
        db: str, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    make_account("rep@team.example")
    window = make_window()
    window.look_for_receivers()
    qtbot.wait(300)
    assert not window.hand_over_action.isVisible()
    assert window.hand_over_action in window.accounts_tab.menu_actions


def test_hand_over_to_the_running_copy_from_the_mailbox_menu(
        db: str, make_window: Callable[..., MainWindow], clock: FakeClock,
        qtbot: Any) -> None:
    account, server, window = with_a_receiver(make_window, clock, qtbot)
    assert window.hand_over_action.text() == "Hand over to server…"
    window.accounts_tab.select(account.id)
    window.hand_over_action.trigger()
    dialog = window.hand_over_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)  # read it after closing
    row = dialog.table.topLevelItem(0)
    assert row is not None
    assert [row.text(i) for i in range(3)] == ["server", "headless",
                                               server.inbox.identity.fingerprint]
    qtbot.keyClick(dialog.table, Qt.Key.Key_Return)  # Enter hands over
    assert dialog.busy and dialog.progress.isVisible()
    assert not dialog.hand_button.isEnabled()

    def received() -> bool:
        if SealedSecret.select().count():
            server.pick_up()
        return not dialog.busy
    qtbot.waitUntil(received, timeout=10_000)
    line = "Handed rep@team.example over to server (headless); the password stays here too"
    assert dialog.result_line == line
    assert not dialog.isVisible()
    assert line in window.notice.text.text()
    with server.active():
        assert secrets.get_secret(account.email, "password") == PASSWORD


def test_cancel_while_waiting_takes_the_sealed_row_back(
        db: str, make_window: Callable[..., MainWindow], clock: FakeClock,
        qtbot: Any) -> None:
    account, server, window = with_a_receiver(make_window, clock, qtbot)
    dialog = window.open_hand_over(account.id)
    assert dialog is not None
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)  # read it after closing
    dialog.hand_button.click()
    qtbot.waitUntil(lambda: SealedSecret.select().count() == 1, timeout=5000)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # the receiver never looked
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    assert dialog.result_line == "Not handed over: cancelled: nothing was handed over"
    assert SealedSecret.select().count() == 0
    assert server.pick_up() == []
    with server.active():
        assert secrets.get_secret(account.email, "password") is None


def test_esc_before_handing_over_closes_and_nothing_happens(
        db: str, make_window: Callable[..., MainWindow], clock: FakeClock,
        qtbot: Any) -> None:
    account = make_account("rep@team.example")
    Copy(clock, "server")
    window = make_window()
    offered(window, qtbot)
    dialog = window.open_hand_over(account.id)
    assert dialog is not None
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)  # read it after closing
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    assert SealedSecret.select().count() == 0
