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
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.campaigns.reallocation import reallocate
from mailmonitor.services.monitoring.account_state import record_check, update_status
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


def open_alerts(kind: str | None = None) -> list[Alert]:
    query = Alert.select().where(Alert.resolved_at.is_null())
    if kind:
        query = query.where(Alert.kind == kind)
    return list(query.order_by(Alert.id))


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
        clock.advance(hours=3)
        lifecycle.reconnected(reload(a), clock.now(), detail="signed in again")
        acc = reload(a)
        assert (acc.status, acc.reason, acc.consecutive_failures) == ("connected", None, 0)
        assert acc.next_check_at == clock.now() + timedelta(seconds=120)
        assert settings_of(a) == settings
        assert memberships(a) == {"Main": True, "Solo": True}
        assert leads_snapshot() == before
        assert reload(world.solo).status == "active"
        assert [x.kind for x in open_alerts()] == ["reconnected"]


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
        grace = open_alerts("grace_ending")
        assert [(x.account_id, x.severity) for x in grace] == [(a.id, "warning")]
        assert "1 hour" in grace[0].title and "12 leads" in grace[0].title

    def test_reconnect_within_grace_gets_leads_back_with_fresh_settings(
            self, world: World, clock: FakeClock) -> None:
        a = world.a
        before = leads_snapshot()
        lifecycle.disconnect(a, clock.now())
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
        assert open_alerts("grace_ending") == []
        # Later housekeeping has nothing to expire.
        clock.advance(hours=2)
        assert lifecycle.expire_grace_periods(clock.now()) == 0
        assert leads_snapshot() == before

    def test_after_grace_emailed_leads_stop_and_the_others_move(
            self, world: World, clock: FakeClock) -> None:
        a, b = world.a, world.b
        lifecycle.disconnect(a, clock.now())
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
        assert open_alerts("grace_ending") == []
        assert [x.kind for x in open_alerts("leads_stopped")] == ["leads_stopped"]
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
        clock.advance(hours=2)
        lifecycle.expire_grace_periods(clock.now())
        assert states_of(world.a_new) == {(world.b.id, "pending")}
        assert states_of(c_new) == {(c.id, "halted")}  # C may still be reconnected in one click
        waiting = open_alerts("leads_halted")
        assert [(x.account_id, x.campaign_id) for x in waiting] == [(c.id, world.main.id)]

    def test_campaign_stopped_is_irreversible(self, world: World, clock: FakeClock) -> None:
        a = world.a
        lifecycle.disconnect(a, clock.now())
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
        clock.advance(hours=3)
        lifecycle.reconnected(reload(a), clock.now())
        assert {lead.id for lead in Lead.select().where(Lead.state == "campaign_stopped")} == {
            *world.a_emailed, world.solo_emailed}
        assert memberships(a) == {}
        assert states_of(world.a_new) == {(world.b.id, "pending")}

    def test_grace_period_comes_from_settings(self, world: World, clock: FakeClock) -> None:
        set_setting("grace_period_minutes", 15)
        lifecycle.disconnect(world.a, clock.now())
        clock.advance(minutes=16)
        assert lifecycle.expire_grace_periods(clock.now()) == 1


class TestReminders:
    def test_reminded_after_1_3_7_and_8_days_once_each(
            self, world: World, clock: FakeClock) -> None:
        a = world.a
        start = clock.now()
        update_status(a, "disconnected", "token_expired", "invalid_grant", start)
        sent = []
        for hours in range(0, 9 * 24 + 12, 3):  # housekeeping every 3 hours for 9.5 days
            clock.set(start + timedelta(hours=hours))
            if lifecycle.send_reminders(clock.now()):
                sent.append((clock.now() - start).days)
            assert len(open_alerts("account_reminder")) <= 1
        assert sent == [1, 3, 7, 8]
        reminders = list(Alert.select().where(Alert.kind == "account_reminder").order_by(Alert.id))
        assert len(reminders) == 4
        assert [r.severity for r in reminders] == ["warning", "warning", "warning", "error"]
        assert "for 1 day (Token Expired)" in reminders[0].title
        assert "8 days" in reminders[-1].title
        assert "4 contacted leads" in reminders[-1].message
        assert [r.resolved_at is None for r in reminders] == [False, False, False, True]
        assert reload(a).reminders_sent == 4

    def test_a_long_sleep_sends_one_reminder_not_a_burst(
            self, world: World, clock: FakeClock) -> None:
        update_status(world.a, "disconnected", "token_expired", "", clock.now())
        clock.advance(days=4)
        assert lifecycle.send_reminders(clock.now()) == 1
        assert lifecycle.send_reminders(clock.now()) == 0
        assert Alert.select().where(Alert.kind == "account_reminder").count() == 1
        assert reload(world.a).reminders_sent == 2

    def test_reconnecting_resolves_the_reminder(self, world: World, clock: FakeClock) -> None:
        update_status(world.a, "disconnected", "token_expired", "", clock.now())
        clock.advance(days=1)
        lifecycle.send_reminders(clock.now())
        lifecycle.reconnected(reload(world.a), clock.now())
        assert open_alerts("account_reminder") == []
        assert reload(world.a).reminders_sent == 0

    def test_connected_and_detached_accounts_get_no_reminder(
            self, world: World, clock: FakeClock) -> None:
        lifecycle.disconnect(world.a, clock.now())  # stopped: the grace alert covers it
        clock.advance(days=2)
        assert lifecycle.send_reminders(clock.now()) == 0


class TestLongWait:
    def test_after_9_days_exactly_the_contacted_leads_stop(
            self, world: World, clock: FakeClock) -> None:
        a, b = world.a, world.b
        start = clock.now()
        update_status(a, "disconnected", "token_expired", "invalid_grant", start)
        # The app runs throughout: 24 hours before, the rep is warned (no channel: in the window).
        lifecycle.run_housekeeping(start + timedelta(days=8))
        assert len(open_alerts("leads_stopping")) == 1
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
        alert = open_alerts("leads_stopped")
        assert len(alert) == 1 and "9 days" in alert[0].title
        # Leads no longer wait for A: the "waiting" alerts are gone.
        assert open_alerts("leads_halted") == []
        assert reload(a).long_wait_applied is True
        clock.advance(days=1)
        assert lifecycle.apply_long_wait(clock.now()) == 0

    def test_long_wait_comes_from_settings(self, world: World, clock: FakeClock) -> None:
        set_setting("long_wait_days", 2)
        update_status(world.a, "disconnected", "token_expired", "", clock.now())
        lifecycle.run_housekeeping(clock.advance(days=1))  # the 24-hour warning
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
        sends, checks = SendRecord.select().count(), Check.select().count()
        lifecycle.remove_account(reload(a), clock.now())
        acc = reload(a)
        assert acc.removed_at == clock.now()
        assert SendRecord.select().where(SendRecord.account == a).count() == 7
        assert (SendRecord.select().count(), Check.select().count()) == (sends, checks)
        assert {lead.id for lead in Lead.select().where(Lead.state == "campaign_stopped")} == {
            *world.a_emailed, world.solo_emailed}
        assert states_of(world.a_new) == {(world.b.id, "pending")}
        assert Alert.select().where((Alert.account == a) & Alert.resolved_at.is_null()).count() == 0


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
