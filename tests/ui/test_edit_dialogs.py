"""No dead ends in the window (issue 11), with pytest-qt offscreen: Edit servers… tests before it
saves and keeps the account, Edit campaign… adds and removes mailboxes and guards sent steps,
the re-allocate refusal offers "Add a mailbox to this campaign…", Resume says why it cannot,
alerts offer only what can succeed now."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qasync
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton, QWidget

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Alert, Campaign, Check, Lead, Step
from mailmonitor.services.alerts.reconciler import reconcile
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.ui.campaign_view import CampaignView, ReallocateDialog
from mailmonitor.ui.edit_account import EditAccountDialog
from mailmonitor.ui.edit_campaign import EditCampaignDialog
from mailmonitor.ui.main_window import MainWindow
from tests.factories import (
    lead_states,
    make_account,
    make_campaign,
    make_leads,
    probe_fail,
    probe_ok,
    record_send,
    reload,
)
from tests.ui.helpers import FakeCheck, answer_discard, run

pytestmark = pytest.mark.ui


def closed(dialog: QWidget) -> bool:
    return not shiboken6.isValid(dialog) or not dialog.isVisible()


def card_title(card: QWidget) -> str:
    return next(label.text() for label in card.findChildren(QLabel)
                if label.text().startswith("<b>"))


def show_campaign(window: MainWindow, campaign: Campaign) -> CampaignView:
    window.tabs.setCurrentIndex(1)
    window.campaigns_tab.campaign_view.set_campaign(campaign.id)
    return window.campaigns_tab.campaign_view


# --- Edit servers… --------------------------------------------------------------------------

def test_edit_servers_tests_the_new_port_first_and_keeps_the_account(
        db: Path, make_window: Callable[..., MainWindow], fake_check: FakeCheck,
        qloop: qasync.QEventLoop, settle: Callable[[], None], qtbot: Any) -> None:
    ava = make_account("ava@northwind.example", status="disconnected",
                       reason="request_invalid", imap_port=587)
    campaign = make_campaign("Q4", [ava])
    make_leads(campaign, ava, 3, state="halted")
    window = make_window()
    detail = window.open_account(ava.id)
    dialog = detail.edit_servers()
    assert isinstance(dialog, EditAccountDialog) and dialog.isVisible()
    assert dialog.focusWidget() is dialog.name  # focus starts on the first field
    assert dialog.save_button.isDefault() and dialog.save_button.text() == "Save"

    # A port that still does not connect: nothing is saved, the reason and help are shown.
    fake_check.answers["ava@northwind.example"] = (
        probe_fail("request_invalid", "garbled greeting"), probe_ok())
    dialog.imap.port.setValue(25)
    assert dialog.save_button.text() == "Test && Save"
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    run(qloop, window)
    assert dialog.isVisible() and dialog.error.isVisible()
    assert "Not saved: Request is Invalid" in dialog.error.text.text()
    assert reload(ava).imap_port == 587
    assert fake_check.calls[-1] == ("ava@northwind.example", None)

    # The right port: tested, saved on the same account, re-checked: its leads continue.
    del fake_check.answers["ava@northwind.example"]
    dialog.imap.port.setValue(143)
    qtbot.keyClick(dialog, Qt.Key.Key_Return)  # Enter = the primary action
    run(qloop, window)
    settle()
    assert closed(dialog)
    stored = reload(ava)
    assert (stored.id, stored.imap_port, stored.status) == (ava.id, 143, "connected")
    assert Check.select().where(Check.account == ava, Check.trigger == "edit").count() == 1
    assert lead_states(campaign) == {"pending": 3}


def test_edit_servers_saves_sending_settings_without_a_test_and_esc_cancels(
        db: Path, make_window: Callable[..., MainWindow], fake_check: FakeCheck,
        qloop: qasync.QEventLoop, qtbot: Any) -> None:
    ava = make_account("ava@northwind.example", daily_limit=40)
    window = make_window()
    dialog = window.open_account(ava.id).edit_servers()
    dialog.name.setText("Ava Stone")
    dialog.daily_limit.setValue(25)
    dialog.warmup.setChecked(True)
    dialog.warmup_start.setValue(4)
    dialog.warmup_step.setValue(3)
    assert dialog.save_button.text() == "Save"
    dialog.save_button.click()
    run(qloop, window)
    assert closed(dialog) and fake_check.calls == []  # nothing about the servers: no test
    stored = reload(ava)
    assert (stored.name, stored.daily_limit, stored.warmup_start, stored.warmup_step) == \
        ("Ava Stone", 25, 4, 3)

    again = window.open_account(ava.id).edit_servers()
    again.daily_limit.setValue(1)
    qtbot.keyClick(again, Qt.Key.Key_Escape)
    answer_discard(again, discard=False)  # typed work: asked first, kept
    assert not closed(again) and again.daily_limit.value() == 1
    qtbot.keyClick(again, Qt.Key.Key_Escape)
    answer_discard(again, discard=True)
    assert closed(again) and reload(ava).daily_limit == 25


# --- Edit campaign… -------------------------------------------------------------------------

@pytest.fixture
def broken_campaign(db: Path, clock: FakeClock) -> tuple[Campaign, Account, Account]:
    """A campaign whose only mailbox broke, and a connected mailbox outside it; its alerts
    reconciled (as the app's background loop would)."""
    cleo = make_account("cleo@northwind.example", status="disconnected",
                        reason="invalid_credentials")
    ben = make_account("ben@northwind.example", daily_limit=100)
    campaign = make_campaign("Q4 outreach", [cleo], status="paused",
                             pause_reason="no_active_mailbox")
    make_leads(campaign, cleo, 6, state="halted")
    reconcile(clock.now())
    return campaign, cleo, ben


def test_resume_says_why_and_reallocate_offers_to_add_a_mailbox(
        broken_campaign: tuple[Campaign, Account, Account],
        make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        settle: Callable[[], None], qtbot: Any) -> None:
    campaign, _cleo, ben = broken_campaign
    window = make_window()
    window.show()
    view = show_campaign(window, campaign)
    assert not view.resume_button.isEnabled()
    assert view.resume_reason.isVisible()
    assert "None of this campaign's mailboxes can send" in view.resume_reason.text()
    assert [b.text() for b in view.banners[0].buttons()] == ["Reconnect", "Add a mailbox…"]

    realloc = view.open_reallocate()
    assert isinstance(realloc, ReallocateDialog)
    assert "add and connect a mailbox first" in realloc.error.text()
    assert realloc.add_mailbox_button.isVisible() and not realloc.apply_button.isVisible()
    realloc.add_mailbox_button.click()
    edit = view.edit_dialog
    assert isinstance(edit, EditCampaignDialog) and edit.isVisible()
    assert closed(realloc)
    assert edit.selected_mailboxes() == ["cleo@northwind.example"]
    edit.set_mailboxes(["cleo@northwind.example", "ben@northwind.example"])
    edit.save_button.click()
    settle()
    assert closed(edit)
    assert reload(campaign).status == "active"  # a usable mailbox: it resumed by itself
    assert view.resume_reason.isHidden()

    realloc = view.open_reallocate()
    assert realloc is not None and realloc.apply_button.isVisible()
    assert "6 leads will move" in realloc.summary.text()
    realloc.apply_button.click()
    settle()
    assert {lead.mailbox_id for lead in Lead.select()} == {ben.id}
    assert lead_states(campaign) == {"pending": 6}


def test_edit_campaign_guards_a_sent_steps_text_and_edits_the_rest(
        db: Path, make_window: Callable[..., MainWindow], clock: FakeClock,
        settle: Callable[[], None], qtbot: Any) -> None:
    ava = make_account("ava@northwind.example")
    campaign = make_campaign("Q4 outreach", [ava], steps=3, auto_reallocate_minutes=None)
    ids = make_leads(campaign, ava, 2, cursor=1)
    for lead_id in ids:
        record_send(Lead.get_by_id(lead_id), ava, clock.now(), step=0)
    window = make_window()
    view = show_campaign(window, campaign)
    dialog = view.open_edit()
    assert dialog is not None and dialog.reached == 1
    assert dialog.focusWidget() is dialog.name and dialog.save_button.isDefault()
    assert "sent to 2" in dialog.steps.list.item(0).text()
    dialog.steps.set_current(0)
    assert not dialog.steps.remove_button.isEnabled()  # a sent step keeps its place
    dialog.name.setText("Q4 outreach — EMEA")
    dialog.auto_reallocate.setValue(15)
    dialog.steps.body.setPlainText("A better opener")
    dialog.steps.set_current(2)
    dialog.steps.subject.setText("Last chance")
    dialog.save_button.click()

    box = dialog.findChild(QMessageBox, "confirm")
    assert box is not None and box.isVisible()
    assert "Step 1 was already sent to 2 leads" in box.text()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert reload(campaign).name == "Q4 outreach"  # cancelled: nothing changed

    dialog.save_button.click()
    box = next(b for b in dialog.findChildren(QMessageBox, "confirm") if b.isVisible())
    next(b for b in box.buttons() if b.text() == "Change for future emails").click()
    settle()
    assert closed(dialog)
    stored = reload(campaign)
    assert (stored.name, stored.auto_reallocate_minutes) == ("Q4 outreach — EMEA", 15)
    steps = {s.position: s for s in Step.select().where(Step.campaign == campaign)}
    assert steps[0].body == "A better opener" and steps[2].subject == "Last chance"
    assert view.title.text() == "Q4 outreach — EMEA"


def test_removing_a_mailbox_says_where_its_leads_went_and_reallocate_is_one_click_away(
        db: Path, make_window: Callable[..., MainWindow], clock: FakeClock,
        settle: Callable[[], None]) -> None:
    ava, ben = make_account("ava@northwind.example"), make_account("ben@northwind.example")
    campaign = make_campaign("Q4 outreach", [ava, ben])
    make_leads(campaign, ava, 3, prefix="fresh")
    for lead_id in make_leads(campaign, ava, 2, prefix="emailed", cursor=1):
        record_send(Lead.get_by_id(lead_id), ava, clock.now(), step=0)
    window = make_window()
    view = show_campaign(window, campaign)
    dialog = view.open_edit()
    assert dialog is not None
    dialog.set_mailboxes(["ben@northwind.example"])
    dialog.save_button.click()
    settle()
    # Issue 23: nothing opens unasked; the notice says where the leads went.
    assert view.reallocate_dialog is None
    assert "2 leads wait for a mailbox (Re-allocate… moves them too)" in \
        window.notice.text.text()
    view.reallocate_button.click()
    realloc = view.reallocate_dialog
    assert realloc is not None and realloc.isVisible()
    assert "2 leads that already got an email stay" in realloc.summary.text()
    realloc.include_contacted.setChecked(True)
    realloc.apply_button.click()
    settle()
    assert {lead.mailbox_id for lead in Lead.select()} == {ben.id}


def test_alerts_offer_only_actions_that_can_succeed(
        broken_campaign: tuple[Campaign, Account, Account],
        make_window: Callable[..., MainWindow], clock: FakeClock,
        settle: Callable[[], None]) -> None:
    campaign, cleo, _ben = broken_campaign
    update_status(cleo, "connected", None, "", clock.now())
    update_status(reload(cleo), "disconnected", "invalid_credentials", "535", clock.now())
    reconcile(clock.now())
    window = make_window()
    alerts = window.open_alerts()
    # The paused campaign belongs to its broken mailbox's card: one card, no second one.
    (card,) = alerts.cards
    assert card.card.kind == "mailbox_broken"
    assert Alert.select().where(Alert.resolved_at.is_null()).count() == 1
    assert "is disconnected" in card_title(card)
    assert "“Q4 outreach” is paused: no mailbox can send" in card.body.text()
    assert list(card.action_buttons) == ["reconnect"]
    # No Re-allocate (no mailbox of the campaign could take the leads): Add a mailbox instead.
    assert list(card.campaign_buttons) == [campaign.id]
    add_mailbox = card.campaign_buttons[campaign.id]
    assert add_mailbox.objectName() == "add_mailbox"
    assert add_mailbox.text() == "Add a mailbox…"
    assert not card.findChildren(QPushButton, "reallocate")
    add_mailbox.click()
    settle()
    dialog = window.findChild(EditCampaignDialog)
    assert dialog is not None and dialog.isVisible()


def test_the_reps_time_zone_is_a_setting_defaulting_to_the_computers(
        db: Path, make_window: Callable[..., MainWindow], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    from mailmonitor.models import get_setting

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    dialog = make_window().open_settings()
    assert dialog.time_zone.currentData() is None  # the computer's zone
    assert dialog.time_zone.currentText().startswith("This computer's")
    dialog.time_zone.setCurrentIndex(dialog.time_zone.findData("America/Los_Angeles"))
    dialog.findChild(QWidget, "save").click()
    assert get_setting("time_zone") == "America/Los_Angeles"
    again = make_window().open_settings()
    assert again.time_zone.currentData() == "America/Los_Angeles"
