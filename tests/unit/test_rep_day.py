"""The rep's day (issue 11): daily limits and warm-up days follow the rep's time zone (setting,
default the computer's), across daylight saving. Injected clock, fake SMTP, no sleeps."""

from __future__ import annotations

import random
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import SendRecord, set_setting
from mailmonitor.services.accounts.adding import AccountSpec, create_account
from mailmonitor.services.common.capacity import remaining_capacity
from mailmonitor.services.common.rep_day import rep_day_bounds, rep_today, system_zone_name
from mailmonitor.services.sending.engine import SendingEngine
from tests.factories import make_account, make_campaign, make_leads, reload
from tests.fake_smtp import FakeServer, fake_credentials

LA = ZoneInfo("America/Los_Angeles")


def engine_for(clock: FakeClock, server: FakeServer) -> SendingEngine:
    return SendingEngine(clock, credentials=fake_credentials, transport_factory=server.factory,
                         save_copy=lambda account: False, rng=random.Random(3))


def test_a_daily_limit_renews_at_the_reps_local_midnight_not_at_utc_midnight(db: Path) -> None:
    set_setting("time_zone", "America/Los_Angeles")
    # Monday 23 November 2026, 09:00 in Los Angeles (PST, UTC-8) = 17:00 UTC.
    clock = FakeClock(datetime(2026, 11, 23, 17, 0))
    server = FakeServer()
    box = make_account("rep@example.com", daily_limit=3, min_gap_seconds=0)
    campaign = make_campaign("LA", [box], steps=1)
    make_leads(campaign, box, 10)
    sending = engine_for(clock, server)
    assert sending.run_until_idle() == 3

    # 16:30 in Los Angeles is 00:30 UTC of the next day: the UTC day changed, the rep's did not.
    clock.set(datetime(2026, 11, 24, 0, 30))
    assert sending.run_until_idle() == 0
    assert remaining_capacity([reload(box)], clock.now()) == {box.id: 0}
    # 23:59 local: still the same day.
    clock.set(datetime(2026, 11, 24, 7, 59))
    assert sending.run_until_idle() == 0

    # Local midnight (08:00 UTC): a new day, three more.
    clock.set(datetime(2026, 11, 24, 8, 0))
    assert sending.run_until_idle() == 3
    assert len(server.delivered) == 6
    days = sorted({r.created_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(LA).date()
                   for r in SendRecord.select()})
    assert days == [date(2026, 11, 23), date(2026, 11, 24)]


def test_the_day_the_clocks_go_back_is_25_hours_long(db: Path) -> None:
    set_setting("time_zone", "America/Los_Angeles")
    # 1 November 2026: US daylight saving ends at 02:00 local.
    start, end = rep_day_bounds(datetime(2026, 11, 1, 20, 0))
    assert (start, end) == (datetime(2026, 11, 1, 7, 0), datetime(2026, 11, 2, 8, 0))
    # and the day they go forward (8 March 2026) is 23 hours long
    start, end = rep_day_bounds(datetime(2026, 3, 8, 20, 0))
    assert (start, end) == (datetime(2026, 3, 8, 8, 0), datetime(2026, 3, 9, 7, 0))


def test_a_limit_holds_over_the_night_the_clocks_go_back(db: Path) -> None:
    set_setting("time_zone", "America/Los_Angeles")
    clock = FakeClock(datetime(2026, 11, 1, 7, 30))  # 00:30 PDT, 1 November
    server = FakeServer()
    box = make_account("rep@example.com", daily_limit=2, min_gap_seconds=0)
    make_leads(make_campaign("DST", [box], steps=1), box, 6)
    sending = engine_for(clock, server)
    assert sending.run_until_idle() == 2
    clock.set(datetime(2026, 11, 2, 7, 30))  # 23:30 PST, still 1 November (25 h day)
    assert sending.run_until_idle() == 0
    clock.set(datetime(2026, 11, 2, 8, 0))  # midnight PST: 2 November
    assert sending.run_until_idle() == 2


def test_warm_up_days_count_in_the_reps_zone(db: Path) -> None:
    set_setting("time_zone", "Asia/Tokyo")  # UTC+9, no daylight saving
    # 20:00 UTC on 23 November is 05:00 on 24 November in Tokyo: the ramp starts that day.
    now = datetime(2026, 11, 23, 20, 0)
    account = create_account(AccountSpec(
        email="tokyo@example.com", imap_host="imap.example.com", imap_port=993,
        smtp_host="smtp.example.com", smtp_port=465, daily_limit=100, warmup=(5, 5)
    ).validated(), "app-password", now)
    assert reload(account).warmup_started_on == date(2026, 11, 24)
    account.status = "connected"
    account.save()
    assert remaining_capacity([account], now) == {account.id: 5}
    # 15:00 UTC on the 24th is midnight of the 25th in Tokyo: day two of the ramp.
    assert remaining_capacity([account], datetime(2026, 11, 24, 15, 0)) == {account.id: 10}
    assert remaining_capacity([account], datetime(2026, 11, 24, 14, 59)) == {account.id: 5}


def test_without_a_setting_the_computers_zone_counts(db: Path, monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    assert system_zone_name() == "Europe/Berlin"
    # 23:30 UTC on 23 November is already the 24th in Berlin.
    assert rep_today(datetime(2026, 11, 23, 23, 30)) == date(2026, 11, 24)
    set_setting("time_zone", "UTC")
    assert rep_today(datetime(2026, 11, 23, 23, 30)) == date(2026, 11, 23)
