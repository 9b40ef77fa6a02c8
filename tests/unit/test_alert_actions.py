"""Which buttons an alert offers (issue 11): only actions that can succeed now. No Qt."""

from __future__ import annotations

from pathlib import Path

from mailmonitor.clock import FakeClock
from mailmonitor.models import Alert
from mailmonitor.services.alerts.actions import actions_for
from mailmonitor.services.monitoring.account_state import update_status
from tests.factories import make_account, make_campaign, make_leads, reload


def offered(alert: Alert) -> list[tuple[str, int, bool]]:
    return [(a.name, a.target_id, a.primary) for a in actions_for(alert)]


def alert_of(kind: str) -> Alert:
    return Alert.get(Alert.kind == kind, Alert.resolved_at.is_null())


def test_a_campaign_paused_by_its_only_mailbox_offers_reconnect_and_add_a_mailbox(
        db: Path, clock: FakeClock) -> None:
    cleo = make_account("cleo@example.com")
    campaign = make_campaign("Q4", [cleo])
    make_leads(campaign, cleo, 3)
    update_status(cleo, "disconnected", "invalid_credentials", "535", clock.now())
    assert offered(alert_of("campaign_paused")) == [("reconnect", cleo.id, True),
                                                     ("add_mailbox", campaign.id, False)]
    assert offered(alert_of("leads_halted")) == [("reconnect", cleo.id, True),
                                                  ("add_mailbox", campaign.id, False)]
    assert offered(alert_of("account_disconnected")) == [("reconnect", cleo.id, True)]


def test_with_a_connected_mailbox_left_reallocate_is_offered_instead(db: Path,
                                                                      clock: FakeClock) -> None:
    ava, cleo = make_account("ava@example.com"), make_account("cleo@example.com")
    campaign = make_campaign("Q4", [ava, cleo])
    make_leads(campaign, cleo, 3)
    update_status(cleo, "disconnected", "invalid_credentials", "535", clock.now())
    assert offered(alert_of("leads_halted")) == [("reconnect", cleo.id, True),
                                                  ("reallocate", campaign.id, False)]


def test_once_the_mailbox_is_back_reconnect_is_no_longer_offered(db: Path,
                                                                  clock: FakeClock) -> None:
    cleo = make_account("cleo@example.com")
    campaign = make_campaign("Q4", [cleo])
    make_leads(campaign, cleo, 1)
    update_status(cleo, "disconnected", "invalid_credentials", "535", clock.now())
    paused = alert_of("campaign_paused")
    update_status(reload(cleo), "connected", None, "", clock.now())
    # (the alert resolves itself; were it still shown, Reconnect would be pointless)
    assert [a.name for a in actions_for(paused)] == ["reallocate"]
