"""The mailbox's own password reminder in the Edit mailbox dialog, with pytest-qt offscreen and
the keyboard only: "Use the default (every 90 days)" while unset, a period of its own saved
through the edit service (the reminder follows at once), back to the default, Esc changes
nothing; an OAuth mailbox has no such row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import qasync
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from mailmonitor.clock import FakeClock
from mailmonitor.models import Alert, set_setting
from mailmonitor.ui.edit_account import EditAccountDialog
from mailmonitor.ui.main_window import MainWindow
from tests.factories import make_account, reload
from tests.ui.helpers import answer_discard, run

pytestmark = pytest.mark.ui


def closed(dialog: QWidget) -> bool:
    return not shiboken6.isValid(dialog) or not dialog.isVisible()


def tab_to(dialog: QWidget, target: QWidget, qtbot: Any) -> list[QWidget]:
    """Press Tab until `target` has the focus; the widgets passed on the way."""
    seen: list[QWidget] = []
    for _ in range(60):
        focus = QApplication.focusWidget()
        if focus is target:
            return seen
        seen.append(focus)
        qtbot.keyClick(focus, Qt.Key.Key_Tab)
    raise AssertionError(f"Tab never reached {target.objectName()}")


def reminders() -> list[str]:
    return [a.message for a in Alert.select().where(
        (Alert.kind == "password_rotation") & Alert.resolved_at.is_null())]


def test_a_password_mailbox_gets_its_own_reminder_by_keyboard_and_back_to_the_default(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        clock: FakeClock, qtbot: Any) -> None:
    set_setting("password_rotation_days", 90)
    ava = make_account("ava@northwind.example", secret_set_at=clock.now() - timedelta(days=50))
    window = make_window()
    dialog = window.open_account(ava.id).edit_servers()
    assert isinstance(dialog, EditAccountDialog)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.name)
    assert dialog.rotation_box.isVisible()
    assert dialog.rotation_default.text() == "Use the default (every 90 days)"
    assert dialog.rotation_default.isChecked() and not dialog.rotation.isEnabled()
    assert dialog.rotation.value() == 90

    # Esc cancels: a changed box is not saved.
    tab_to(dialog, dialog.rotation_default, qtbot)
    qtbot.keyClick(dialog.rotation_default, Qt.Key.Key_Space)
    assert not dialog.rotation_default.isChecked() and dialog.rotation.isEnabled()
    qtbot.keyClick(dialog.rotation_default, Qt.Key.Key_Escape)
    answer_discard(dialog, discard=True)
    assert closed(dialog) and reload(ava).password_rotation_days is None

    # Its own 45 days: Space unticks the default, Shift+Tab to the days, type, Enter saves.
    dialog = window.open_account(ava.id).edit_servers()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.name)
    tab_to(dialog, dialog.rotation_default, qtbot)
    qtbot.keyClick(dialog.rotation_default, Qt.Key.Key_Space)
    qtbot.keyClick(dialog.rotation_default, Qt.Key.Key_Backtab)
    assert QApplication.focusWidget() is dialog.rotation.lineEdit() or \
        QApplication.focusWidget() is dialog.rotation
    qtbot.keyClick(dialog.rotation, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(dialog.rotation, "45")
    assert dialog.rotation.value() == 45
    assert dialog.save_button.text() == "Save"  # not a server change: nothing to test
    qtbot.keyClick(dialog.rotation, Qt.Key.Key_Return)  # Enter = Save
    run(qloop, window)
    assert closed(dialog)
    assert reload(ava).password_rotation_days == 45
    # The password is 50 days old: the reminder is there at once, not at the next minute.
    [message] = reminders()
    assert "every 45 days" in message

    # Reopened: its own value shows; Space on the box, Enter: back to the default.
    dialog = window.open_account(ava.id).edit_servers()
    assert not dialog.rotation_default.isChecked() and dialog.rotation.value() == 45
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.name)
    passed = tab_to(dialog, dialog.rotation_default, qtbot)
    assert dialog.rotation in passed or dialog.rotation.lineEdit() in passed  # Tab reaches both
    qtbot.keyClick(dialog.rotation_default, Qt.Key.Key_Space)
    assert dialog.rotation_default.isChecked() and not dialog.rotation.isEnabled()
    qtbot.keyClick(dialog.rotation_default, Qt.Key.Key_Return)
    run(qloop, window)
    assert closed(dialog)
    assert reload(ava).password_rotation_days is None
    assert reminders() == []  # 50 days of 90: not due any more


def test_an_oauth_mailbox_has_no_password_reminder_row(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qtbot: Any) -> None:
    gia = make_account("gia@gmail.test", kind="gmail", auth_method="oauth2")
    window = make_window()
    dialog = window.open_account(gia.id).edit_servers()
    assert not dialog.rotation_box.isVisible()
    dialog.name.setText("Gia Rossi")
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)
    run(qloop, window)
    assert closed(dialog)
    stored = reload(gia)
    assert (stored.name, stored.password_rotation_days) == ("Gia Rossi", None)
