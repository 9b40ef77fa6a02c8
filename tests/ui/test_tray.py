"""Tray and notifications: without a tray (always offscreen) everything still reaches the rep in
the window; with one, the icon follows the worst status, the tooltip and the menu name the
conditions that need the rep (the attention model's), and notifications are coalesced. Alerts
come from the reconciler (the app's background loop; here the tests reconcile)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QSystemTrayIcon

from mailmonitor.clock import FakeClock
from mailmonitor.models import Alert, Campaign, set_setting
from mailmonitor.services.alerts.reconciler import reconcile
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.ui.main_window import MainWindow
from tests.factories import make_account, make_campaign, make_leads, reload

pytestmark = pytest.mark.ui


@pytest.fixture
def team(db: Path) -> dict[str, Any]:
    people = {name: make_account(f"{name}@northwind.example") for name in ("ava", "ben", "cleo")}
    campaign = make_campaign("Q4 outreach", list(people.values()))
    for name, account in people.items():
        make_leads(campaign, account, 3, prefix=name)
    return people


def test_without_a_tray_the_window_carries_everything(
        team: dict[str, Any], make_window: Callable[..., MainWindow], clock: FakeClock,
        settle: Callable[[], None], qtbot: Any) -> None:
    assert not QSystemTrayIcon.isSystemTrayAvailable()  # offscreen
    window = make_window()
    window.show()
    assert not window.tray.available

    update_status(team["ava"], "disconnected", "invalid_credentials", "535", clock.now())
    reconcile(clock.now())
    settle()

    # One banner says it, with its action (the notification goes to the status bar, not to a
    # second banner saying the same); its button opens ava's wizard.
    qtbot.waitUntil(lambda: window.attention.isVisible(), timeout=1000)
    assert not window.notice.isVisible()
    assert window.tray.last_notification is not None
    assert window.statusBar().currentMessage() == \
        "ava@northwind.example is disconnected: Invalid Credentials"
    assert window.attention.text.text() == \
        "<b>ava@northwind.example is disconnected: Invalid Credentials</b>"
    assert [b.text() for b in window.attention.buttons()] == ["Reconnect"]
    window.attention.buttons()[0].click()
    assert window.wizards[team["ava"].id].flow.email == "ava@northwind.example"


def test_closing_without_a_tray_quits_instead_of_hiding(
        team: dict[str, Any], make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    window = make_window()
    window.show()
    window.close()  # asks first (issue 23): Quit stops monitoring
    quit_button = next(b for b in window.close_box.buttons() if b.text() == "Quit")
    with qtbot.waitSignal(window.quitRequested, timeout=1000):
        quit_button.click()


def test_notifications_are_coalesced_and_rate_limited(
        team: dict[str, Any], make_window: Callable[..., MainWindow], clock: FakeClock,
        settle: Callable[[], None]) -> None:
    window = make_window()
    shown: list[str] = []
    window.show_notification = lambda n: shown.append(n.title)  # type: ignore[method-assign]
    window.tray.fallback = window

    update_status(team["ava"], "disconnected", "invalid_credentials", "535", clock.now())
    reconcile(clock.now())
    settle()
    clock.advance(seconds=20)
    update_status(team["ben"], "disconnected", "app_password_required", "534", clock.now())
    update_status(team["cleo"], "disconnected", "token_expired", "invalid_grant", clock.now())
    reconcile(clock.now())
    settle()
    assert shown == ["ava@northwind.example is disconnected: Invalid Credentials"]

    clock.advance(minutes=2)
    window.tray.poll_notifications()
    # Two new causes, one notification (the campaign paused belongs to its mailboxes' cards).
    assert shown[1:] == ["2 mailbox problems"]
    assert Alert.select().where(Alert.notified).count() == 3


def test_notifications_setting_off_means_none(
        team: dict[str, Any], make_window: Callable[..., MainWindow], clock: FakeClock,
        settle: Callable[[], None]) -> None:
    set_setting("notifications", False)
    window = make_window()
    update_status(team["ava"], "disconnected", "invalid_credentials", "535", clock.now())
    reconcile(clock.now())
    settle()
    assert window.statusBar().currentMessage() == ""
    assert window.tray.last_notification is None


def test_tray_icon_menu_and_click(team: dict[str, Any], make_window: Callable[..., MainWindow],
                                  clock: FakeClock, settle: Callable[[], None],
                                  qtbot: Any) -> None:
    window = make_window(use_tray=True)  # a tray object, as on a desktop with a tray host
    assert window.tray.available and window.tray.tray is not None
    assert window.tray.worst == "connected"
    assert "3 connected" in window.tray.tray.toolTip()
    menu = window.tray.tray.contextMenu()
    # A status line first (text, not a command), then the commands.
    assert [a.text() for a in menu.actions() if a.text()] == [
        "3 connected", "Open mailmonitor", "Check all now", "Pause all sending", "Quit"]
    assert not menu.actions()[0].isEnabled()

    update_status(team["ben"], "warning", "timeout", "no answer", clock.now())
    update_status(team["cleo"], "disconnected", "invalid_credentials", "535", clock.now())
    reconcile(clock.now())
    settle()
    qtbot.waitUntil(lambda: window.tray.worst == "disconnected", timeout=1000)
    # The tooltip names what needs the rep (ben only retries, once: not yet a condition).
    assert window.tray.tray.toolTip().splitlines() == [
        "mailmonitor — 1 connected · 1 retrying · 1 needs attention", "1 thing needs you:",
        "• cleo@northwind.example is disconnected: Invalid Credentials"]
    # An entry for the condition with its action; it opens the wizard.
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts[:2] == ["1 connected · 1 retrying · 1 needs attention",
                         "cleo@northwind.example is disconnected: Invalid Credentials — "
                         "Reconnect"]
    next(a for a in menu.actions() if a.text().endswith("— Reconnect")).trigger()
    reconnect_wizard = window.wizards[team["cleo"].id]
    assert reconnect_wizard.isVisible()
    reconnect_wizard.reject()

    # Clicking the notification about one mailbox opens its wizard at the connection page.
    assert window.tray.last_notification is not None
    window.tray.notification_clicked()
    wizard = window.wizards[team["cleo"].id]
    assert wizard.stack.currentWidget() is wizard.connection_page


def test_close_to_tray_only_when_a_tray_exists(team: dict[str, Any],
                                               make_window: Callable[..., MainWindow],
                                               qtbot: Any) -> None:
    window = make_window(use_tray=True)
    window.show()
    quits: list[bool] = []
    window.quitRequested.connect(lambda: quits.append(True))
    window.close()
    assert not window.isVisible() and quits == []
    window.tray.openRequested.emit()
    assert window.isVisible()


def test_pause_all_sending_and_resume(team: dict[str, Any],
                                      make_window: Callable[..., MainWindow]) -> None:
    other = make_campaign("Paused by rep", [team["ava"]], status="paused",
                          pause_reason="user")
    window = make_window()
    window.pause_all.trigger()
    assert Campaign.get(Campaign.name == "Q4 outreach").status == "paused"
    assert window.pause_all.text() == "Resume sending"
    window.pause_all.trigger()
    assert Campaign.get(Campaign.name == "Q4 outreach").status == "active"
    assert reload(other).status == "paused"  # the rep's own pause stays
    assert window.pause_all.text() == "Pause all sending"


def test_rate_limit_timer_is_scheduled(team: dict[str, Any],
                                       make_window: Callable[..., MainWindow], clock: FakeClock,
                                       settle: Callable[[], None]) -> None:
    window = make_window()
    update_status(team["ava"], "disconnected", "invalid_credentials", "535", clock.now())
    reconcile(clock.now())
    settle()
    update_status(team["ben"], "disconnected", "app_password_required", "534", clock.now())
    reconcile(clock.now())
    settle()
    timer = window.tray._timer
    assert timer.isActive()
    assert abs(timer.interval() - timedelta(minutes=2).total_seconds() * 1000) < 1000
