"""The campaign view: a banner per condition of the attention model about the campaign — a
broken mailbox (§4.3) — comes and goes with the conditions (reconciled here as the app's
background loop would), and the Re-allocate dialog (§4.5) previews and moves leads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Campaign, Lead
from mailmonitor.services.alerts.reconciler import reconcile
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.ui.campaign_view import CampaignView, ReallocateDialog
from mailmonitor.ui.main_window import MainWindow
from tests.factories import lead_states, make_account, make_campaign, make_leads, reload

pytestmark = pytest.mark.ui


@pytest.fixture
def q4(db: Path) -> tuple[Campaign, Account, Account]:
    ava = make_account("ava@northwind.example", daily_limit=100)
    cleo = make_account("cleo@northwind.example", daily_limit=100)
    campaign = make_campaign("Q4 outreach", [ava, cleo])
    make_leads(campaign, ava, 10, prefix="ava")
    make_leads(campaign, cleo, 8, prefix="cleo-new")
    make_leads(campaign, cleo, 4, prefix="cleo-emailed", cursor=1)
    return campaign, ava, cleo


def show_campaign(window: MainWindow, campaign: Campaign) -> CampaignView:
    window.tabs.setCurrentIndex(1)
    window.campaigns_tab.campaign_view.set_campaign(campaign.id)
    return window.campaigns_tab.campaign_view


def test_banner_appears_on_disconnection_and_goes_on_reconnect(
        q4: tuple[Campaign, Account, Account], make_window: Callable[..., MainWindow],
        clock: FakeClock, settle: Callable[[], None], qtbot: Any) -> None:
    campaign, _ava, cleo = q4
    window = make_window()
    window.show()
    view = show_campaign(window, campaign)
    assert view.banners == []

    update_status(cleo, "disconnected", "invalid_credentials",
                  "535 5.7.8 Username and Password not accepted", clock.now())
    reconcile(clock.now())
    settle()

    assert len(view.banners) == 1
    banner = view.banners[0]
    assert banner.isVisible()
    text = banner.text.text()
    assert "cleo@northwind.example is disconnected: Invalid Credentials" in text
    assert "12 leads of “Q4 outreach” wait at their step" in text
    assert "535" not in text  # the server's words are for the alerts list's Details
    assert [b.text() for b in banner.buttons()] == ["Reconnect", "Re-allocate…"]

    # Reconnect on the banner opens the wizard with this campaign preselected.
    banner.buttons()[0].click()
    wizard = window.wizards[cleo.id]
    assert wizard.flow.campaign_id == campaign.id
    wizard.reject()

    lifecycle.reconnected(reload(cleo), clock.now())
    reconcile(clock.now())
    settle()
    assert view.banners == []
    assert lead_states(campaign) == {"pending": 18, "active": 4}


def test_banner_for_a_mailbox_the_rep_disconnected(
        q4: tuple[Campaign, Account, Account], make_window: Callable[..., MainWindow],
        clock: FakeClock, settle: Callable[[], None]) -> None:
    campaign, _ava, cleo = q4
    window = make_window()
    view = show_campaign(window, campaign)
    lifecycle.disconnect(reload(cleo), clock.now())
    reconcile(clock.now())
    settle()
    # It left the campaign, but its leads wait here: its grace period's condition shows.
    assert len(view.banners) == 1
    text = view.banners[0].text.text()
    assert "Connect cleo@northwind.example again before" in text
    assert "You disconnected it." in text and "Emailed leads stopped for good in 60 min" in text
    assert view.banners[0].property("severity") == "error"  # leads will be lost
    assert [b.text() for b in view.banners[0].buttons()] == ["Reconnect", "Re-allocate…"]


def test_reallocate_dialog_previews_and_moves_leads(
        q4: tuple[Campaign, Account, Account], make_window: Callable[..., MainWindow],
        clock: FakeClock, settle: Callable[[], None]) -> None:
    campaign, ava, cleo = q4
    update_status(cleo, "disconnected", "invalid_credentials", "535", clock.now())
    reconcile(clock.now())
    window = make_window()
    view = show_campaign(window, campaign)
    settle()
    dialog = view.open_reallocate()
    assert isinstance(dialog, ReallocateDialog) and dialog.isVisible()

    # By default leads that already got an email keep their mailbox.
    assert dialog.preview.rowCount() == 1
    assert dialog.preview.item(0, 0).text() == "ava@northwind.example"
    assert dialog.preview.item(0, 1).text() == "8"
    assert "8 leads will move" in dialog.summary.text()
    assert "4 leads that already got an email stay" in dialog.summary.text()

    dialog.include_contacted.setChecked(True)
    assert dialog.preview.item(0, 1).text() == "12"

    dialog.include_contacted.setChecked(False)
    dialog.apply_button.click()
    settle()

    moved = Lead.select().where((Lead.campaign == campaign) & (Lead.mailbox == ava)).count()
    assert moved == 18
    kept = Lead.select().where((Lead.mailbox == cleo) & (Lead.state == "halted")).count()
    assert kept == 4
    # Re-allocate reconciles at once: the banner says what is true now.
    assert "4 leads of “Q4 outreach” wait" in view.banners[0].text.text()


def test_reallocate_without_a_connected_mailbox_refuses_clearly(
        q4: tuple[Campaign, Account, Account], make_window: Callable[..., MainWindow],
        clock: FakeClock) -> None:
    campaign, ava, cleo = q4
    update_status(ava, "disconnected", "invalid_credentials", "535", clock.now())
    update_status(cleo, "disconnected", "invalid_credentials", "535", clock.now())
    window = make_window()
    dialog = show_campaign(window, campaign).open_reallocate()
    assert dialog is not None
    assert dialog.error.isVisibleTo(dialog)
    assert "add and connect a mailbox first" in dialog.error.text()
    assert not dialog.apply_button.isEnabled()


def test_pause_and_resume_buttons(q4: tuple[Campaign, Account, Account],
                                  make_window: Callable[..., MainWindow]) -> None:
    campaign, _ava, _cleo = q4
    window = make_window()
    view = show_campaign(window, campaign)
    assert view.pause_button.isVisibleTo(view) and not view.resume_button.isVisibleTo(view)
    view.pause_button.click()
    assert reload(campaign).status == "paused"
    assert view.chip.label.text() == "Paused by you"
    view.resume_button.click()
    assert reload(campaign).status == "active"


def test_leads_list_filters_and_pages(q4: tuple[Campaign, Account, Account],
                                      make_window: Callable[..., MainWindow],
                                      clock: FakeClock) -> None:
    campaign, ava, _cleo = q4
    make_leads(campaign, ava, 1000, prefix="bulk")
    window = make_window()
    view = show_campaign(window, campaign)
    assert view.leads.rowCount() == 500
    assert view.count.text() == "Showing 500 of 1,022 leads (scroll for more)"
    view.filter.setCurrentIndex(2)  # In sequence
    assert view.leads.rowCount() == 4
    assert view.count.text() == "4 leads"
