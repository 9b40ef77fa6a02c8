"""The alerts dialog: every open alert with its action; resolved alerts leave by themselves;
the toolbar badge counts them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Alert, Campaign
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.ui.alert_card import AlertCard
from mailmonitor.ui.main_window import MainWindow
from tests.factories import make_account, make_campaign, make_leads, reload

pytestmark = pytest.mark.ui


@pytest.fixture
def broken(db: Path, clock: FakeClock) -> tuple[Account, Account, Campaign]:
    ava = make_account("ava@northwind.example")
    cleo = make_account("cleo@northwind.example")
    campaign = make_campaign("Q4 outreach", [ava, cleo])
    make_leads(campaign, cleo, 6)
    update_status(cleo, "disconnected", "invalid_credentials", "535 5.7.8", clock.now())
    return ava, reload(cleo), campaign


def shown_titles(window: MainWindow) -> list[str]:
    assert window.alerts_dialog is not None
    return [c.group.title for c in window.alerts_dialog.cards]


def card_for(window: MainWindow, kind: str) -> AlertCard:
    """The card that shows an alert of this kind."""
    assert window.alerts_dialog is not None
    keys = {a.key for a in Alert.select().where((Alert.kind == kind)
                                                & Alert.resolved_at.is_null())}
    return next(c for c in window.alerts_dialog.cards if keys & set(c.group.alert_keys))


def test_lists_open_alerts_with_their_actions(
        broken: tuple[Account, Account, Campaign], make_window: Callable[..., MainWindow]
) -> None:
    window = make_window()
    assert window.alerts_action.text() == "Alerts (1)"  # two alerts, one card
    dialog = window.open_alerts()
    # Two alerts, one cause: one card for the mailbox, its campaign nested.
    assert dialog.header.text() == "1 thing needs you"
    assert shown_titles(window) == ["cleo@northwind.example is disconnected: Invalid Credentials"]
    card = dialog.cards[0]
    assert card.campaign_labels[0].text() == "• “Q4 outreach”: 6 leads wait at their step"
    assert list(card.action_buttons) == ["reconnect", "dismiss"]
    assert list(card.campaign_buttons) == [broken[2].id]  # Re-allocate… on the campaign line
    # Plain words in the body; the server's own answer only under Details.
    assert "The server rejected the username or password." in card.body.text()
    assert "535" not in card.text()
    assert card.details.isVisibleTo(dialog) and card.details.body.text() == "535 5.7.8"


def test_actions_open_the_wizard_and_the_reallocate_dialog(
        broken: tuple[Account, Account, Campaign], make_window: Callable[..., MainWindow]
) -> None:
    _ava, cleo, campaign = broken
    window = make_window()
    window.open_alerts()
    card_for(window, "account_disconnected").action_buttons["reconnect"].click()
    wizard = window.wizards[cleo.id]
    assert wizard.stack.currentWidget() is wizard.connection_page
    wizard.reject()

    card_for(window, "leads_halted").campaign_buttons[campaign.id].click()
    assert window.reallocate_dialog is not None
    assert window.reallocate_dialog.campaign_id == campaign.id
    assert window.reallocate_dialog.isVisible()


def test_dismiss_resolves_the_alert(
        broken: tuple[Account, Account, Campaign], make_window: Callable[..., MainWindow],
        settle: Callable[[], None], qtbot: Any) -> None:
    window = make_window()
    window.open_alerts()
    card_for(window, "leads_halted").action_buttons["dismiss"].click()
    settle()
    assert Alert.select().where(Alert.resolved_at.is_null()).count() == 0  # the whole card
    assert shown_titles(window) == []
    qtbot.waitUntil(lambda: window.alerts_action.text() == "Alerts", timeout=1000)


def test_resolved_alerts_disappear_by_themselves(
        broken: tuple[Account, Account, Campaign], make_window: Callable[..., MainWindow],
        clock: FakeClock, settle: Callable[[], None], qtbot: Any) -> None:
    _ava, cleo, _campaign = broken
    window = make_window()
    dialog = window.open_alerts()
    lifecycle.reconnected(cleo, clock.now())
    settle()
    # Only the informational "connected again" note is left, with nothing to act on.
    assert shown_titles(window) == ["cleo@northwind.example is connected again"]
    assert list(card_for(window, "reconnected").action_buttons) == ["dismiss"]
    assert dialog.isVisible()
    qtbot.waitUntil(lambda: window.alerts_action.text() == "Alerts (1)", timeout=1000)


def test_emails_that_may_not_have_gone_out_are_settled_from_their_alert(
        db: Path, clock: FakeClock, make_window: Callable[..., MainWindow],
        settle: Callable[[], None]) -> None:
    from mailmonitor.models import Lead, SendRecord
    from mailmonitor.services.sending import sendlog
    from mailmonitor.services.sending.reconcile import alert_unknown
    from tests.factories import make_lead

    ava = make_account("ava@northwind.example")
    campaign = make_campaign("Q4 outreach", [ava])
    lead = make_lead(campaign, "lead@x.example", ava)
    record = sendlog.start_attempt(lead, 0, ava, "<maybe@x>", "Hi", clock.now())
    sendlog.mark_sent(record, clock.now(), state="unknown")
    alert_unknown(ava, clock.now())
    window = make_window()
    window.open_alerts()
    card = card_for(window, "send_unknown")
    assert list(card.action_buttons) == ["went_out", "send_again", "dismiss"]
    card.action_buttons["send_again"].click()
    settle()
    assert SendRecord.get_by_id(record.id).state == "failed"
    assert (Lead.get_by_id(lead.id).cursor, Lead.get_by_id(lead.id).state) == (0, "pending")
    assert shown_titles(window) == []


def test_three_broken_mailboxes_are_three_cards_by_severity_and_dismiss_does_not_jump(
        db: Path, clock: FakeClock, make_window: Callable[..., MainWindow],
        settle: Callable[[], None], qapp: Any) -> None:
    """The issue's report: 8 cards for 3 broken mailboxes, root causes last, raw server text in
    the body, a "paused" card without Reconnect, the list jumping after Dismiss."""
    ava = make_account("ava@northwind.example")
    ben = make_account("ben@northwind.example")
    cleo = make_account("cleo@northwind.example")
    solo = make_campaign("Enterprise follow-up", [ava])
    shared = make_campaign("Q4 outreach", [ava, ben])
    spring = make_campaign("Spring launch", [cleo])
    make_leads(solo, ava, 3)
    make_leads(shared, ava, 4, prefix="q4a")
    make_leads(shared, ben, 2, prefix="q4b")
    make_leads(spring, cleo, 5, prefix="sp")
    update_status(ben, "warning", "timeout", "No answer from imap.x within 20 s", clock.now())
    clock.advance(minutes=1)
    update_status(ava, "disconnected", "invalid_credentials",
                  "NO [ALERT] Invalid credentials (Failure)", clock.now())
    clock.advance(minutes=1)
    update_status(cleo, "disconnected", "app_password_required",
                  "534-5.7.9 Application-specific password required", clock.now())
    assert Alert.select().where(Alert.resolved_at.is_null()).count() >= 6
    window = make_window()
    dialog = window.open_alerts()
    titles = shown_titles(window)
    assert titles == [
        "cleo@northwind.example is disconnected: App Password Required",
        "ava@northwind.example is disconnected: Invalid Credentials",
    ]  # ben only retries: no alert, nothing for the rep to do
    ava_card = dialog.cards[1]
    assert [label.text() for label in ava_card.campaign_labels] == [
        "• “Enterprise follow-up”: paused: no mailbox can send; 3 leads wait at their step",
        "• “Q4 outreach”: 4 leads wait at their step",
    ]
    assert "reconnect" in ava_card.action_buttons  # the paused campaign's card can reconnect
    for card in dialog.cards:
        assert "[ALERT]" not in card.text() and "534-5.7.9" not in card.text()
    assert ava_card.details.body.text() == "NO [ALERT] Invalid credentials (Failure)"

    first = dialog.cards[0]
    y_of_second = ava_card.y()
    ava_card.action_buttons["dismiss"].click()
    settle()
    assert [c.group.title for c in dialog.cards] == [titles[0]]
    assert dialog.cards[0] is first  # the card that stays is the same widget, in place
    assert first.y() <= y_of_second
