"""Spec §4.5–§4.6 and §5: reconnecting, two-step disconnect and its grace period, reminders, the
long wait, removing an account and automatic re-allocation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import (
    Account,
    Alert,
    AlertChange,
    Campaign,
    CampaignMailbox,
    Check,
    Lead,
    SendRecord,
    set_setting,
)
from mailmonitor.models.account import (
    DEFAULT_CHECK_INTERVAL_SECONDS,
    DEFAULT_DAILY_LIMIT,
    DEFAULT_MIN_GAP_SECONDS,
)
from mailmonitor.models.campaign import PAUSE_NO_MAILBOX, PAUSE_USER
from mailmonitor.services.alerts.warnings import rep_time
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.campaigns.reallocation import reallocate
from mailmonitor.services.monitoring.account_state import record_check, update_status
from tests.attention_support import changes, conditions, kinds
from tests.factories import (
    add_mailbox,
    lead_states,
    make_account,
    make_campaign,
    make_lead,
    make_leads,
    probe_fail,
    probe_ok,
    record_send,
    reload,
)

pytestmark = pytest.mark.both_databases  # model and campaign rules: SQLite and PostgreSQL


@dataclass
class World:
    """A (the mailbox under test) sends for Main (with B) and for Solo (alone).

    Main: A has 5 new leads, 3 it already emailed (SendRecords from A), 1 that replied, and 1
    that B emailed before it was moved to A; B has 4 new leads. Solo: A has 2 new leads and 1 it
    emailed."""

    a: Account
    b: Account
    main: Campaign
    solo: Campaign
    a_new: list[int]
    a_emailed: list[int]
    a_replied: int
    a_from_b: int
    b_new: list[int]
    solo_new: list[int]
    solo_emailed: int


@pytest.fixture
def world(db: Path, clock: FakeClock) -> World:
    a = make_account(
        "a@example.com", name="Alice Seller", signature="-- Alice, Acme", daily_limit=80,
        min_gap_seconds=240, warmup_start=10, warmup_step=5,
        warmup_started_on=date(2026, 11, 1), check_interval_seconds=120,
    )
    b = make_account("b@example.com")
    main = make_campaign("Main", [a, b])
    solo = make_campaign("Solo", [a])
    earlier = clock.now() - timedelta(days=2)
    a_new = make_leads(main, a, 5, prefix="a-new")
    a_emailed = make_leads(main, a, 3, prefix="a-mail", cursor=1,
                           next_due_at=clock.now() + timedelta(days=1))
    for lead_id in a_emailed:
        record_send(Lead.get_by_id(lead_id), a, earlier, step=0)
    replied = make_lead(main, "replied@leads.example", a, cursor=1, state="replied")
    record_send(replied, a, earlier, step=0)
    from_b = make_lead(main, "from-b@leads.example", a, cursor=1)
    record_send(from_b, b, earlier, step=0)
    record_send(from_b, a, earlier, step=1, state="failed")  # a failed send is no contact
    b_new = make_leads(main, b, 4, prefix="b-new")
    solo_new = make_leads(solo, a, 2, prefix="solo-new")
    solo_emailed = make_lead(solo, "solo-mail@leads.example", a, cursor=2)
    record_send(solo_emailed, a, earlier, step=0)
    record_send(solo_emailed, a, earlier, step=1)
    return World(a, b, main, solo, a_new, a_emailed, replied.id, from_b.id, b_new, solo_new,
                 solo_emailed.id)


def leads_snapshot() -> dict[int, tuple[int | None, int, str]]:
    return {lead.id: (lead.mailbox_id, lead.cursor, lead.state) for lead in Lead.select()}


def told(change: str, kind: str) -> list[AlertChange]:
    """The recorded changes of this kind, as the alert channels hear of them."""
    return list(AlertChange.select().where((AlertChange.change == change)
                                           & (AlertChange.kind == kind)).order_by(AlertChange.id))


def memberships(account: Account) -> dict[str, bool]:
    return {
        link.campaign.name: link.active
        for link in CampaignMailbox.select().where(CampaignMailbox.account == account)
    }


def states_of(ids: list[int]) -> set[tuple[int | None, str]]:
    return {(lead.mailbox_id, lead.state) for lead in Lead.select().where(Lead.id.in_(ids))}


def settings_of(account: Account) -> tuple[object, ...]:
    acc = reload(account)
    return (acc.name, acc.signature, acc.daily_limit, acc.min_gap_seconds, acc.warmup_start,
            acc.warmup_step, acc.warmup_started_on, acc.check_interval_seconds)


class TestOneClickReconnect:
    def test_everything_is_kept(self, world: World, clock: FakeClock) -> None:
        a = world.a
        settings, before = settings_of(a), leads_snapshot()
        record_check(a, probe_fail("invalid_credentials"), probe_ok(), clock.now())
        assert lead_states(world.solo) == {"halted": 3}
        assert reload(world.solo).status == "paused"
        assert kinds(clock.now()) == ["mailbox_broken"]  # Solo's pause is on a's card
        clock.advance(hours=3)
        lifecycle.reconnected(reload(a), clock.now(), detail="signed in again")
        acc = reload(a)
        assert (acc.status, acc.reason, acc.consecutive_failures) == ("connected", None, 0)
        assert acc.next_check_at == clock.now() + timedelta(seconds=120)
        assert settings_of(a) == settings
        assert memberships(a) == {"Main": True, "Solo": True}
        assert leads_snapshot() == before
        assert reload(world.solo).status == "active"
        assert conditions(clock.now()) == []  # nothing needs the rep; no card to dismiss
        [back] = told("resolved", "mailbox_broken")
        assert (back.event, back.title, back.message) == (
            "reconnected", "a@example.com is connected again",
            "12 leads continue where they left off.")


class TestTwoStepDisconnect:
    def test_disconnect_detaches_halts_and_starts_the_grace_period(
            self, world: World, clock: FakeClock) -> None:
        a = world.a
        assert lifecycle.disconnect(a, clock.now()) == 12
        acc = reload(a)
        assert (acc.status, acc.reason) == ("stopped", None)
        assert acc.detached_at == clock.now()
        assert acc.grace_until == clock.now() + timedelta(hours=1)
        assert acc.next_check_at is None
        assert memberships(a) == {"Main": False, "Solo": False}
        assert states_of(world.a_new + world.a_emailed + [world.a_from_b]) == {(a.id, "halted")}
        assert states_of([world.a_replied]) == {(a.id, "replied")}
        assert states_of(world.b_new) == {(world.b.id, "pending")}
        assert reload(world.main).status == "active"  # B still sends
        solo = reload(world.solo)
        assert (solo.status, solo.pause_reason) == ("paused", PAUSE_NO_MAILBOX)
        # The grace period (1 hour) is shorter than the stop's warning period (24 hours): the
        # rep is warned at once that the 4 leads A emailed are stopped when it ends. That card
        # names A (the grace card would say less), and Solo's pause is explained by it.
        deadline = clock.now() + timedelta(hours=1)
        [stop] = conditions(clock.now())
        assert (stop.kind, stop.severity, stop.mailboxes, stop.deadline, stop.action) == (
            "leads_stopping", "critical", [a.email], deadline, "reconnect")
        assert stop.title == \
            f"Leads of a@example.com will be stopped at {rep_time(deadline)} unless you reconnect"
        assert stop.message.startswith("4 leads already received email from this mailbox "
                                       "(its grace period ends)")
        # No channel carries it: the window's card is the delivery, and the stop may come.
        assert reload(a).stop_notice_at == clock.now()

    def test_a_disconnect_with_nothing_at_risk_says_how_long_the_leads_wait(
            self, db: Path, clock: FakeClock) -> None:
        fresh = make_account("fresh@example.com")
        make_leads(make_campaign("New", [fresh]), fresh, 3)
        lifecycle.disconnect(fresh, clock.now())
        deadline = clock.now() + timedelta(hours=1)
        [grace] = conditions(clock.now())
        assert (grace.kind, grace.severity, grace.mailboxes, grace.deadline) == (
            "grace_ending", "critical", [fresh.email], deadline)
        assert grace.title == \
            f"Connect fresh@example.com again before {rep_time(deadline)} to keep its leads"
        assert "gets its 3 leads back" in grace.message

    def test_reconnect_within_grace_gets_leads_back_with_fresh_settings(
            self, world: World, clock: FakeClock) -> None:
        a = world.a
        before = leads_snapshot()
        lifecycle.disconnect(a, clock.now())
        assert kinds(clock.now()) == ["leads_stopping"]
        clock.advance(minutes=59)
        assert lifecycle.expire_grace_periods(clock.now()) == 0
        lifecycle.reconnected(reload(a), clock.now())
        acc = reload(a)
        assert (acc.status, acc.detached_at, acc.grace_until, acc.grace_expired) == (
            "connected", None, None, False)
        assert memberships(a) == {"Main": True, "Solo": True}
        assert leads_snapshot() == before  # back on A, resumed at their cursor
        assert (acc.daily_limit, acc.min_gap_seconds, acc.check_interval_seconds) == (
            DEFAULT_DAILY_LIMIT, DEFAULT_MIN_GAP_SECONDS, DEFAULT_CHECK_INTERVAL_SECONDS)
        assert (acc.warmup_start, acc.warmup_step, acc.warmup_started_on, acc.signature) == (
            None, None, None, "")
        assert acc.email == "a@example.com"
        assert reload(world.solo).status == "active"
        assert conditions(clock.now()) == []
        assert [c.event for c in told("resolved", "leads_stopping")] == ["reconnected"]
        # Later housekeeping has nothing to expire.
        clock.advance(hours=2)
        assert lifecycle.expire_grace_periods(clock.now()) == 0
        assert leads_snapshot() == before

    def test_after_grace_emailed_leads_stop_and_the_others_move(
            self, world: World, clock: FakeClock) -> None:
        a, b = world.a, world.b
        lifecycle.disconnect(a, clock.now())
        conditions(clock.now())  # the background loop: the stop warning reaches the rep
        clock.advance(minutes=61)
        assert lifecycle.expire_grace_periods(clock.now()) == 1
        assert reload(a).grace_expired is True
        # Exactly the leads with a SendRecord from A are stopped.
        stopped = {lead.id for lead in Lead.select().where(Lead.state == "campaign_stopped")}
        assert stopped == {*world.a_emailed, world.solo_emailed}
        assert states_of([world.a_replied]) == {(a.id, "replied")}
        # Main's new leads go to B; Solo has no other mailbox: its leads wait unassigned.
        assert states_of(world.a_new) == {(b.id, "pending")}
        assert states_of(world.solo_new) == {(None, "unassigned")}
        # Contacted by B, not by A: not stopped; it keeps no mailbox and waits for the rep.
        assert states_of([world.a_from_b]) == {(None, "unassigned")}
        assert states_of(world.b_new) == {(b.id, "pending")}
        # The warning is over and the channels hear what was done (no card stays for it); what
        # needs the rep now are the leads that wait for a mailbox.
        cards = conditions(clock.now())
        [done] = told("resolved", "leads_stopping")
        assert (done.event, done.muted, done.title) == (
            "leads_stopping", False, "Leads of a@example.com were stopped")
        assert done.message.startswith("4 leads it had emailed are set to Campaign Stopped")
        assert [(c.kind, c.campaigns, c.action) for c in cards] == [
            ("campaign_paused", ["Solo"], "add_mailbox"),
            ("leads_unassigned", ["Main"], "reallocate"),
            ("leads_unassigned", ["Solo"], "add_mailbox")]
        # Running housekeeping again changes nothing.
        snapshot = leads_snapshot()
        assert lifecycle.expire_grace_periods(clock.now() + timedelta(hours=1)) == 0
        assert leads_snapshot() == snapshot

    def test_grace_expiry_leaves_other_broken_mailboxes_leads_alone(
            self, world: World, clock: FakeClock) -> None:
        c = make_account("c@example.com")
        add_mailbox(world.main, c)
        c_new = make_leads(world.main, c, 3, prefix="c-new")
        update_status(c, "disconnected", "token_expired", "invalid_grant", clock.now())
        lifecycle.disconnect(world.a, clock.now())
        conditions(clock.now())
        clock.advance(hours=2)
        lifecycle.expire_grace_periods(clock.now())
        assert states_of(world.a_new) == {(world.b.id, "pending")}
        assert states_of(c_new) == {(c.id, "halted")}  # C may still be reconnected in one click
        [broken] = conditions(clock.now(), "mailbox_broken")
        assert (broken.mailboxes, broken.campaigns) == ([c.email], ["Main"])
        assert "3 leads of “Main” wait at their step." in broken.message

    def test_campaign_stopped_is_irreversible(self, world: World, clock: FakeClock) -> None:
        a = world.a
        lifecycle.disconnect(a, clock.now())
        conditions(clock.now())
        clock.advance(hours=2)
        lifecycle.expire_grace_periods(clock.now())
        stopped = states_of([*world.a_emailed, world.solo_emailed])
        clock.advance(days=1)
        lifecycle.reconnected(reload(a), clock.now())
        reallocate(reload(world.main), clock.now(), include_contacted=True)
        assert states_of([*world.a_emailed, world.solo_emailed]) == stopped
        assert {s for _, s in stopped} == {"campaign_stopped"}
        # The address came back after the grace: it is not put back into the campaigns (the
        # suspended memberships ended with the grace period).
        assert memberships(a) == {}
        assert reload(a).status == "connected"

    def test_reconnect_after_grace_before_housekeeping_applies_the_expiry(
            self, world: World, clock: FakeClock) -> None:
        a = world.a
        lifecycle.disconnect(a, clock.now())
        conditions(clock.now())  # the stop warning reached the rep an hour before the end
        clock.advance(hours=3)
        lifecycle.reconnected(reload(a), clock.now())
        assert {lead.id for lead in Lead.select().where(Lead.state == "campaign_stopped")} == {
            *world.a_emailed, world.solo_emailed}
        assert memberships(a) == {}
        assert states_of(world.a_new) == {(world.b.id, "pending")}

    def test_grace_period_comes_from_settings(self, world: World, clock: FakeClock) -> None:
        set_setting("grace_period_minutes", 15)
        lifecycle.disconnect(world.a, clock.now())
        assert [c.deadline for c in conditions(clock.now())] == [
            clock.now() + timedelta(minutes=15)]
        clock.advance(minutes=16)
        assert lifecycle.expire_grace_periods(clock.now()) == 1


class TestReminders:
    """Issue 25: the channels are reminded every `reminder_hours` (24) while a mailbox stays
    broken (AlertChange "reminder"), in place of reminders 1, 3, 7 and 8 days after."""

    def test_reminded_once_a_day_while_it_stays_broken(
            self, world: World, clock: FakeClock) -> None:
        a = world.a
        start = clock.now()
        update_status(a, "disconnected", "token_expired", "invalid_grant", start)
        reminded = []
        for hours in range(0, 4 * 24 + 12, 3):  # reconciled every 3 hours for 4.5 days
            clock.set(start + timedelta(hours=hours))
            before = len(told("reminder", "mailbox_broken"))
            assert kinds(clock.now()) == ["mailbox_broken"]
            if len(told("reminder", "mailbox_broken")) > before:
                reminded.append(hours)
        assert reminded == [24, 48, 72, 96]
        reminders = told("reminder", "mailbox_broken")
        [card] = conditions(clock.now())
        assert {r.title for r in reminders} == {f"Still needs you: {card.title}"}
        assert {r.alert_id for r in reminders} == {card.id}  # one card throughout
        assert changes() == [("opened", "mailbox_broken")] + [("reminder", "mailbox_broken")] * 4

    def test_a_long_sleep_sends_one_reminder_not_a_burst(
            self, world: World, clock: FakeClock) -> None:
        update_status(world.a, "disconnected", "token_expired", "", clock.now())
        conditions(clock.now())
        clock.advance(days=4)
        conditions(clock.now())
        conditions(clock.now())
        assert len(told("reminder", "mailbox_broken")) == 1
        clock.advance(hours=23)
        conditions(clock.now())
        assert len(told("reminder", "mailbox_broken")) == 1  # the next one a day after it

    def test_the_interval_comes_from_settings_and_zero_turns_them_off(
            self, world: World, clock: FakeClock) -> None:
        set_setting("reminder_hours", 6)
        update_status(world.a, "disconnected", "token_expired", "", clock.now())
        conditions(clock.now())
        clock.advance(hours=6)
        conditions(clock.now())
        assert len(told("reminder", "mailbox_broken")) == 1
        set_setting("reminder_hours", 0)
        clock.advance(days=2)
        conditions(clock.now())
        assert len(told("reminder", "mailbox_broken")) == 1

    def test_reconnecting_ends_the_reminders(self, world: World, clock: FakeClock) -> None:
        update_status(world.a, "disconnected", "token_expired", "", clock.now())
        conditions(clock.now())
        clock.advance(days=1)
        conditions(clock.now())
        lifecycle.reconnected(reload(world.a), clock.now())
        assert conditions(clock.now()) == []
        clock.advance(days=3)
        assert conditions(clock.now()) == []
        assert changes() == [("opened", "mailbox_broken"), ("reminder", "mailbox_broken"),
                             ("resolved", "mailbox_broken")]

    def test_the_stop_warning_is_not_chased_by_a_reminder(
            self, world: World, clock: FakeClock) -> None:
        # Its card opens 8 days into the disconnection: the channels just heard of it, the next
        # reminder is a day later (the stop comes first here).
        start = clock.now()
        update_status(world.a, "disconnected", "token_expired", "", start)
        for minutes in range(8 * 24 * 60 - 30, 9 * 24 * 60 - 1, 30):
            clock.set(start + timedelta(minutes=minutes))
            lifecycle.run_housekeeping(clock.now())
            conditions(clock.now())
        assert [c for c, _ in changes("leads_stopping")] == ["opened"]

    def test_connected_and_detached_accounts_get_no_reminder(
            self, world: World, clock: FakeClock) -> None:
        # B stays connected; A is disconnected in two steps: its stop warning is told once, and
        # its grace hour ends long before a reminder would be due.
        start = clock.now()
        lifecycle.disconnect(world.a, start)
        # The background loop for two days: every 10 minutes for the grace period, then hourly.
        for minutes in [*range(0, 120, 10), *range(120, 2 * 24 * 60, 60)]:
            clock.set(start + timedelta(minutes=minutes))
            lifecycle.run_housekeeping(clock.now())
            conditions(clock.now())
        assert [(c, k) for c, k in changes() if k in ("leads_stopping", "mailbox_broken")] == [
            ("opened", "leads_stopping"), ("resolved", "leads_stopping")]
        assert told("reminder", "leads_stopping") == []


class TestLongWait:
    def test_after_9_days_exactly_the_contacted_leads_stop(
            self, world: World, clock: FakeClock) -> None:
        a, b = world.a, world.b
        start = clock.now()
        update_status(a, "disconnected", "token_expired", "invalid_grant", start)
        conditions(start)
        # The app runs throughout: 24 hours before, the rep is warned (no channel: in the window).
        lifecycle.run_housekeeping(start + timedelta(days=8))
        [stop] = conditions(start + timedelta(days=8))
        assert (stop.kind, stop.mailboxes, stop.deadline) == (
            "leads_stopping", [a.email], start + timedelta(days=9))
        # The stop warning names A now; its reason card left quietly (nothing new to tell).
        assert [(c.change, c.muted) for c in told("resolved", "mailbox_broken")] == [
            ("resolved", True)]
        clock.set(start + timedelta(days=9) - timedelta(minutes=1))
        assert lifecycle.apply_long_wait(clock.now()) == 0
        assert lead_states(world.main)["halted"] == 9
        clock.set(start + timedelta(days=9))
        assert lifecycle.apply_long_wait(clock.now()) == 1
        stopped = {lead.id for lead in Lead.select().where(Lead.state == "campaign_stopped")}
        assert stopped == {*world.a_emailed, world.solo_emailed}
        assert states_of(world.a_new) == {(b.id, "pending")}
        assert states_of(world.solo_new) == {(None, "unassigned")}
        assert states_of([world.a_replied]) == {(a.id, "replied")}
        assert states_of(world.b_new) == {(b.id, "pending")}
        # The channels hear that the leads were stopped; A is still broken and says so, but no
        # lead waits for it any more.
        cards = conditions(clock.now())
        [done] = told("resolved", "leads_stopping")
        assert (done.event, done.muted, done.title) == (
            "leads_stopping", False, "Leads of a@example.com were stopped")
        assert done.message.startswith("4 leads it had emailed are set to Campaign Stopped")
        [broken] = [c for c in cards if c.kind == "mailbox_broken"]
        assert broken.mailboxes == [a.email] and broken.deadline is None
        assert "wait at" not in broken.message
        assert reload(a).long_wait_applied is True
        clock.advance(days=1)
        assert lifecycle.apply_long_wait(clock.now()) == 0

    def test_long_wait_comes_from_settings(self, world: World, clock: FakeClock) -> None:
        set_setting("long_wait_days", 2)
        update_status(world.a, "disconnected", "token_expired", "", clock.now())
        lifecycle.run_housekeeping(clock.advance(days=1))  # the 24-hour warning …
        assert kinds(clock.now()) == ["leads_stopping"]  # … reaches the rep in the window
        clock.advance(days=1)
        assert lifecycle.apply_long_wait(clock.now()) == 1

    def test_a_reconnect_in_time_keeps_every_lead(self, world: World, clock: FakeClock) -> None:
        before = leads_snapshot()
        update_status(world.a, "disconnected", "token_expired", "", clock.now())
        clock.advance(days=8, hours=23)
        lifecycle.reconnected(reload(world.a), clock.now())
        clock.advance(days=5)
        lifecycle.run_housekeeping(clock.now())
        assert leads_snapshot() == before


class TestRemove:
    def test_remove_keeps_history(self, world: World, clock: FakeClock) -> None:
        a = world.a
        record_check(a, probe_ok(), probe_ok(), clock.now())
        record_check(a, probe_fail("invalid_credentials"), probe_ok(), clock.now())
        assert kinds(clock.now()) == ["mailbox_broken"]
        sends, checks = SendRecord.select().count(), Check.select().count()
        lifecycle.remove_account(reload(a), clock.now())
        acc = reload(a)
        assert acc.removed_at == clock.now()
        assert SendRecord.select().where(SendRecord.account == a).count() == 7
        assert (SendRecord.select().count(), Check.select().count()) == (sends, checks)
        assert {lead.id for lead in Lead.select().where(Lead.state == "campaign_stopped")} == {
            *world.a_emailed, world.solo_emailed}
        assert states_of(world.a_new) == {(world.b.id, "pending")}
        assert [c for c in conditions(clock.now()) if a.email in c.mailboxes] == []
        assert Alert.select().where(Alert.account == a).count() == 1  # history stays


class TestAutoReallocate:
    def test_moves_only_after_the_configured_wait(self, world: World, clock: FakeClock) -> None:
        main = world.main
        main.auto_reallocate_minutes = 15
        main.save()
        start = clock.now()
        update_status(world.a, "disconnected", "tls_error", "", start)
        clock.set(start + timedelta(minutes=14))
        assert lifecycle.auto_reallocate(clock.now()) == 0
        assert states_of(world.a_new) == {(world.a.id, "halted")}
        clock.set(start + timedelta(minutes=15))
        assert lifecycle.auto_reallocate(clock.now()) == 5
        assert states_of(world.a_new) == {(world.b.id, "pending")}
        # Contacted leads keep their mailbox; Solo (no setting, no other mailbox) is untouched.
        assert states_of(world.a_emailed) == {(world.a.id, "halted")}
        assert lead_states(world.solo) == {"halted": 3}
        assert lifecycle.auto_reallocate(clock.now() + timedelta(minutes=1)) == 0

    def test_off_by_default(self, world: World, clock: FakeClock) -> None:
        update_status(world.a, "disconnected", "tls_error", "", clock.now())
        clock.advance(days=1)
        assert lifecycle.auto_reallocate(clock.now()) == 0

    def test_global_setting_applies(self, world: World, clock: FakeClock) -> None:
        set_setting("auto_reallocate_minutes", 30)
        update_status(world.a, "disconnected", "tls_error", "", clock.now())
        clock.advance(minutes=30)
        assert lifecycle.auto_reallocate(clock.now()) == 5

    def test_a_mailbox_broken_later_waits_its_own_turn(
            self, db: Path, clock: FakeClock) -> None:
        a, b, c = (make_account(f"{x}@example.com") for x in "abc")
        campaign = make_campaign("C", [a, b, c], auto_reallocate_minutes=15)
        make_leads(campaign, a, 4, prefix="a")
        make_leads(campaign, b, 4, prefix="b")
        start = clock.now()
        update_status(a, "disconnected", "tls_error", "", start)
        clock.set(start + timedelta(minutes=10))
        update_status(b, "disconnected", "tls_error", "", clock.now())
        clock.set(start + timedelta(minutes=15))
        assert lifecycle.auto_reallocate(clock.now()) == 4
        assert Lead.select().where(Lead.mailbox == b, Lead.state == "halted").count() == 4
        clock.set(start + timedelta(minutes=25))
        assert lifecycle.auto_reallocate(clock.now()) == 4
        assert Lead.select().where(Lead.mailbox == c, Lead.state == "pending").count() == 8

    def test_the_wait_counts_from_the_disconnection_not_the_last_reason(
            self, world: World, clock: FakeClock) -> None:
        world.main.auto_reallocate_minutes = 15
        world.main.save()
        start = clock.now()
        update_status(world.a, "disconnected", "tls_error", "", start)
        clock.set(start + timedelta(minutes=10))
        update_status(world.a, "disconnected", "invalid_credentials", "", clock.now())
        clock.set(start + timedelta(minutes=15))
        assert lifecycle.auto_reallocate(clock.now()) == 5

    def test_leads_within_the_grace_period_are_not_moved(
            self, world: World, clock: FakeClock) -> None:
        world.main.auto_reallocate_minutes = 15
        world.main.save()
        lifecycle.disconnect(world.a, clock.now())
        clock.advance(minutes=30)
        assert lifecycle.auto_reallocate(clock.now()) == 0
        lifecycle.reconnected(reload(world.a), clock.now())
        assert states_of(world.a_new) == {(world.a.id, "pending")}

    def test_rep_paused_campaign_is_left_alone(self, world: World, clock: FakeClock) -> None:
        main = world.main
        main.auto_reallocate_minutes = 15
        main.status, main.pause_reason = "paused", PAUSE_USER
        main.save()
        update_status(world.a, "disconnected", "tls_error", "", clock.now())
        clock.advance(hours=1)
        assert lifecycle.auto_reallocate(clock.now()) == 0


def test_second_disconnect_does_not_rejoin_campaigns_lost_to_an_earlier_grace_expiry(
        db, clock) -> None:
    from mailmonitor.models import Account, CampaignMailbox
    from mailmonitor.services.campaigns import lifecycle
    from tests.factories import make_account, make_campaign

    rep = make_account("rep@ex.test")
    other = make_account("other@ex.test")
    old = make_campaign("Old", [rep, other])
    lifecycle.disconnect(rep, clock.now())
    clock.advance(hours=2)
    lifecycle.expire_grace_periods(clock.now())
    lifecycle.reconnected(Account.get_by_id(rep.id), clock.now())
    new = make_campaign("New", [Account.get_by_id(rep.id)])
    lifecycle.disconnect(Account.get_by_id(rep.id), clock.now())
    clock.advance(minutes=10)
    lifecycle.reconnected(Account.get_by_id(rep.id), clock.now())
    memberships = {(m.campaign.name, m.active) for m in
                   CampaignMailbox.select().where(CampaignMailbox.account == rep)}
    assert memberships == {("New", True)}
    assert old.id != new.id
