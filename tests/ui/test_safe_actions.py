"""Safe actions (issue 23): re-allocating and removing say what they did, with Undo for a few
seconds where it can be reversed; taking a healthy mailbox out of a campaign is no error and
opens nothing unasked; Pause all sending shows a banner until resumed; closing the window
without a tray asks whether to keep monitoring."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Campaign, Lead
from mailmonitor.ui.main_window import MainWindow
from tests.factories import make_account, make_campaign, make_leads, record_send, reload
from tests.ui.helpers import FakeCheck, seed_broken_cleo

pytestmark = pytest.mark.ui


@pytest.fixture
def cleo(db: Path, clock: FakeClock, fake_check: FakeCheck) -> Account:
    return seed_broken_cleo(fake_check, lambda c: reload(c).created_at)


def leads_of(campaign: Campaign) -> dict[str, tuple[int | None, str]]:
    return {lead.email: (lead.mailbox_id, lead.state)
            for lead in Lead.select().where(Lead.campaign == campaign)}


def test_a_reallocation_says_what_it_did_and_can_be_undone(
        cleo: Account, make_window: Callable[..., MainWindow], qtbot: Any,
        settle: Callable[[], None]) -> None:
    window = make_window()
    q4 = Campaign.get(Campaign.name == "Q4 outreach")
    ava = Account.get(Account.email == "ava@northwind.example")
    before = leads_of(q4)
    dialog = window.open_reallocate(q4.id)
    qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Return)  # Re-allocate
    settle()
    notice = window.notice
    assert notice.isVisibleTo(window) and notice.property("severity") == "ok"
    assert f"Moved 5 leads: 5 to {ava.email}" in notice.text.text()
    assert "Q4 outreach" in notice.text.text()
    assert {m for m, _s in leads_of(q4).values()} == {ava.id}
    assert notice.undo_button is not None and notice.undo_button.isVisibleTo(window)
    notice.undo_button.click()
    settle()
    assert leads_of(q4) == before  # back with cleo, waiting at their step
    assert "Undone: 5 leads are back." in notice.text.text()
    assert notice.undo_button is None  # nothing more to undo

    # Undo is offered for a few seconds only; after that what was done stays.
    dialog = window.open_reallocate(q4.id)
    dialog.apply_button.click()
    assert notice.undo_button is not None
    notice.undo_timer.timeout.emit()
    assert notice.undo_button is None and notice.isVisibleTo(window)


def test_taking_a_healthy_mailbox_out_of_a_campaign_is_no_error(
        db: Path, clock: FakeClock, make_window: Callable[..., MainWindow], qtbot: Any,
        settle: Callable[[], None]) -> None:
    ava, ben = make_account("ava@northwind.example"), make_account("ben@northwind.example")
    campaign = make_campaign("Q4", [ava, ben])
    make_leads(campaign, ben, 3, prefix="new")
    for lead_id in make_leads(campaign, ben, 2, prefix="old", cursor=1):
        record_send(Lead.get_by_id(lead_id), ben, clock.now() - timedelta(days=1), step=0)
    before = leads_of(campaign)
    window = make_window()
    window.tabs.setCurrentIndex(1)
    window.campaigns_tab.select(campaign.id)
    view = window.campaigns_tab.campaign_view
    edit = view.open_edit()
    assert edit is not None
    edit.set_mailboxes([ava.email])
    edit.save_button.click()
    settle()
    assert view.reallocate_dialog is None, "Re-allocate opened unasked"
    assert not any(b.property("severity") == "error" for b in view.banners)
    assert not view.message.isVisibleTo(window)
    notice = window.notice
    assert notice.isVisibleTo(window) and notice.property("severity") == "ok"
    assert notice.text.text() == (
        f"<b>Took {ben.email} out of “Q4”: 3 leads never emailed move to its other "
        "mailboxes; 2 leads wait for a mailbox (Re-allocate… moves them too).</b>")
    assert view.reallocate_button.isEnabled()  # the rep moves them when they choose
    assert notice.undo_button is not None
    notice.undo_button.click()
    settle()
    assert leads_of(campaign) == before
    assert "Undone: 5 leads are back." in notice.text.text()


def test_removing_a_mailbox_says_what_it_did_without_undo(
        cleo: Account, make_window: Callable[..., MainWindow], settle: Callable[[], None]
) -> None:
    window = make_window()
    detail = window.open_account(cleo.id)
    detail.remove_account()
    settle()
    text = window.notice.text.text()
    assert text.startswith(f"Removed {cleo.email} from mailmonitor: ")
    assert "Campaign Stopped" in text and "Its history is kept." in text
    assert window.notice.undo_button is None  # stopped leads cannot come back


def test_pause_all_sending_shows_a_banner_until_resumed(
        cleo: Account, make_window: Callable[..., MainWindow], settle: Callable[[], None]
) -> None:
    window = make_window()
    banner = window.sending_paused
    assert banner.isHidden()
    window.pause_all.trigger()
    assert banner.isVisibleTo(window)
    assert "Sending is paused" in banner.text.text() and "1 campaign" in banner.text.text()
    assert Campaign.get(Campaign.name == "Q4 outreach").status == "paused"
    banner.buttons()[0].click()  # Resume sending
    assert banner.isHidden()
    assert Campaign.get(Campaign.name == "Q4 outreach").status == "active"
    assert window.statusBar().currentMessage() == "Sending resumed: 1 campaign runs again."

    # Resumed one by one: the banner goes too.
    window.pause_all.trigger()
    assert banner.isVisibleTo(window)
    q4 = Campaign.get(Campaign.name == "Q4 outreach")
    window.campaigns_tab.select(q4.id)
    window.campaigns_tab.campaign_view.set_campaign(q4.id)
    window.campaigns_tab.campaign_view.resume()
    settle()
    assert banner.isHidden() and window.pause_all.text() == "Pause all sending"


def test_closing_without_a_tray_asks_whether_to_keep_monitoring(
        cleo: Account, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    window = make_window(use_tray=False)
    window.show()
    quits: list[bool] = []
    window.quitRequested.connect(lambda: quits.append(True))
    window.close()
    box = window.close_box
    assert isinstance(box, QMessageBox) and box.isVisible() and window.isVisible()
    assert box.defaultButton().text() == "Keep monitoring (minimize)"
    qtbot.keyClick(box, Qt.Key.Key_Escape)  # Cancel: nothing happens
    assert window.isVisible() and not window.isMinimized() and quits == []
    window.close()
    next(b for b in window.close_box.buttons()
         if b.text() == "Keep monitoring (minimize)").click()
    assert window.isMinimized() and quits == []
    window.showNormal()
    window.close()
    next(b for b in window.close_box.buttons() if b.text() == "Quit").click()
    assert quits == [True]


def test_actions_are_offered_only_where_they_can_do_something(
        cleo: Account, make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    # Test sending and receiving needs a working sign-in: not for a broken mailbox.
    detail = window.open_account(cleo.id)
    panel = detail.deliverability
    assert not panel.round_trip_button.isEnabled()
    assert "Reconnect this mailbox first" in panel.round_trip_button.toolTip()
    assert "Reconnect this mailbox first" in panel.round_trip_result.text()
    detail.close()
    ava = Account.get(Account.email == "ava@northwind.example")
    detail = window.open_account(ava.id)
    assert detail.deliverability.round_trip_button.isEnabled()
    detail.close()
    # Notifications: Remove… and Send test need a channel.
    notifications = window.open_notifications()
    assert not notifications.remove_button.isEnabled()  # type: ignore[attr-defined]
    assert not notifications.test_button.isEnabled()  # type: ignore[attr-defined]
    notifications.close()
    # Team: Use this database needs a URL; in the demo nothing there is enabled.
    from mailmonitor.ui.team_settings import DEMO_NOTE, TeamDialog

    team = TeamDialog(window.ctx, window)
    team.url.clear()
    assert not team.use_button.isEnabled() and team.use_button.toolTip()
    team.url.setText("postgresql://rep@db.example/mailmonitor")
    assert team.use_button.isEnabled()
    team.deleteLater()
    window.ctx.demo = True
    demo_team = TeamDialog(window.ctx, window)
    assert not any(b.isEnabled() for b in (demo_team.use_button, demo_team.test_button,
                                           demo_team.move_button))
    assert demo_team.use_button.toolTip() == DEMO_NOTE
    demo_team.deleteLater()
