"""Maintenance windows: mute one mailbox, a domain or everything until a time, with a note.

While a window covers a mailbox, the attention model gives it no condition of its own (a
condition of only muted mailboxes is kept, marked muted), the channels get no message, the
timeline shows the window hatched and uptime leaves it out. Windows are rows (`Maintenance`),
shared by every copy of a team; removing one ends it now and keeps it for the timeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mailmonitor.models import Account, Maintenance, account_by_email
from mailmonitor.services.common.validation import InvalidInput, normalize_email, validate_host

MAX_AHEAD = timedelta(days=366)  # a window is for maintenance, not for switching alerts off
MAX_NOTE = 500
_DURATION = re.compile(r"^\s*(\d{1,6})\s*(s|sec|m|min|h|d)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Window:
    id: int
    scope: str  # mailbox | domain | all
    target: str
    starts_at: datetime
    ends_at: datetime
    note: str

    def covers(self, email: str) -> bool:
        address = email.lower()
        if self.scope == "all":
            return True
        if self.scope == "domain":
            return address.rpartition("@")[2] == self.target
        return address == self.target

    @property
    def what(self) -> str:
        return {"all": "every mailbox", "domain": f"@{self.target}"}.get(self.scope, self.target)


def _window(row: Maintenance) -> Window:
    return Window(row.id, row.scope, row.target, row.starts_at, row.ends_at, row.note or "")


def parse_when(text: str, now: datetime, what: str) -> datetime:
    """ISO 8601 (with an offset, or naive = UTC) or a duration from now ("2h", "90m", "1d").
    Returns naive UTC. Raises InvalidInput."""
    raw = (text or "").strip()
    if not raw:
        raise InvalidInput(f"{what} is empty: give a time (2026-12-24T09:00+01:00) or a "
                           "duration (2h, 90m)")
    match = _DURATION.match(raw)
    if match:
        return now + timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).lower()])
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{what} {raw!r} is neither a time (2026-12-24T09:00+01:00) nor a "
                           "duration (2h, 90m)") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def add_window(mailboxes: Iterable[str], domain: str | None, everything: bool, until: str,
               now: datetime, starts: str | None = None, note: str = "") -> list[Window]:
    """Validate everything first, then store one window per mailbox (or one for the domain or
    for everything). Nothing is stored when any input is bad."""
    emails = [e for e in mailboxes if e is not None]
    chosen = sum((bool(emails), domain is not None, everything))
    if chosen != 1:
        raise InvalidInput("name the mailboxes, or --domain D, or --all (exactly one of them)")
    start = parse_when(starts, now, "--from") if starts else now
    end = parse_when(until, now, "--until")
    if end <= start:
        raise InvalidInput("--until must be after the window's start")
    if end <= now:
        raise InvalidInput("--until is in the past: a window must end in the future")
    if end - now > MAX_AHEAD:
        raise InvalidInput("a maintenance window ends within a year")
    text = (note or "").strip()
    if len(text) > MAX_NOTE or "\n" in text:
        raise InvalidInput(f"--note is one line of at most {MAX_NOTE} characters")
    targets: list[tuple[str, str]] = []
    if everything:
        targets.append(("all", ""))
    elif domain is not None:
        name = domain.strip().lstrip("@").lower()
        if not name:
            raise InvalidInput("--domain is empty")
        targets.append(("domain", validate_host(name, "--domain")))
    else:
        for email in emails:
            address = normalize_email(email)
            if account_by_email(address) is None:
                raise InvalidInput(f"no mailbox {address}")
            targets.append(("mailbox", address.lower()))
    rows = [Maintenance.create(scope=scope, target=target, starts_at=start, ends_at=end,
                               note=text, created_at=now) for scope, target in targets]
    return [_window(r) for r in rows]


def windows(now: datetime, include_past: bool = False) -> list[Window]:
    query = Maintenance.select().where(Maintenance.removed_at.is_null())
    if not include_past:
        query = query.where(Maintenance.ends_at > now)
    return [_window(r) for r in query.order_by(Maintenance.starts_at, Maintenance.id)]


def remove_window(window_id: int, now: datetime) -> Window:
    """End a window now (kept for the timeline). Raises InvalidInput for an unknown id."""
    row = Maintenance.get_or_none((Maintenance.id == window_id)
                                  & Maintenance.removed_at.is_null())
    if row is None or row.ends_at <= now:
        raise InvalidInput(f"no current maintenance window {window_id}")
    Maintenance.update(removed_at=now, ends_at=max(row.starts_at, now)).where(
        Maintenance.id == row.id).execute()
    return _window(Maintenance.get_by_id(row.id))


def active_windows(now: datetime) -> list[Window]:
    return [w for w in windows(now) if w.starts_at <= now < w.ends_at]


def covers(active: Iterable[Window], email: str) -> bool:
    return any(w.covers(email) for w in active)


def covers_everything(active: Iterable[Window]) -> bool:
    return any(w.scope == "all" for w in active)


def muted_periods(account: Account, start: datetime, end: datetime
                  ) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end) a window covered for this mailbox (removed ones up to their
    removal), merged and in order: the timeline hatches them, uptime leaves them out."""
    return muted_periods_of([account.email], start, end).get(account.email.lower(), [])


def muted_periods_of(emails: Iterable[str], start: datetime, end: datetime
                     ) -> dict[str, list[tuple[datetime, datetime]]]:
    """`muted_periods` of many mailboxes (lower-case address → periods; only those with
    any), from one read of the windows."""
    found = [_window(r) for r in Maintenance.select().where(
        (Maintenance.starts_at < end) & (Maintenance.ends_at > start))]
    if not found:
        return {}
    periods: dict[str, list[tuple[datetime, datetime]]] = {}
    for email in emails:
        spans = sorted((max(w.starts_at, start), min(w.ends_at, end)) for w in found
                       if w.covers(email) and max(w.starts_at, start) < min(w.ends_at, end))
        merged: list[tuple[datetime, datetime]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        if merged:
            periods[email.lower()] = merged
    return periods
