"""Settings → Deliverability, by keyboard: the one-click unsubscribe URL, the footer line with its
preview and the daily round trip. Enter saves, Esc cancels, a bad value is refused next to its
field and nothing is saved; what is saved ends up in the email the composer makes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from mailmonitor.models import Setting, get_setting, set_setting
from mailmonitor.services.deliverability import unsubscribe
from mailmonitor.services.deliverability.settings import SAMPLE_TOKEN
from mailmonitor.services.sending.composer import compose
from mailmonitor.ui.keyboard import focus_chain
from mailmonitor.ui.main_window import MainWindow
from mailmonitor.ui.settings import SettingsDialog
from tests.factories import make_account, make_campaign, make_lead
from tests.ui.helpers import answer_discard

pytestmark = pytest.mark.ui

URL = "https://unsub.sales.example/u/{token}"
FOOTER = "Not interested? Reply 'unsubscribe' and I will not write again."


def stored() -> dict[str, object]:
    return {row.key: row.value for row in Setting.select()}


def press(qtbot: Any, dialog: QWidget, key: Qt.Key) -> None:
    qtbot.keyClick(dialog.focusWidget() or dialog, key)


def type_into(qtbot: Any, field: QWidget, text: str) -> None:
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(field, Qt.Key.Key_Delete)
    qtbot.keyClicks(field, text)


def open_page(window: MainWindow, qtbot: Any) -> SettingsDialog:
    dialog = window.open_deliverability_settings()
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.tabs.currentWidget() is dialog.deliverability
    return dialog


def test_tab_reaches_every_field_and_enter_saves(
        db: Path, make_window: Callable[..., MainWindow], qtbot: Any, qapp: QApplication
        ) -> None:
    window = make_window()
    dialog = open_page(window, qtbot)
    page = dialog.deliverability
    chain = [w for w in focus_chain(dialog) if w.isVisibleTo(dialog) and w.isEnabled()
             and w.focusPolicy() & Qt.FocusPolicy.TabFocus]
    for widget in (page.url, page.footer, page.round_trip_daily, page.timeout,
                   dialog.save_button):
        assert widget in chain, widget.objectName()
    assert chain.index(page.url) < chain.index(page.footer) < \
        chain.index(page.round_trip_daily) < chain.index(page.timeout)

    assert "mailto link) only" in page.url_preview.text()
    type_into(qtbot, page.url, URL)
    assert page.url_preview.text() == \
        f"A lead's link: https://unsub.sales.example/u/{SAMPLE_TOKEN}"
    type_into(qtbot, page.footer, FOOTER)
    assert page.ending.text().endswith(f"-- \nYour signature\n\n{FOOTER}")
    qtbot.keyClick(page.footer, Qt.Key.Key_Tab)
    assert dialog.focusWidget() is page.round_trip_daily
    qtbot.keyClick(page.round_trip_daily, Qt.Key.Key_Space)
    qtbot.keyClick(page.round_trip_daily, Qt.Key.Key_Tab)
    assert dialog.focusWidget() is page.timeout
    type_into(qtbot, page.timeout, "300")
    closed: list[int] = []
    dialog.finished.connect(closed.append)
    press(qtbot, dialog, Qt.Key.Key_Return)  # in the timeout field: Enter = Save
    qtbot.waitUntil(lambda: closed == [1])
    assert window.statusBar().currentMessage() == "Settings saved."
    assert get_setting("unsubscribe_url") == URL
    assert get_setting("unsubscribe_footer") == FOOTER
    assert get_setting("round_trip_daily") is True
    assert get_setting("round_trip_timeout_seconds") == 300

    # The next campaign email carries them, composed as the sender composes it.
    account = make_account("rep@sales.example")
    campaign = make_campaign("Q4", [account], steps=1)
    lead = make_lead(campaign, "ada@leads.example", account, fields={"first_name": "Ada"})
    data = compose(lead, campaign.steps.get(), account, datetime(2026, 12, 3, 9, 0),
                   unsubscribe_config=unsubscribe.config()).data
    message = message_from_bytes(data, policy=default)
    token = unsubscribe.token_for(lead)
    assert str(message["List-Unsubscribe"]).startswith(
        f"<https://unsub.sales.example/u/{token}>, <mailto:rep@sales.example?")
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes) and body.decode().rstrip().endswith(FOOTER)

    again = open_page(window, qtbot)  # the page shows what is stored
    assert again.deliverability.url.text() == URL
    assert again.deliverability.round_trip_daily.isChecked()
    assert again.deliverability.timeout.value() == 300
    again.reject()


def test_a_bad_url_shows_the_message_and_saves_nothing(
        db: Path, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    set_setting("unsubscribe_footer", "Old footer")
    before = stored()
    window = make_window()
    dialog = open_page(window, qtbot)
    page = dialog.deliverability
    dialog.long_wait.setValue(30)  # a General change waits for the whole dialog to be good
    type_into(qtbot, page.url, "http://unsub.sales.example/u/{token}")
    assert page.url_preview.text() == ""  # no link is promised that Save would refuse
    type_into(qtbot, page.footer, "New footer")
    dialog.tabs.setCurrentIndex(0)
    page.url.setFocus()
    press(qtbot, dialog, Qt.Key.Key_Return)
    assert dialog.isVisible()
    assert dialog.tabs.currentWidget() is page  # brought back to the field that is wrong
    assert page.url_error.isVisible()
    assert page.url_error.text() == ("The unsubscribe URL must use https:// (plain http:// "
                                     "only for this computer: localhost or 127.0.0.1). "
                                     "Nothing was saved.")
    assert dialog.focusWidget() is page.url
    assert stored() == before and get_setting("long_wait_days") == 9

    type_into(qtbot, page.url, "https://unsub.sales.example/u/")
    press(qtbot, dialog, Qt.Key.Key_Return)
    assert dialog.isVisible() and "must contain {token}" in page.url_error.text()
    assert stored() == before

    type_into(qtbot, page.url, "")  # empty: the mailto link only, which is fine
    press(qtbot, dialog, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert get_setting("unsubscribe_url") is None
    assert get_setting("unsubscribe_footer") == "New footer"
    assert get_setting("long_wait_days") == 30


def test_a_bad_footer_is_refused_next_to_it(
        db: Path, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    window = make_window()
    dialog = open_page(window, qtbot)
    page = dialog.deliverability
    type_into(qtbot, page.footer, "Bye {{first_name}}")
    press(qtbot, dialog, Qt.Key.Key_Return)
    assert dialog.isVisible() and page.footer_error.isVisible()
    assert not page.url_error.isVisible()
    assert "sent as written" in page.footer_error.text()
    assert dialog.focusWidget() is page.footer
    assert stored() == {}
    dialog.reject()


def test_esc_cancels_and_keeps_what_was_stored(
        db: Path, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    set_setting("unsubscribe_url", URL)
    window = make_window()
    dialog = open_page(window, qtbot)
    page = dialog.deliverability
    type_into(qtbot, page.url, "https://other.example/{token}")
    page.round_trip_daily.setFocus()
    qtbot.keyClick(page.round_trip_daily, Qt.Key.Key_Space)
    closed: list[int] = []
    dialog.finished.connect(closed.append)
    press(qtbot, dialog, Qt.Key.Key_Escape)
    answer_discard(dialog, discard=True)  # typed work: Esc asks first
    qtbot.waitUntil(lambda: closed == [0])
    assert stored() == {"unsubscribe_url": URL}


def test_noise_control_and_reminders_are_settings_that_apply_at_once(
        db: Path, make_window: Callable[..., MainWindow], qtbot: Any, clock: Any) -> None:
    """Issue 25: trouble that fixes itself needs the rep after N failed checks and M minutes,
    and the channels are reminded every H hours while a mailbox stays broken (0: off)."""
    from mailmonitor.models import get_setting
    from mailmonitor.services.alerts.reconciler import open_conditions
    from tests.factories import make_account

    make_account("flaky@ex.test", status="warning", reason="timeout", consecutive_failures=1,
                 transient_since=clock.now(), status_since=clock.now())
    window = make_window()
    dialog = open_page(window, qtbot)
    dialog.tabs.setCurrentIndex(0)
    assert (dialog.alert_failures.value(), dialog.alert_minutes.value(),
            dialog.reminder_hours.value()) == (2, 5, 24)
    assert dialog.reminder_hours.specialValueText() == "Off"
    type_into(qtbot, dialog.alert_failures, "1")
    type_into(qtbot, dialog.alert_minutes, "0")
    type_into(qtbot, dialog.reminder_hours, "0")
    qtbot.keyClick(dialog.reminder_hours, Qt.Key.Key_Return)  # Enter: Save
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert (get_setting("attention_min_failures"), get_setting("attention_min_minutes"),
            get_setting("reminder_hours")) == (1, 0, None)
    # The window's reconcile follows at once: one failed check is now enough.
    assert [c.kind for c in open_conditions()] == ["mailbox_retrying"]
