"""Spec §6 scheduling: sending windows in a time zone, daily limits with warm-up, minimum gap,
inbox rotation, who waits, and how the cursor moves. Injected clock, fake SMTP, no sleeps."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Campaign, Lead, SendRecord
from mailmonitor.services.common.validation import parse_window
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.services.sending.engine import SendingEngine
from mailmonitor.services.sending.scheduler import Scheduler, advance_lead, step_delays, window_open
from tests.factories import make_account, make_campaign, make_lead, make_leads, record_send, reload
from tests.fake_smtp import FakeServer, fake_credentials

pytestmark = pytest.mark.both_databases  # model and campaign rules: SQLite and PostgreSQL

MONDAY = datetime(2026, 11, 23, 9, 0)  # a Monday, 10:00 in Berlin (CET, UTC+1)
BERLIN_OFFICE = parse_window("mon-fri 09:00-17:00 Europe/Berlin")


def engine_for(clock: FakeClock, server: FakeServer, **kwargs: object) -> SendingEngine:
    return SendingEngine(clock, credentials=fake_credentials, transport_factory=server.factory,
                         save_copy=lambda account: False, rng=random.Random(7),
                         **kwargs)  # type: ignore[arg-type]


def planned(clock: FakeClock, scheduler: Scheduler | None = None) -> dict[str, list[str]]:
    plan = (scheduler or Scheduler(jitter=0)).plan(clock.now())
    return {batch[0].account.email: [d.lead.email for d in batch] for batch in plan.values()}


# --- sending windows ------------------------------------------------------------------------

@pytest.mark.parametrize(("utc", "is_open"), [
    (datetime(2026, 11, 23, 7, 59), False),  # Monday 08:59 Berlin
    (datetime(2026, 11, 23, 8, 0), True),  # Monday 09:00 Berlin
    (datetime(2026, 11, 23, 15, 59), True),  # 16:59 Berlin
    (datetime(2026, 11, 23, 16, 0), False),  # 17:00 Berlin: the end is exclusive
    (datetime(2026, 11, 28, 10, 0), False),  # Saturday
    (datetime(2026, 11, 27, 23, 30), False),  # Saturday 00:30 in Berlin, still Friday in UTC
    (datetime(2026, 7, 6, 7, 0), True),  # summer time: Monday 09:00 CEST = 07:00 UTC
    (datetime(2026, 7, 6, 6, 59), False),
])
def test_window_hours_are_the_campaigns_local_hours(utc: datetime, is_open: bool) -> None:
    assert window_open(BERLIN_OFFICE, utc) is is_open


def test_a_window_over_midnight_belongs_to_the_day_it_starts() -> None:
    nights = parse_window("fri 22:00-06:00 UTC")
    assert window_open(nights, datetime(2026, 11, 27, 23, 0))  # Friday night
    assert window_open(nights, datetime(2026, 11, 28, 5, 59))  # Saturday morning, Friday's window
    assert not window_open(nights, datetime(2026, 11, 28, 23, 0))  # Saturday night
    assert not window_open(nights, datetime(2026, 11, 27, 5, 0))  # Friday morning (Thursday's)
    assert window_open(None, datetime(2026, 11, 28, 3, 0))  # no window: always


def test_nothing_is_planned_outside_the_window(db: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 23, 7, 30))  # 08:30 in Berlin
    a = make_account("a@example.com", min_gap_seconds=0)
    campaign = make_campaign("C", [a], window=BERLIN_OFFICE)
    make_leads(campaign, a, 3)
    assert planned(clock) == {}
    clock.set(datetime(2026, 11, 23, 8, 0))
    assert len(planned(clock)["a@example.com"]) == 3


# --- daily limits, warm-up, minimum gap -----------------------------------------------------

def test_daily_limit_caps_a_mailbox_per_day(db: Path) -> None:
    clock = FakeClock(MONDAY)
    server = FakeServer()
    a = make_account("a@example.com", daily_limit=5, min_gap_seconds=0)
    campaign = make_campaign("C", [a], steps=1)
    make_leads(campaign, a, 8)
    engine = engine_for(clock, server)
    assert engine.run_until_idle() == 5
    clock.advance(hours=6)
    assert engine.run_until_idle() == 0
    clock.set(MONDAY + timedelta(days=1))
    assert engine.run_until_idle() == 3
    assert len(server.delivered) == 8


def test_warm_up_ramp_raises_the_cap_day_by_day_up_to_the_limit(db: Path) -> None:
    clock = FakeClock(MONDAY)
    server = FakeServer()
    a = make_account("a@example.com", daily_limit=8, min_gap_seconds=0, warmup_start=2,
                     warmup_step=3, warmup_started_on=MONDAY.date())
    campaign = make_campaign("C", [a], steps=1)
    make_leads(campaign, a, 30)
    engine = engine_for(clock, server)
    per_day = []
    for day in range(4):
        clock.set(MONDAY + timedelta(days=day))
        per_day.append(engine.run_until_idle())
    assert per_day == [2, 5, 8, 8]


def test_minimum_gap_paces_a_mailbox_with_a_little_jitter(db: Path) -> None:
    clock = FakeClock(MONDAY)
    server = FakeServer()
    a = make_account("a@example.com", min_gap_seconds=600)
    campaign = make_campaign("C", [a], steps=1)
    make_leads(campaign, a, 5)
    engine = engine_for(clock, server, jitter=0.1)
    assert engine.run_until_idle() == 1  # one email per gap, never a burst
    sends_at = [MONDAY]
    for _ in range(2 * 660 // 4):  # step through time: when do the next ones go?
        clock.advance(seconds=4)
        if engine.run_once().sent:
            sends_at.append(clock.now())
    gaps = [(later - earlier).total_seconds()
            for earlier, later in itertools.pairwise(sends_at)]
    assert len(gaps) >= 2
    assert all(600 <= gap < 664 for gap in gaps), gaps  # the gap plus up to 10 % jitter
    assert len(set(gaps)) > 1  # jittered, not machine-timed


def test_jitter_is_drawn_once_per_gap_not_on_every_tick(db: Path) -> None:
    a = make_account("a@example.com", min_gap_seconds=1000)
    scheduler = Scheduler(rng=random.Random(3), jitter=0.1)
    last = MONDAY
    first = scheduler.ready_at(a, last)
    assert first is not None
    assert all(scheduler.ready_at(a, last) == first for _ in range(20))
    assert MONDAY + timedelta(seconds=1000) <= first <= MONDAY + timedelta(seconds=1100)


# --- rotation and who waits -----------------------------------------------------------------

def test_rotation_each_mailbox_sends_its_own_leads(db: Path) -> None:
    clock = FakeClock(MONDAY)
    server = FakeServer()
    boxes = [make_account(f"box{i}@example.com", min_gap_seconds=0) for i in range(3)]
    campaign = make_campaign("C", boxes, steps=1)
    for i, box in enumerate(boxes):
        make_leads(campaign, box, 4, prefix=f"b{i}-")
    engine_for(clock, server).run_until_idle()
    senders: dict[str, set[str]] = {}
    for item in server.delivered:
        senders.setdefault(item.sender, set()).add(item.rcpt.split("-")[0])
    assert senders == {"box0@example.com": {"b0"}, "box1@example.com": {"b1"},
                       "box2@example.com": {"b2"}}


def test_only_due_sendable_leads_of_connected_mailboxes_are_planned(db: Path) -> None:
    clock = FakeClock(MONDAY)
    ok = make_account("ok@example.com", min_gap_seconds=0)
    broken = make_account("broken@example.com", status="disconnected",
                          reason="invalid_credentials", min_gap_seconds=0)
    retrying = make_account("retry@example.com", status="warning", reason="timeout",
                            min_gap_seconds=0)
    campaign = make_campaign("C", [ok, broken, retrying])
    make_lead(campaign, "due@x.example", ok)
    make_lead(campaign, "later@x.example", ok, next_due_at=MONDAY + timedelta(hours=1))
    make_lead(campaign, "halted@x.example", ok, state="halted")
    make_lead(campaign, "replied@x.example", ok, state="replied")
    make_lead(campaign, "flagged@x.example", ok, flag="first_name is missing")
    make_lead(campaign, "unassigned@x.example", None, state="unassigned")
    make_lead(campaign, "on-broken@x.example", broken)
    make_lead(campaign, "on-retrying@x.example", retrying)
    in_flight = make_lead(campaign, "inflight@x.example", ok)
    record_send(in_flight, ok, MONDAY - timedelta(days=2), state="sending")
    assert planned(clock) == {"ok@example.com": ["due@x.example"]}


def test_paused_campaign_and_left_mailbox_send_nothing(db: Path) -> None:
    clock = FakeClock(MONDAY)
    a = make_account("a@example.com", min_gap_seconds=0)
    paused = make_campaign("Paused", [a], status="paused", pause_reason="user")
    make_leads(paused, a, 2, prefix="p")
    other = make_campaign("Other", [a])
    from mailmonitor.models import CampaignMailbox

    CampaignMailbox.update(active=False).where(CampaignMailbox.campaign == other).execute()
    make_leads(other, a, 2, prefix="o")
    assert planned(clock) == {}


# --- the cursor -----------------------------------------------------------------------------

def test_after_a_send_the_cursor_moves_and_the_next_step_is_due_after_its_delay(db: Path
                                                                                ) -> None:
    a = make_account("a@example.com")
    campaign = make_campaign("C", [a], steps=3)  # delays 0, 2, 2 days
    lead = make_lead(campaign, "l@x.example", a)
    delays = step_delays(campaign.id)
    assert advance_lead(lead.id, 0, "<1@example.com>", "Hello", MONDAY, delays)
    stored = reload(lead)
    assert (stored.cursor, stored.state, stored.messages_sent) == (1, "active", 1)
    assert stored.next_due_at == MONDAY + timedelta(days=2)
    assert (stored.first_subject, stored.last_message_id) == ("Hello", "<1@example.com>")
    assert not advance_lead(lead.id, 0, "<1@example.com>", "Hello", MONDAY, delays)  # once
    assert reload(lead).cursor == 1
    advance_lead(lead.id, 1, "<2@example.com>", "Re: Hello", MONDAY, delays)
    advance_lead(lead.id, 2, "<3@example.com>", "Re: Hello", MONDAY, delays)
    stored = reload(lead)
    assert (stored.cursor, stored.state, stored.next_due_at) == (3, "completed", None)
    assert stored.first_subject == "Hello"


def test_a_whole_sequence_runs_on_the_steps_delays(db: Path) -> None:
    clock = FakeClock(MONDAY)
    server = FakeServer()
    a = make_account("a@example.com", min_gap_seconds=0)
    campaign = make_campaign("C", [a], steps=3)
    make_leads(campaign, a, 2)
    engine = engine_for(clock, server)
    assert engine.run_until_idle() == 2
    clock.advance(days=1, hours=23)
    assert engine.run_until_idle() == 0  # step 2 waits its 2 days
    clock.advance(hours=1)
    assert engine.run_until_idle() == 2
    clock.advance(days=2)
    assert engine.run_until_idle() == 2
    assert {lead.state for lead in Lead.select()} == {"completed"}
    assert [lead.messages_sent for lead in Lead.select()] == [3, 3]


def test_halted_leads_keep_their_place_and_the_backlog_goes_out_at_the_mailboxs_pace(
        db: Path) -> None:
    clock = FakeClock(MONDAY)
    server = FakeServer()
    a = make_account("a@example.com", min_gap_seconds=600)
    campaign = make_campaign("C", [a], steps=3)
    make_leads(campaign, a, 4, cursor=1, next_due_at=MONDAY - timedelta(days=3))
    engine = engine_for(clock, server, jitter=0)
    update_status(a, "disconnected", "invalid_credentials", "535 5.7.8", clock.now())
    assert {(lead.state, lead.cursor) for lead in Lead.select()} == {("halted", 1)}
    clock.advance(days=2)
    assert engine.run_until_idle() == 0
    update_status(reload(a), "connected", None, "", clock.now())
    assert {(lead.state, lead.cursor) for lead in Lead.select()} == {("active", 1)}
    sent_at = []
    for _ in range(4 * 11):
        if engine.run_once().sent:
            sent_at.append(clock.now())
        clock.advance(minutes=1)
    assert len(sent_at) == 4
    assert all(b - a >= timedelta(minutes=10) for a, b in itertools.pairwise(sent_at))
    assert {lead.cursor for lead in Lead.select()} == {2}  # step 2 each, none skipped
    steps = sorted(r.step for r in SendRecord.select())
    assert steps == [1, 1, 1, 1]


def test_a_disconnected_mailbox_does_not_stop_the_others(db: Path) -> None:
    clock = FakeClock(MONDAY)
    server = FakeServer()
    a = make_account("a@example.com", min_gap_seconds=0)
    b = make_account("b@example.com", min_gap_seconds=0)
    campaign = make_campaign("C", [a, b], steps=1)
    make_leads(campaign, a, 2, prefix="a")
    make_leads(campaign, b, 2, prefix="b")
    update_status(a, "disconnected", "invalid_credentials", "535", clock.now())
    engine_for(clock, server).run_until_idle()
    assert sorted(d.rcpt for d in server.delivered) == ["b0@leads.example", "b1@leads.example"]
    assert Campaign.get().status == "active"
    assert Account.get(Account.email == "a@example.com").status == "disconnected"
