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
from mailmonitor.ui.alerts import AlertCard
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
    return sorted(Alert.get_by_id(c.alert_id).title for c in window.alerts_dialog.cards)


def card_for(window: MainWindow, kind: str) -> AlertCard:
    assert window.alerts_dialog is not None
    return next(c for c in window.alerts_dialog.cards
                if Alert.get_by_id(c.alert_id).kind == kind)


def test_lists_open_alerts_with_their_actions(
        broken: tuple[Account, Account, Campaign], make_window: Callable[..., MainWindow]
) -> None:
    window = make_window()
    assert window.alerts_action.text() == "Alerts (2)"
    dialog = window.open_alerts()
    assert dialog.header.text() == "2 open alerts"
    assert shown_titles(window) == [
        "6 leads of “Q4 outreach” are waiting for cleo@northwind.example",
        "cleo@northwind.example is disconnected: Invalid Credentials",
    ]
    assert list(card_for(window, "account_disconnected").action_buttons) == ["reconnect", "dismiss"]
    assert list(card_for(window, "leads_halted").action_buttons) == [
        "reconnect", "reallocate", "dismiss"]


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

    card_for(window, "leads_halted").action_buttons["reallocate"].click()
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
    assert Alert.select().where(Alert.resolved_at.is_null()).count() == 1
    assert shown_titles(window) == ["cleo@northwind.example is disconnected: Invalid Credentials"]
    qtbot.waitUntil(lambda: window.alerts_action.text() == "Alerts (1)", timeout=1000)


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
