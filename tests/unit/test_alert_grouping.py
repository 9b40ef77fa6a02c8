"""The alerts list without Qt: one group per broken mailbox with its campaigns nested, most
severe first; plain words in the body, the raw server answer apart."""

from __future__ import annotations

from pathlib import Path

from mailmonitor.clock import FakeClock
from mailmonitor.services.alerts import registry
from mailmonitor.services.alerts.grouping import group_alerts
from mailmonitor.services.monitoring.account_state import update_status
from tests.factories import make_account, make_campaign, make_leads


def test_one_group_per_broken_mailbox_with_its_campaigns(db: Path, clock: FakeClock) -> None:
    ava = make_account("ava@x.test")
    solo = make_campaign("Solo", [ava])
    make_leads(solo, ava, 2)
    update_status(ava, "disconnected", "token_expired", "invalid_grant: Token has been expired",
                  clock.now())
    (group,) = group_alerts(registry.open_alerts())
    assert group.title == "ava@x.test is disconnected: Token Expired"
    assert group.body.startswith("The sign-in has expired or was revoked at the provider.")
    assert group.details == "invalid_grant: Token has been expired"
    assert [line.text for line in group.campaigns] == [
        "“Solo”: paused: no mailbox can send; 2 leads wait at their step"]
    assert group.actions == ["reconnect", "dismiss"] and group.targets == {"reconnect": ava.id}
    # Its only mailbox is the broken one: re-allocating could only refuse (`actions_for`).
    assert group.reallocate == [] and group.campaign_actions == {solo.id: "add_mailbox"}
    assert len(group.alert_keys) == 3  # disconnected, paused, halted: one card


def test_a_note_and_a_campaign_alone_keep_their_own_groups_sorted_by_severity(
        db: Path, clock: FakeClock) -> None:
    ben = make_account("ben@x.test")
    campaign = make_campaign("Lonely", [ben])
    registry.raise_alert(registry.account_key(ben, "reconnected"), "reconnected",
                         "ben@x.test is connected again", "3 waiting leads continue.",
                         clock.now(), severity="info", account=ben)
    clock.advance(minutes=1)
    registry.raise_alert(registry.campaign_key(campaign, "other"), "campaign_note",
                         "“Lonely” needs a look", "Something about the campaign.", clock.now(),
                         severity="warning", campaign=campaign)
    groups = group_alerts(registry.open_alerts())
    assert [(g.key, g.severity) for g in groups] == [
        (f"campaign:{campaign.id}", "warning"), (f"account:{ben.id}", "info")]
    assert groups[1].actions == ["dismiss"]  # a connected mailbox: nothing to reconnect
