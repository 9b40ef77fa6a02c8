"""Per-mailbox daily capacity: the daily limit, the warm-up ramp and today's sends."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account
from mailmonitor.services.common.capacity import (
    daily_cap,
    day_bounds,
    remaining_capacity,
    sent_today,
)
from tests.factories import make_account, make_campaign, make_lead, record_send

pytestmark = pytest.mark.both_databases  # model and campaign rules: SQLite and PostgreSQL

START = date(2026, 11, 1)


def account(limit: int = 40, start: int | None = None, step: int | None = None,
            started: date | None = START) -> Account:
    # Not saved: daily_cap is pure.
    return Account(email="x@example.com", daily_limit=limit, warmup_start=start,
                   warmup_step=step, warmup_started_on=started if start is not None else None)


class TestDailyCap:
    def test_without_warm_up_it_is_the_daily_limit(self) -> None:
        assert daily_cap(account(limit=40), START) == 40
        assert daily_cap(account(limit=40), START + timedelta(days=300)) == 40

    def test_negative_or_zero_limit_means_no_sending(self) -> None:
        assert daily_cap(account(limit=0), START) == 0
        assert daily_cap(account(limit=-5), START) == 0
        assert daily_cap(account(limit=-5, start=10, step=5), START) == 0

    def test_ramp_start_step_capped_at_the_limit(self) -> None:
        a = account(limit=40, start=10, step=5)
        caps = [daily_cap(a, START + timedelta(days=d)) for d in range(9)]
        assert caps == [10, 15, 20, 25, 30, 35, 40, 40, 40]

    def test_ramp_start_above_the_limit_is_capped(self) -> None:
        assert daily_cap(account(limit=20, start=30, step=5), START) == 20

    def test_no_step_stays_at_start(self) -> None:
        a = account(limit=40, start=12, step=None)
        assert daily_cap(a, START + timedelta(days=20)) == 12

    def test_before_the_ramp_started_it_is_the_first_day(self) -> None:
        assert daily_cap(account(limit=40, start=10, step=5), START - timedelta(days=3)) == 10

    def test_ramp_without_a_start_date_counts_today_as_day_one(self) -> None:
        a = account(limit=40, start=10, step=5, started=None)
        assert daily_cap(a, START + timedelta(days=10)) == 10


class TestSentToday:
    def test_counts_todays_sending_and_sent_records_per_account(
            self, db: Path, clock: FakeClock) -> None:
        a, b, idle = (make_account(f"{x}@example.com") for x in ("a", "b", "idle"))
        campaign = make_campaign("C", [a, b])
        lead = make_lead(campaign, "lead@leads.example", a)
        midnight, _ = day_bounds(clock.now())
        assert midnight == datetime(2026, 11, 23)
        for _ in range(3):
            record_send(lead, a, clock.now(), state="sent")
        record_send(lead, a, midnight, state="sending")  # first second of the day
        record_send(lead, a, midnight, state="unknown")  # may have gone out: counts, to be safe
        record_send(lead, a, clock.now(), state="failed")  # never went out
        record_send(lead, a, midnight - timedelta(seconds=1))  # yesterday
        record_send(lead, a, midnight + timedelta(days=1))  # tomorrow (clock skew)
        record_send(lead, b, clock.now())
        assert sent_today([a.id, b.id, idle.id], clock.now()) == {a.id: 5, b.id: 1, idle.id: 0}
        assert sent_today([], clock.now()) == {}

    def test_remaining_capacity_uses_the_ramp_and_never_goes_below_zero(
            self, db: Path, clock: FakeClock) -> None:
        ramp = make_account("ramp@example.com", daily_limit=100, warmup_start=10, warmup_step=5,
                            warmup_started_on=clock.now().date() - timedelta(days=2))
        full = make_account("full@example.com", daily_limit=2)
        campaign = make_campaign("C", [ramp, full])
        lead = make_lead(campaign, "lead@leads.example", ramp)
        for _ in range(4):
            record_send(lead, ramp, clock.now())
            record_send(lead, full, clock.now())
        assert remaining_capacity([ramp, full], clock.now()) == {ramp.id: 16, full.id: 0}

    @pytest.mark.parametrize("hour", [0, 12, 23])
    def test_the_day_is_the_utc_calendar_day(self, hour: int) -> None:
        start, end = day_bounds(datetime(2026, 11, 23, hour, 59, 59))
        assert (start, end) == (datetime(2026, 11, 23), datetime(2026, 11, 24))
