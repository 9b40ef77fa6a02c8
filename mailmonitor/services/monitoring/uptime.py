"""Uptime and the status timeline of a mailbox, from its check history (no Qt).

A check's status holds until the next check. Time this computer was offline is not counted
(checks recorded `offline`), nor is time the rep had the mailbox stopped. A connected or
retrying status is trusted for at most `max(3 × check interval, 65 min)` after its check: a
longer silence means mailmonitor was not running (or the computer slept), and nobody knows what
the mailbox did meanwhile. A disconnected status holds until the next check however long that
takes: a rejected sign-in is not re-checked on a schedule, and it stays broken until the rep acts.

Uptime = connected time ÷ observed time, in percent; None when nothing was observed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailmonitor.models import Account, Check
from mailmonitor.services.monitoring.reasons import Status

WINDOWS: dict[str, timedelta] = {
    "uptime_24h": timedelta(hours=24),
    "uptime_7d": timedelta(days=7),
    "uptime_30d": timedelta(days=30),
}
NOT_COUNTED = (Status.OFFLINE.value, Status.STOPPED.value, Status.CHECKING.value)
MIN_TRUST = timedelta(minutes=65)


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


def share_connected(segments: Iterable[Segment]) -> float | None:
    up = observed = 0.0
    for seg in segments:
        if seg.status == "unknown" or seg.status in NOT_COUNTED:
            continue
        observed += seg.seconds
        if seg.status == Status.CONNECTED.value:
            up += seg.seconds
    return None if observed <= 0 else round(100.0 * up / observed, 2)


def _history(account_ids: list[int], since: datetime, until: datetime
             ) -> dict[int, list[tuple[datetime, str]]]:
    """Checks in the window plus, per account, the last one before it."""
    found: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    if not account_ids:
        return found
    for account_id, at, status in Check.select(Check.account, Check.checked_at, Check.status
                                               ).where(
            Check.account.in_(account_ids) & (Check.checked_at >= since)
            & (Check.checked_at <= until)).order_by(Check.account, Check.checked_at).tuples():
        found[account_id].append((at, status))
    for account_id in account_ids:
        before = Check.select(Check.checked_at, Check.status).where(
            (Check.account == account_id) & (Check.checked_at < since)).order_by(
            Check.checked_at.desc()).limit(1).tuples().first()
        if before is not None:
            found[account_id].insert(0, (before[0], before[1]))
    return found


def timeline(account: Account, now: datetime, span: timedelta = timedelta(days=7)
             ) -> list[Segment]:
    since = now - span
    history = _history([account.id], since, now).get(account.id, [])
    return segments_from(history, since, now, trust_span(account.check_interval_seconds))


def uptimes(accounts: list[Account], now: datetime) -> dict[int, dict[str, float | None]]:
    """uptime_24h / uptime_7d / uptime_30d for each account, from one read of 30 days."""
    longest = max(WINDOWS.values())
    history = _history([a.id for a in accounts], now - longest, now)
    result: dict[int, dict[str, float | None]] = {}
    for account in accounts:
        checks = history.get(account.id, [])
        trust = trust_span(account.check_interval_seconds)
        result[account.id] = {
            name: share_connected(segments_from(checks, now - span, now, trust))
            for name, span in WINDOWS.items()}
    return result
