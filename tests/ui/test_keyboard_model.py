"""The keyboard model (issue 23), one test per rule, each driven by real key events:

- a field with an action of its own consumes its Enter;
- focus returns to the window that opened a dialog;
- after a failed test the focus goes to the field to fix;
- every dialog and wizard page has Cancel (Esc), which asks before throwing typed work away;
- Ctrl+Tab / Ctrl+PgDown (and back) move between tabs wherever there are tabs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton, QWidget

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account
from mailmonitor.services.placement import overview
from mailmonitor.services.reconnect.flow import Page
from mailmonitor.ui.main_window import MainWindow
from tests.factories import make_account, reload
from tests.ui.helpers import (
    RIGHT,
    FakeCheck,
    answer_discard,
    discard_question,
    run,
    seed_broken_cleo,
)

pytestmark = pytest.mark.ui

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def cleo(db: Path, clock: FakeClock, fake_check: FakeCheck) -> Account:
    return seed_broken_cleo(fake_check, lambda c: reload(c).created_at)


def key(qtbot: Any, window: QWidget, which: Qt.Key,
        modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key pressed where the focus is, as a rep presses it."""
    qtbot.keyClick(window.focusWidget() or window, which, modifiers)


def test_a_field_with_its_own_action_consumes_its_enter(
        cleo: Account, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[int] = []
    monkeypatch.setattr(overview, "check_dns", lambda account_id, now: checked.append(account_id))
    window = make_window()
    ava = Account.get(Account.email == "ava@northwind.example")
    # Cleo is broken (Enter = Reconnect), Ava connected (Enter = Close): in neither does Enter
    # in the DKIM selector do anything but check DNS.
    for account in (cleo, ava):
        detail = window.open_account(account.id)
        detail.tabs.setCurrentWidget(detail.deliverability)
        selector = detail.deliverability.selector
        selector.setFocus()
        qtbot.keyClicks(selector, "mm1")
        key(qtbot, detail, Qt.Key.Key_Return)
        run(qloop, window)
        assert checked[-1] == account.id
        assert detail.isVisible(), "Enter in the selector closed the dialog"
        assert not window.wizards, "Enter in the selector opened the reconnect wizard"
        assert detail.deliverability.dns_button.isEnabled()
        detail.close()
    assert checked == [cleo.id, ava.id]


def test_focus_returns_to_the_window_that_opened_a_dialog(
        cleo: Account, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qtbot: Any) -> None:
    window = make_window()
    window.show()
    detail = window.open_account(cleo.id)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is detail)
    key(qtbot, detail, Qt.Key.Key_Return)  # Reconnect
    wizard = window.wizards[cleo.id]
    qtbot.waitUntil(lambda: QApplication.activeWindow() is wizard)
    key(qtbot, wizard, Qt.Key.Key_Escape)  # nothing typed: closes at once
    assert cleo.id not in window.wizards
    qtbot.waitUntil(lambda: QApplication.activeWindow() is detail)
    key(qtbot, detail, Qt.Key.Key_Escape)  # the detail has the focus: its Esc works
    assert not detail.isVisible()

    # The same after Save & Resume.
    detail = window.open_account(cleo.id)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is detail)
    key(qtbot, detail, Qt.Key.Key_Return)
    wizard = window.wizards[cleo.id]
    qtbot.keyClicks(wizard.connection_page.password, RIGHT)
    key(qtbot, wizard, Qt.Key.Key_Return)  # Next: tests
    run(qloop, window)
    assert wizard.stack.currentWidget() is wizard.ready_page
    key(qtbot, wizard, Qt.Key.Key_Return)  # Save & Resume
    run(qloop, window)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is detail)


def test_reallocate_starts_on_its_action_not_on_the_preview(
        cleo: Account, make_window: Callable[..., MainWindow]) -> None:
    from mailmonitor.models import Campaign

    window = make_window()
    q4 = Campaign.get(Campaign.name == "Q4 outreach")
    realloc = window.open_reallocate(q4.id)
    assert realloc.focusWidget() is realloc.apply_button
    assert realloc.focusWidget() is not realloc.preview


def test_after_a_failed_test_the_focus_goes_to_the_field_to_fix(
        cleo: Account, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qtbot: Any, fake_check: FakeCheck, memory_keyring: Any) -> None:
    window = make_window()
    wizard = window.open_wizard(cleo.id, Page.CONNECTION)
    password = wizard.connection_page.password
    qtbot.keyClicks(password, "wrong-one")
    key(qtbot, wizard, Qt.Key.Key_Return)  # Next
    run(qloop, window)
    assert wizard.connection_page.failure.isVisible()
    assert wizard.focusWidget() is password, "the retyped password would go nowhere"
    assert password.selectedText() == "wrong-one"
    qtbot.keyClicks(password, RIGHT)  # replaces the selection
    assert password.text() == RIGHT
    key(qtbot, wizard, Qt.Key.Key_Return)
    run(qloop, window)
    assert wizard.stack.currentWidget() is wizard.ready_page

    add = window.open_add_account()
    qtbot.keyClicks(add.email, "rep@yahoo.com")
    fake_check.passwords["rep@yahoo.com"] = "app-pass-1"
    add.password.setFocus()
    qtbot.keyClicks(add.password, "nope")
    key(qtbot, add, Qt.Key.Key_Return)  # Test & Add
    run(qloop, window)
    assert add.error.isVisible()
    assert add.focusWidget() is add.password and add.password.selectedText() == "nope"


def test_every_dialog_has_cancel_and_asks_before_discarding_typed_work(
        cleo: Account, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qtbot: Any) -> None:
    window = make_window()
    # The wizard: Cancel on every page.
    wizard = window.open_wizard(cleo.id, Page.SELECT_CAMPAIGN)
    for page in (wizard.select_page, wizard.connection_page, wizard.ready_page):
        cancel = page.cancel
        assert isinstance(cancel, QPushButton) and cancel.text() == "Cancel"
    key(qtbot, wizard, Qt.Key.Key_Return)  # Edit Warm-up
    popup = wizard.warmup_dialog
    assert popup is not None and popup.cancel.isVisible()
    assert "keeps your changes" in popup.note.text() and "Cancel drops them" in popup.note.text()
    limit = reload(cleo).daily_limit
    popup.daily_limit.setFocus()
    popup.daily_limit.selectAll()
    qtbot.keyClicks(popup.daily_limit, "7")
    key(qtbot, popup, Qt.Key.Key_Escape)
    answer_discard(popup, discard=True)  # Cancel drops the change
    assert not popup.isVisible() and wizard.flow.settings.daily_limit == limit
    assert wizard.stack.currentWidget() is wizard.connection_page
    assert wizard.focusWidget() is wizard.connection_page.password
    qtbot.keyClicks(wizard.connection_page.password, "half-typed")
    key(qtbot, wizard, Qt.Key.Key_Escape)
    answer_discard(wizard, discard=False)  # Keep editing
    assert wizard.isVisible() and wizard.connection_page.password.text() == "half-typed"
    wizard.connection_page.cancel.click()
    answer_discard(wizard, discard=True)
    assert cleo.id not in window.wizards

    # New campaign and Add mailbox: an untouched form closes at once, a filled one asks.
    for open_dialog, field in ((window.open_new_campaign, "name"),
                               (window.open_add_account, "email")):
        dialog = open_dialog()
        key(qtbot, dialog, Qt.Key.Key_Escape)
        assert not dialog.isVisible()
        dialog = open_dialog()
        typed = getattr(dialog, field)
        assert isinstance(typed, QLineEdit)
        typed.setFocus()
        qtbot.keyClicks(typed, "Q1 founders")
        key(qtbot, dialog, Qt.Key.Key_Escape)
        box = discard_question(dialog)
        assert box.defaultButton().text() == "Keep editing"
        key(qtbot, box, Qt.Key.Key_Escape)  # Esc on the question keeps the work
        assert dialog.isVisible() and typed.text() == "Q1 founders"
        key(qtbot, dialog, Qt.Key.Key_Escape)
        answer_discard(dialog, discard=True)
        assert not dialog.isVisible()


def test_ctrl_tab_and_ctrl_page_keys_move_between_tabs(
        cleo: Account, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    window = make_window()
    window.show()
    detail = window.open_account(cleo.id)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is detail)
    detail.close_button.setFocus()  # outside the tab widget: still works
    tabs = detail.tabs
    assert tabs.currentIndex() == 0
    key(qtbot, detail, Qt.Key.Key_Tab, CTRL)
    assert tabs.currentIndex() == 1
    key(qtbot, detail, Qt.Key.Key_PageDown, CTRL)
    assert tabs.currentIndex() == 2
    key(qtbot, detail, Qt.Key.Key_Backtab, CTRL | SHIFT)
    assert tabs.currentIndex() == 1
    key(qtbot, detail, Qt.Key.Key_PageUp, CTRL)
    assert tabs.currentIndex() == 0
    key(qtbot, detail, Qt.Key.Key_PageUp, CTRL)  # round to the last one
    assert tabs.currentIndex() == tabs.count() - 1
    detail.close()

    settings = window.open_settings()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is settings)
    settings.tabs.setCurrentIndex(0)
    key(qtbot, settings, Qt.Key.Key_Tab, CTRL)
    assert settings.tabs.currentIndex() == 1
    settings.reject()

    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    window.accounts_tab.view.setFocus()
    key(qtbot, window, Qt.Key.Key_Tab, CTRL)
    assert window.tabs.currentIndex() == 1
    key(qtbot, window, Qt.Key.Key_PageDown, CTRL)
    assert window.tabs.currentIndex() == 0


def test_untouched_dialogs_close_with_esc_at_once(
        db: Path, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    ava = make_account("ava@northwind.example")
    window = make_window()
    for dialog in (window.open_account(ava.id), window.open_settings(),
                   window.open_account(ava.id).edit_servers()):
        key(qtbot, dialog, Qt.Key.Key_Escape)
        assert not dialog.isVisible(), dialog.objectName()
