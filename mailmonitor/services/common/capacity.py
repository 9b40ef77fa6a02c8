"""Per-mailbox daily limit with the warm-up ramp (spec §6, §7 `--warmup START:STEP`), counted
in the rep's day (rep_day.py), not the UTC day."""

from __future__ import annotations

from datetime import date, datetime

import peewee as pw

from mailmonitor.models import Account, SendRecord
from mailmonitor.models.states import ATTEMPTED_SEND_STATES
from mailmonitor.services.common.rep_day import rep_day_bounds, rep_today

COUNTED_SEND_STATES = ATTEMPTED_SEND_STATES


def daily_cap(account: Account, day: date) -> int:
    """How many emails the mailbox may send on `day`: the daily limit, or the warm-up ramp
    (START on the first day, STEP more each day) while it is below the limit."""
    limit = max(0, int(account.daily_limit))
    if account.warmup_start is None:
        return limit
    started = account.warmup_started_on or day
    days_in = max(0, (day - started).days)
    ramp = int(account.warmup_start) + int(account.warmup_step or 0) * days_in
    return max(0, min(limit, ramp))


def day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Naive-UTC bounds of the rep's day containing `now`."""
    return rep_day_bounds(now)


def sent_today(account_ids: list[int], now: datetime) -> dict[int, int]:
    """Emails recorded today (the rep's day) per account, in one query."""
    start, end = day_bounds(now)
    rows = (
        SendRecord.select(SendRecord.account, pw.fn.COUNT(SendRecord.id))
        .where(
            SendRecord.account.in_(account_ids),
            SendRecord.state.in_(COUNTED_SEND_STATES),
            SendRecord.created_at >= start,
            SendRecord.created_at < end,
        )
        .group_by(SendRecord.account)
        .tuples()
    )
    counts = dict.fromkeys(account_ids, 0)
    counts.update({int(a): int(n) for a, n in rows})
    return counts


def remaining_capacity(accounts: list[Account], now: datetime) -> dict[int, int]:
    counts = sent_today([a.id for a in accounts], now)
    today = rep_today(now)
    return {a.id: max(0, daily_cap(a, today) - counts[a.id]) for a in accounts}
