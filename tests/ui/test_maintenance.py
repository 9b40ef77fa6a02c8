"""Maintenance windows in the window: reached from a mailbox's menu and from the alerts list,
they mute a mailbox, a domain or everything until a time with a note (the alerts grey at once),
list the current windows with End now, and show crossed on the mailbox's timeline, where uptime
leaves them out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStatusBar

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Maintenance
from mailmonitor.services.alerts import reconciler
from mailmonitor.services.monitoring import maintenance
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.ui.main_window import MainWindow
from mailmonitor.ui.status_timeline import StatusTimeline
from tests.factories import make_account, make_campaign, make_leads

pytestmark = pytest.mark.ui


@pytest.fixture
def broken(db: Path, clock: FakeClock) -> list[Account]:
    """Two mailboxes of northwind.example down with the provider's outage, one elsewhere."""
    people = [make_account(e) for e in ("ava@northwind.example", "ben@northwind.example",
                                        "eve@fieldsales.example")]
    make_leads(make_campaign("Q4 outreach", people), people[0], 3)
    for account in people[:2]:
        update_status(account, "disconnected", "invalid_credentials", "535", clock.now())
    update_status(people[2], "disconnected", "app_password_required", "534", clock.now())
    reconciler.reconcile(clock.now())
    return people


def test_a_domain_is_muted_from_a_mailboxs_menu_and_ended_early(
        broken: list[Account], make_window: Callable[..., MainWindow], clock: FakeClock,
        qtbot: Any) -> None:
    window = make_window()
    window.show()
    assert window.maintenance_action in window.accounts_tab.menu_actions
    window.select_account(broken[1].id)
    window.maintenance_action.trigger()
    dialog = window.maintenance_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.mailbox.currentText() == "ben@northwind.example"  # the selected mailbox
    assert dialog.empty.isVisible() and not dialog.table.isVisible()
    dialog.domain_radio.setChecked(True)
    assert dialog.domain.currentText() == "northwind.example"
    dialog.until.choice.setCurrentIndex(1)  # until tomorrow 09:00
    dialog.note.setFocus()
    qtbot.keyClicks(dialog.note, "provider migrates the mail servers")
    qtbot.keyClick(dialog.note, Qt.Key.Key_Return)  # Enter = Mute
    assert dialog.isVisible()  # it stays: the list shows the new window
    [window_] = maintenance.windows(clock.now())
    assert (window_.scope, window_.target, window_.note) == (
        "domain", "northwind.example", "provider migrates the mail servers")
    assert dialog.table.rowCount() == 1 and dialog.table.item(0, 0).text() == "@northwind.example"
    # The alerts follow at once: the outage's card is muted, eve's still needs the rep.
    cards = window.ctx.attention.current()
    assert [(c.emails, c.muted) for c in cards] == [
        (["eve@fieldsales.example"], False),
        (["ava@northwind.example", "ben@northwind.example"], True)]
    assert "eve@fieldsales.example" in window.attention.text.text()

    dialog.end_buttons[window_.id].click()
    assert maintenance.windows(clock.now()) == []
    assert Maintenance.get_by_id(window_.id).removed_at == clock.now()  # kept for the timeline
    assert not any(c.muted for c in window.ctx.attention.current())
    assert dialog.empty.isVisible()
    qtbot.keyClick(dialog.note, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_the_alerts_list_reaches_maintenance_and_a_bad_end_is_refused(
        broken: list[Account], make_window: Callable[..., MainWindow], clock: FakeClock) -> None:
    window = make_window()
    alerts = window.open_alerts()
    alerts.maintenance_button.click()
    dialog = alerts.maintenance_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.all_radio.setChecked(True)
    dialog.until.choice.setCurrentIndex(2)  # Until… a time of the rep's choice
    assert dialog.until.custom.isEnabled()
    dialog.until.custom.setDateTime(dialog.until.custom.minimumDateTime())  # now: too early
    dialog.add_button.click()
    assert dialog.error.isVisibleTo(dialog) and "The end must be after" in dialog.error.text()
    assert maintenance.windows(clock.now()) == []
    dialog.until.choice.setCurrentIndex(0)
    dialog.add_button.click()
    [everything] = maintenance.windows(clock.now())
    assert everything.scope == "all" and everything.ends_at == clock.now() + timedelta(hours=1)
    assert alerts.header.text() == "Nothing needs you right now · 2 muted"
    assert isinstance(window.statusBar(), QStatusBar)
    assert window.attention_line.text() == "Nothing needs you right now"


def test_the_timeline_shows_the_window_and_uptime_leaves_it_out(
        db: Path, make_window: Callable[..., MainWindow], clock: FakeClock) -> None:
    from mailmonitor.services.monitoring.account_state import record_check
    from tests.factories import probe_fail, probe_ok

    ava = make_account("ava@northwind.example", check_interval_seconds=300)
    start = clock.now() - timedelta(hours=4)
    for minutes in range(0, 240, 5):
        at = start + timedelta(minutes=minutes)
        down = 60 <= minutes < 120
        record_check(Account.get_by_id(ava.id),
                     probe_fail("server_unavailable", "421") if down else probe_ok(),
                     probe_ok(), at, "schedule")
    maintenance.add_window(["ava@northwind.example"], None, False,
                           (start + timedelta(hours=2)).isoformat(), start,
                           starts=(start + timedelta(hours=1)).isoformat(), note="planned")
    window = make_window()
    detail = window.open_account(ava.id)
    timeline = detail.findChild(StatusTimeline)
    assert timeline is not None
    assert timeline.muted == [(start + timedelta(hours=1), start + timedelta(hours=2))]
    assert timeline.shares["uptime_24h"] == 100.0  # the hour down was the maintenance
    bar = timeline._bar()
    middle = timeline._x(start + timedelta(minutes=90), bar)
    assert timeline.muted_at(middle) == timeline.muted[0]
    detail.close()
