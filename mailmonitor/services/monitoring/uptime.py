"""Uptime and the status timeline of a mailbox, from its check history (no Qt).

A check's status holds until the next check. Time this computer was offline is not counted
(checks recorded `offline`), nor is time the rep had the mailbox stopped, nor time inside a
maintenance window (``maintenance``: the rep muted it; the timeline shows it hatched). A
connected or retrying status is trusted for at most `max(3 × check interval, 65 min)` after its
check: a longer silence means mailmonitor was not running (or the computer slept), and nobody
knows what the mailbox did meanwhile. A disconnected status holds until the next check however
long that takes: a rejected sign-in is not re-checked on a schedule, and it stays broken until
the rep acts.

Uptime = connected time ÷ observed time outside maintenance, in percent; None when nothing was
observed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailmonitor.models import Account, Check, db
from mailmonitor.services.common.reasons import Status
from mailmonitor.services.monitoring import maintenance

WINDOWS: dict[str, timedelta] = {
    "uptime_24h": timedelta(hours=24),
    "uptime_7d": timedelta(days=7),
    "uptime_30d": timedelta(days=30),
}
NOT_COUNTED = (Status.OFFLINE.value, Status.STOPPED.value, Status.CHECKING.value)
MIN_TRUST = timedelta(minutes=65)
Spans = Sequence[tuple[datetime, datetime]]  # (start, end), in order, not overlapping


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime
    status: str  # a Status value, or "unknown" (nothing observed)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def trust_span(check_interval_seconds: int) -> timedelta:
    return max(timedelta(seconds=3 * check_interval_seconds), MIN_TRUST)


def segments_from(checks: list[tuple[datetime, str]], since: datetime, until: datetime,
                  trust: timedelta) -> list[Segment]:
    """The timeline between `since` and `until` from (checked_at, status) in time order; the
    first may be from before `since` (the status at its start). Gaps are "unknown"."""
    out: list[Segment] = []
    cursor = since
    for n, (at, status) in enumerate(checks):
        next_at = checks[n + 1][0] if n + 1 < len(checks) else until
        start, end = max(at, since), min(next_at, until)
        if end <= start:
            continue
        if status != Status.DISCONNECTED.value:
            end = min(end, at + trust)
        if start > cursor:
            out.append(Segment(cursor, start, "unknown"))
        if end > start:
            out.append(Segment(start, end, status))
            cursor = end
    if cursor < until:
        out.append(Segment(cursor, until, "unknown"))
    return _merged(out)


def _merged(segments: list[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for seg in segments:
        if merged and merged[-1].status == seg.status and merged[-1].end == seg.start:
            merged[-1] = Segment(merged[-1].start, seg.end, seg.status)
        else:
            merged.append(seg)
    return merged


def outside(start: datetime, end: datetime, muted: Spans = ()) -> float:
    """Seconds of [start, end) outside the muted spans."""
    seconds = (end - start).total_seconds()
    for s, e in muted:
        if e > start and s < end:
            seconds -= (min(e, end) - max(s, start)).total_seconds()
    return seconds


def share_connected(segments: Iterable[Segment], muted: Spans = ()) -> float | None:
    up = observed = 0.0
    for seg in segments:
        if seg.status == "unknown" or seg.status in NOT_COUNTED:
            continue
        seconds = outside(seg.start, seg.end, muted)
        observed += seconds
        if seg.status == Status.CONNECTED.value:
            up += seconds
    return None if observed <= 0 else round(100.0 * up / observed, 2)


def _history(account_ids: list[int], since: datetime, until: datetime
             ) -> dict[int, list[tuple[datetime, str]]]:
    """Checks in the window plus, per account, the last one before it. Raw rows (a month of
    checks of hundreds of mailboxes is millions of rows: no model objects)."""
    found: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    if not account_ids:
        return found
    table = Check._meta.table_name
    mark = db.obj.param  # "?" on SQLite, "%s" on PostgreSQL
    for start in range(0, len(account_ids), 500):
        ids = account_ids[start:start + 500]
        marks = ",".join([mark] * len(ids))
        before = db.execute_sql(
            f'SELECT c.account_id, c.checked_at, c.status FROM "{table}" c JOIN ('
            f'SELECT account_id, MAX(checked_at) AS at FROM "{table}" WHERE checked_at < {mark} '
            f"AND account_id IN ({marks}) GROUP BY account_id) last ON "
            "c.account_id = last.account_id AND c.checked_at = last.at",
            [Check.checked_at.db_value(since), *ids]).fetchall()
        for account_id, at, status in before:
            if not found[account_id]:
                found[account_id].append((_when(at), status))
        rows = db.execute_sql(
            f'SELECT account_id, checked_at, status FROM "{table}" WHERE account_id IN '
            f"({marks}) AND checked_at >= {mark} AND checked_at <= {mark} ORDER BY account_id, "
            "checked_at", [*ids, Check.checked_at.db_value(since),
                           Check.checked_at.db_value(until)])
        for account_id, at, status in rows:
            found[account_id].append((_when(at), status))
    return found


def _when(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


Shares = dict[str, float | None]


def shares_of(checks: list[tuple[datetime, str]], now: datetime, trust: timedelta,
              windows: dict[str, timedelta] = WINDOWS, muted: Spans = ()) -> Shares:
    """Uptime in every window in one pass (what `segments_from` + `share_connected` give,
    without building the timeline), leaving the `muted` spans out."""
    # Longest window first: once a check ends before a window starts, the shorter ones
    # (starting later) cannot hold it either.
    starts = {name: now - span for name, span in sorted(windows.items(), key=lambda w: -w[1])}
    up = dict.fromkeys(windows, 0.0)
    seen = dict.fromkeys(windows, 0.0)
    connected, disconnected = Status.CONNECTED.value, Status.DISCONNECTED.value
    for n, (at, status) in enumerate(checks):
        if status in NOT_COUNTED:
            continue
        end = checks[n + 1][0] if n + 1 < len(checks) else now
        end = min(end, now) if status == disconnected else min(end, now, at + trust)
        for name, since in starts.items():
            start = max(at, since)
            if end <= start:
                break
            seconds = outside(start, end, muted) if muted else (end - start).total_seconds()
            seen[name] += seconds
            if status == connected:
                up[name] += seconds
    return {name: (round(100.0 * up[name] / seen[name], 2) if seen[name] > 0 else None)
            for name in windows}


def timeline(account: Account, now: datetime, span: timedelta = timedelta(days=7)
             ) -> list[Segment]:
    since = now - span
    history = _history([account.id], since, now).get(account.id, [])
    return segments_from(history, since, now, trust_span(account.check_interval_seconds))


def muted_spans(account: Account, now: datetime, span: timedelta = timedelta(days=7)
                ) -> Spans:
    """The maintenance windows over the timeline (drawn hatched; not counted in uptime)."""
    return maintenance.muted_periods(account, now - span, now)


def first_check_at(account_id: int) -> datetime | None:
    """When the mailbox was first checked: a window older than that was not measured."""
    first: datetime | None = (Check.select(Check.checked_at).where(Check.account == account_id)
                              .order_by(Check.checked_at).limit(1).scalar())
    return first


MIN_MEASURED = timedelta(hours=1)  # less than this is no figure at all


def measured_shares(shares: Shares, first_check: datetime | None, now: datetime
                    ) -> tuple[list[tuple[str, float]], float | None]:
    """The windows whose whole span was measured (the first check is older than the window),
    with their percentage, in order; and, when a window is not covered yet, the share since
    the first check (the 30-day figure: history is younger than 30 days) if at least an hour
    was measured. A figure over a few minutes would read as "30 days 0.0 %"."""
    if first_check is None:
        return [], None
    covered: list[tuple[str, float]] = []
    for name, span in WINDOWS.items():
        value = shares.get(name)
        if value is None or first_check > now - span:
            since = shares.get("uptime_30d")
            enough = now - first_check >= MIN_MEASURED
            return covered, (since if enough else None)
        covered.append((name, value))
    return covered, None


def uptimes(accounts: list[Account], now: datetime) -> dict[int, dict[str, float | None]]:
    """uptime_24h / uptime_7d / uptime_30d for each account, from one read of 30 days (and
    one of the maintenance windows, whose time is left out)."""
    longest = max(WINDOWS.values())
    history = _history([a.id for a in accounts], now - longest, now)
    muted = maintenance.muted_periods_of((a.email for a in accounts), now - longest, now)
    result: dict[int, dict[str, float | None]] = {}
    for account in accounts:
        checks = history.get(account.id, [])
        trust = trust_span(account.check_interval_seconds)
        result[account.id] = shares_of(checks, now, trust,
                                       muted=muted.get(account.email.lower(), []))
    return result
