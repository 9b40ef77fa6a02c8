"""The reconciler (services/alerts/reconciler.py): it stores the conditions that hold and records
each change of one exactly once (AlertChange, what the alert channels hear of). Hand-made
conditions where only the bookkeeping matters; the real state (checks, housekeeping,
maintenance windows) where the words depend on it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import (
    Account,
    Alert,
    AlertChange,
    NotifyChannel,
    get_setting,
)
from mailmonitor.services.alerts.attention import Condition
from mailmonitor.services.alerts.digest import collect_round
from mailmonitor.services.alerts.reconciler import apply, open_conditions, reconcile
from mailmonitor.services.campaigns.stop_warnings import start_stop_warnings
from mailmonitor.services.monitoring import maintenance
from mailmonitor.services.monitoring.account_state import record_check, update_status
from tests.attention_support import changes, conditions
from tests.factories import (
    add_mailbox,
    make_account,
    make_campaign,
    make_lead,
    make_leads,
    probe_fail,
    probe_ok,
    record_send,
    reload,
)

pytestmark = pytest.mark.both_databases

DAY = timedelta(days=1)
BROKEN = Condition(key="broken:invalid_credentials:imap.x.test", kind="mailbox_broken",
                   severity="critical", title="ava@x.test is disconnected: Invalid Credentials",
                   message="Reconnect it with the new password.", mailboxes=("ava@x.test",),
                   action="reconnect")


def told(change: str | None = None) -> list[AlertChange]:
    query = AlertChange.select().order_by(AlertChange.id)
    return [c for c in query if change is None or c.change == change]


def channel(events: list[str] | None = None) -> NotifyChannel:
    """A webhook subscribed to every event (or to `events`), made before anything happened."""
    from mailmonitor.services.alerts.subscriptions import EVENT_NAMES

    return NotifyChannel.create(name="team-hook", kind="webhook", target="https://h.test/x",
                                events=list(events or EVENT_NAMES),
                                created_at=datetime(2020, 1, 1))


def contacted_mailbox(clock: FakeClock, email: str = "ava@x.test") -> Account:
    """A mailbox with one lead it already emailed (a stop would end it for good)."""
    account = make_account(email)
    lead = make_lead(make_campaign("Q4", [account]), "lead@leads.example", account, cursor=1)
    record_send(lead, account, clock.now() - DAY, step=0)
    return account


# --- exactly once ------------------------------------------------------------------------------

def test_opened_changed_reminder_and_resolved_are_each_recorded_once(
        db: Path, clock: FakeClock) -> None:
    start, every = clock.now(), DAY
    assert apply([BROKEN], start, every).opened == [BROKEN.key]
    assert not apply([BROKEN], start + timedelta(minutes=1), every).any
    worse = replace(BROKEN, title="ava@x.test is disconnected: Account Disabled")
    assert apply([worse], start + timedelta(minutes=2), every).changed == [BROKEN.key]
    assert not apply([worse], start + timedelta(minutes=3), every).any
    # A day after the channels last heard of it (the change), once.
    assert not apply([worse], start + DAY + timedelta(minutes=1), every).any
    assert apply([worse], start + DAY + timedelta(minutes=2), every).reminded == [BROKEN.key]
    assert not apply([worse], start + DAY + timedelta(minutes=30), every).any
    assert apply([], start + DAY + timedelta(hours=1), every).resolved == [BROKEN.key]
    assert not apply([], start + DAY + timedelta(hours=2), every).any
    assert [(c.change, c.title) for c in told()] == [
        ("opened", BROKEN.title),
        ("changed", worse.title),
        ("reminder", f"Still needs you: {worse.title}"),
        ("resolved", f"Resolved: {worse.title}")]
    [row] = Alert.select()  # one row for the condition, kept as history
    assert (row.created_at, row.resolved_at) == (start, start + DAY + timedelta(hours=1))


def test_a_repeat_of_the_same_failure_updates_count_and_time_but_tells_nothing(
        db: Path, clock: FakeClock) -> None:
    ava = make_account("ava@x.test")
    record_check(ava, probe_fail("invalid_credentials", "535 5.7.8"), probe_ok(), clock.now(),
                 trigger="confirm")
    [first] = conditions(clock.now())
    opened_at = clock.now()
    for _ in range(3):
        clock.advance(minutes=5)
        record_check(reload(ava), probe_fail("invalid_credentials", "535 5.7.8"), probe_ok(),
                     clock.now())
        conditions(clock.now())
    [row] = open_conditions()
    assert row.id == first.id
    assert (row.count, row.last_seen_at) == (4, clock.now())
    assert row.updated_at == opened_at  # nothing it says changed
    assert [(c.change, c.kind) for c in told()] == [("opened", "mailbox_broken")]


def test_words_that_follow_the_state_are_updated_without_a_change(
        db: Path, clock: FakeClock) -> None:
    apply([BROKEN], clock.now())
    fewer = replace(BROKEN, message="Reconnect it. 3 leads of “Q4” wait at their step.")
    assert not apply([fewer], clock.now() + timedelta(minutes=1)).any
    assert Alert.get().message == fewer.message
    assert len(told()) == 1


def test_two_reconciles_with_nothing_changed_record_nothing(db: Path, clock: FakeClock) -> None:
    ava = contacted_mailbox(clock)
    make_account("ben@x.test", cert_expires_at=clock.now() + timedelta(days=3))
    update_status(ava, "disconnected", "token_expired", "invalid_grant", clock.now())
    assert len(reconcile(clock.now()).opened) == 2  # the first one opens them
    before = [(a.id, a.updated_at, a.count, a.position) for a in Alert.select()]
    recorded = AlertChange.select().count()
    for _ in range(2):
        clock.advance(seconds=30)
        assert not reconcile(clock.now()).any
    assert [(a.id, a.updated_at, a.count, a.position) for a in Alert.select()] == before
    assert AlertChange.select().count() == recorded


# --- what is told, and to whom ------------------------------------------------------------------

def test_a_muted_condition_records_muted_changes_that_the_digest_tells_nobody(
        db: Path, clock: FakeClock) -> None:
    hook = channel()
    ava, ben = make_account("ava@x.test"), make_account("ben@y.test")
    maintenance.add_window(["ava@x.test"], None, False, "2h", clock.now(), note="migration")
    update_status(ava, "disconnected", "invalid_credentials", "535", clock.now())
    [card] = conditions(clock.now())
    assert card.muted
    clock.advance(minutes=30)
    update_status(reload(ava), "connected", None, "", clock.now())
    assert conditions(clock.now()) == []
    assert [(c.change, c.muted) for c in told()] == [("opened", True), ("resolved", True)]
    assert collect_round(clock.now()) == []  # taken, told to nobody
    assert get_setting("notify_change_cursor") == told()[-1].id
    # The channel itself works: a loud change is told.
    update_status(ben, "disconnected", "invalid_credentials", "535", clock.now())
    conditions(clock.now())
    [message] = collect_round(clock.now())
    assert message.channel_id == hook.id
    assert [i["mailboxes"] for i in message.items] == [["ben@y.test"]]


def test_a_stop_warning_no_channel_carries_reached_the_rep_at_once(
        db: Path, clock: FakeClock) -> None:
    ava = contacted_mailbox(clock)
    start = clock.now()
    update_status(ava, "disconnected", "token_expired", "invalid_grant", start)
    conditions(start)
    clock.set(start + timedelta(days=8))
    assert start_stop_warnings(clock.now()) == 1
    [stop] = conditions(clock.now())
    assert stop.kind == "leads_stopping"
    # The window's card is the delivery: the full warning period counts from now.
    assert reload(ava).stop_notice_at == clock.now()


def test_a_stop_warning_a_channel_carries_waits_for_its_delivery(
        db: Path, clock: FakeClock) -> None:
    channel(["leads_stopping"])
    ava = contacted_mailbox(clock)
    start = clock.now()
    update_status(ava, "disconnected", "token_expired", "invalid_grant", start)
    clock.set(start + timedelta(days=8))
    start_stop_warnings(clock.now())
    conditions(clock.now())
    assert reload(ava).stop_notice_at is None
    [message] = collect_round(clock.now())
    assert message.stop_warning_accounts == [ava.id]  # marked when it is delivered


def test_a_mailbox_absorbed_into_its_stop_warning_leaves_quietly(
        db: Path, clock: FakeClock) -> None:
    channel()
    ava = contacted_mailbox(clock)
    start = clock.now()
    update_status(ava, "disconnected", "token_expired", "invalid_grant", start)
    [broken] = conditions(start)
    collect_round(start)
    clock.set(start + timedelta(days=8))
    start_stop_warnings(clock.now())
    [stop] = conditions(clock.now())
    assert (stop.kind, stop.mailboxes) == ("leads_stopping", ["ava@x.test"])
    [gone] = [c for c in told("resolved")]
    assert (gone.alert_id, gone.muted, gone.title) == (
        broken.id, True, f"Now part of another alert: {broken.title}")
    [message] = collect_round(clock.now())
    assert [(i["kind"], i["change"]) for i in message.items] == [("leads_stopping", "opened")]


def test_a_reconnect_is_told_even_while_another_card_names_the_mailbox(
        db: Path, clock: FakeClock) -> None:
    # The certificate card still names it: that is no reason to keep "connected again" quiet.
    ava = make_account("ava@x.test", cert_expires_at=clock.now() + timedelta(days=5))
    update_status(ava, "disconnected", "invalid_credentials", "535", clock.now())
    assert sorted(c.kind for c in conditions(clock.now())) == [
        "certificate_expiring", "mailbox_broken"]
    clock.advance(minutes=20)
    update_status(reload(ava), "connected", None, "", clock.now())
    assert [c.kind for c in conditions(clock.now())] == ["certificate_expiring"]
    [back] = told("resolved")
    assert (back.event, back.muted, back.title) == (
        "reconnected", False, "ava@x.test is connected again")


def test_a_reminder_counts_from_when_the_channels_last_heard_not_from_the_cause(
        db: Path, clock: FakeClock) -> None:
    # A card whose cause began a week ago opens now: the channels just heard of it.
    old_cause = replace(BROKEN, since=clock.now() - timedelta(days=7))
    apply([old_cause], clock.now(), DAY)
    assert not apply([old_cause], clock.now() + timedelta(hours=1), DAY).any
    assert apply([old_cause], clock.now() + DAY, DAY).reminded == [BROKEN.key]
    assert Alert.get().created_at == clock.now() - timedelta(days=7)  # "since" for the list


def test_muted_conditions_get_no_reminder(db: Path, clock: FakeClock) -> None:
    quiet = replace(BROKEN, muted=True)
    apply([quiet], clock.now(), DAY)
    assert not apply([quiet], clock.now() + 3 * DAY, DAY).any
    assert changes() == [("opened", "mailbox_broken")]


def test_a_card_that_comes_back_from_the_stop_warning_is_not_told_again(
        db: Path, clock: FakeClock) -> None:
    from mailmonitor.services.campaigns.lifecycle import apply_long_wait

    ava = contacted_mailbox(clock)
    start = clock.now()
    update_status(ava, "disconnected", "token_expired", "invalid_grant", start)
    conditions(start)
    clock.set(start + timedelta(days=8))
    start_stop_warnings(clock.now())
    conditions(clock.now())
    clock.set(start + timedelta(days=9))
    assert apply_long_wait(clock.now()) == 1
    [broken] = conditions(clock.now())  # still broken: its card is back, in the window
    assert broken.kind == "mailbox_broken"
    loud = [(c.change, c.kind) for c in told() if not c.muted]
    assert loud == [("opened", "mailbox_broken"), ("opened", "leads_stopping"),
                    ("resolved", "leads_stopping")]  # the stop is told; the card was known
    # A new disconnection later is news again.
    update_status(reload(ava), "connected", None, "", clock.now())
    conditions(clock.now())
    clock.advance(days=1)
    update_status(reload(ava), "disconnected", "token_expired", "invalid_grant", clock.now())
    conditions(clock.now())
    assert [(c.change, c.muted) for c in told()][-1] == ("opened", False)


def test_the_channels_count_the_leads_waiting_for_every_mailbox_of_a_card(
        db: Path, clock: FakeClock) -> None:
    channel(["disconnected"])
    campaign = make_campaign("Q4", [])
    for name, leads in (("ava", 2), ("ben", 3)):
        account = make_account(f"{name}@x.test")
        add_mailbox(campaign, account)
        make_leads(campaign, account, leads, prefix=name)
        update_status(account, "disconnected", "invalid_credentials", "535", clock.now())
    [card] = conditions(clock.now())
    assert card.mailboxes == ["ava@x.test", "ben@x.test"]
    [message] = collect_round(clock.now())
    [item] = message.items
    assert (item["mailboxes"], item["leads_waiting"]) == (["ava@x.test", "ben@x.test"], 5)
