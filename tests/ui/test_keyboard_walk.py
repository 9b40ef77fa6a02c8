"""Every dialog, walked with the keyboard only (issue 12 §3): focus starts on the first field (or
the primary button), never on a destructive one or Cancel; Tab goes round every control without
getting stuck in a table or list; Enter is the dialog's primary action wherever the focus is;
Esc cancels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QDateTimeEdit,
    QDialog,
    QMessageBox,
    QWidget,
)

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Campaign
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.services.reconnect.flow import Page
from mailmonitor.ui.keyboard import is_destructive
from mailmonitor.ui.main_window import MainWindow
from tests.factories import reload
from tests.ui.helpers import RIGHT, FakeCheck, run, seed_broken_cleo

pytestmark = pytest.mark.ui

@pytest.fixture
def cleo(db: Path, clock: FakeClock, fake_check: FakeCheck) -> Account:
    return seed_broken_cleo(fake_check, lambda c: reload(c).created_at)


def label(widget: QWidget | None) -> str:
    if isinstance(widget, QAbstractButton):
        return widget.text()
    return type(widget).__name__ if widget is not None else "nothing"


class Keys:
    def __init__(self, qtbot: Any) -> None:
        self.qtbot = qtbot

    def press(self, dialog: QWidget, key: Qt.Key) -> None:
        target = dialog.focusWidget() or dialog
        self.qtbot.keyClick(target, key)

    def starts_safely(self, dialog: QWidget) -> QWidget:
        start = dialog.focusWidget()
        assert start is not None, f"{dialog.objectName()}: no focus at all"
        assert start.isVisibleTo(dialog) and start.isEnabled()
        assert not is_destructive(start), f"{dialog.objectName()} starts on {label(start)}"
        assert label(start) not in ("Cancel", "Close"), \
            f"{dialog.objectName()} starts on {label(start)}"
        return start

    def tab_round(self, dialog: QWidget, must_reach: list[QWidget]) -> list[QWidget]:
        """Tab until the focus is back where it started; no control keeps it."""
        start = self.starts_safely(dialog)
        seen: list[QWidget] = []
        current = start
        stays = 0
        for _ in range(60):
            self.qtbot.keyClick(current, Qt.Key.Key_Tab)
            following = dialog.focusWidget()
            assert following is not None
            # A time field steps through its hour and minute first, then moves on.
            stays = stays + 1 if following is current else 0
            assert stays == 0 or (isinstance(current, QDateTimeEdit) and stays < 3), \
                f"{dialog.objectName()}: Tab is stuck on {label(current)}"
            if stays:
                continue
            seen.append(following)
            current = following
            if following is start:
                break
        else:
            pytest.fail(f"{dialog.objectName()}: Tab never came back round")
        for widget in must_reach:
            assert widget in seen, f"{dialog.objectName()}: Tab never reaches {label(widget)}"
        start.setFocus()
        return seen

    def escape_closes(self, dialog: QDialog) -> None:
        self.press(dialog, Qt.Key.Key_Escape)
        assert not dialog.isVisible(), f"{dialog.objectName()}: Esc did not close it"


def test_every_dialog_by_keyboard(
        cleo: Account, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qtbot: Any, fake_check: FakeCheck, memory_keyring: Any,
        settle: Callable[[], None]) -> None:
    keys = Keys(qtbot)
    window = make_window()
    window.show()

    # The main window: Tab leaves the tables.
    window.accounts_tab.view.setFocus()
    qtbot.keyClick(window.accounts_tab.view, Qt.Key.Key_Tab)
    assert window.focusWidget() is not window.accounts_tab.view
    window.tabs.setCurrentIndex(1)
    window.campaigns_tab.view.setFocus()
    qtbot.keyClick(window.campaigns_tab.view, Qt.Key.Key_Tab)
    assert window.focusWidget() is not window.campaigns_tab.view
    window.tabs.setCurrentIndex(0)

    # Add mailbox: Enter on the first page tests (here: says what is missing), never closes.
    add = window.open_add_account()
    assert add.focusWidget() is add.email
    keys.tab_round(add, [add.add_button, add.password])
    keys.press(add, Qt.Key.Key_Return)
    assert add.isVisible()
    assert add.error.isVisible() and "email address" in add.error.text.text()
    keys.escape_closes(add)

    # The reconnect wizard, page by page.
    wizard = window.open_wizard(cleo.id, Page.SELECT_CAMPAIGN)
    select = wizard.select_page
    assert wizard.focusWidget() is select.campaigns  # not Cancel
    keys.tab_round(wizard, [select.edit_warmup, select.skip])
    keys.press(wizard, Qt.Key.Key_Return)  # Enter = Edit Warm-up
    popup = wizard.warmup_dialog
    assert popup is not None and popup.isVisible()
    assert wizard.isVisible()
    keys.tab_round(popup, [popup.previous, popup.daily_limit])
    keys.press(popup, Qt.Key.Key_Return)  # Enter = Previous, back to the connection page
    assert not popup.isVisible()
    connection = wizard.connection_page
    assert wizard.stack.currentWidget() is connection
    assert wizard.focusWidget() is connection.password
    qtbot.keyClicks(connection.password, RIGHT)
    keys.tab_round(wizard, [connection.next, connection.back])
    keys.press(wizard, Qt.Key.Key_Return)  # Enter = Next: tests for real (scripted probe)
    run(qloop, window)
    ready = wizard.ready_page
    assert wizard.stack.currentWidget() is ready
    assert wizard.focusWidget() is ready.save  # not Back
    keys.tab_round(wizard, [ready.save, ready.back])
    keys.press(wizard, Qt.Key.Key_Return)  # Enter = Save & Resume
    run(qloop, window)
    settle()
    assert cleo.id not in window.wizards  # closed (and deleted)
    assert reload(cleo).status == "connected"
    assert window.notice.isVisible()
    assert "cleo@northwind.example reconnected; 1 campaign resumed" in \
        window.notice.text.text()

    # Account detail: Enter reconnects a broken mailbox; after Disconnect the focus is not on
    # Remove….
    update_status(reload(cleo), "disconnected", "invalid_credentials", "NO", reload(cleo)
                  .created_at)
    settle()
    detail = window.open_account(cleo.id)
    detail.refresh()
    keys.tab_round(detail, [detail.reconnect_button, detail.close_button])
    keys.press(detail, Qt.Key.Key_Return)
    assert cleo.id in window.wizards and window.wizards[cleo.id].isVisible()
    keys.press(window.wizards[cleo.id], Qt.Key.Key_Escape)
    assert cleo.id not in window.wizards
    detail.disconnect_button.setFocus()
    detail.disconnect_account()
    assert detail.focusWidget() is not detail.remove_button
    assert not is_destructive(detail.focusWidget())
    sending = detail.edit_sending_settings()
    assert sending is not None
    keys.tab_round(sending, [sending.previous])
    keys.escape_closes(sending)
    sender = detail.edit_sender()
    assert sender is not None
    keys.tab_round(sender, [sender.save_button])
    keys.escape_closes(sender)
    keys.escape_closes(detail)

    # Alerts: the focus starts on the top card's action (Enter does it); Tab reaches Mute…,
    # Maintenance… and Close. Mute… and Maintenance… are walked too.
    alerts = window.open_alerts()
    assert alerts.cards, "the disconnect above left a condition (its grace period)"
    top = alerts.cards[0]
    assert alerts.focusWidget() is top.primary
    keys.tab_round(alerts, [top.mute_button, alerts.maintenance_button, alerts.close_button])
    top.mute_button.click()
    mute = alerts.mute_dialog
    assert mute is not None and mute.focusWidget() is mute.until.choice
    keys.tab_round(mute, [mute.note, mute.mute_button])
    keys.escape_closes(mute)
    planned = alerts.open_maintenance()
    keys.tab_round(planned, [planned.mailbox, planned.note, planned.add_button])
    keys.escape_closes(planned)
    keys.escape_closes(alerts)

    # Re-allocate: Tab leaves the preview table.
    q4 = Campaign.get(Campaign.name == "Q4 outreach")  # ava can take cleo's leads
    realloc = window.open_reallocate(q4.id)
    assert realloc.apply_button.isEnabled()
    keys.tab_round(realloc, [realloc.apply_button])
    keys.escape_closes(realloc)

    # New campaign: Enter with no name says so and keeps the dialog.
    new = window.open_new_campaign()
    keys.tab_round(new, [new.create_button])
    keys.press(new, Qt.Key.Key_Return)
    assert new.isVisible() and new.error.isVisible()
    keys.escape_closes(new)

    # Settings: Enter saves.
    settings = window.open_settings()
    keys.tab_round(settings, [])
    keys.press(settings, Qt.Key.Key_Return)
    assert not settings.isVisible()
    assert window.statusBar().currentMessage() == "Settings saved."

    # Help → Keyboard shortcuts and About: Esc closes.
    for name in ("shortcuts", "about"):
        window.help_actions[name].trigger()
        box = next(w for w in window.findChildren(QMessageBox) if w.isVisible())
        assert not isinstance(box.focusWidget(), QAbstractItemView)
        keys.escape_closes(box)
