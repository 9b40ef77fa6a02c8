"""Provider changes and this team's mailboxes: which changes hit which mailboxes, read from the
database for the attention model (`policy_mailboxes`), the mailbox's detail in the window
(`changes_for`) and `mailmonitor policies` (`report`).

The changes themselves and the pure matcher are in ``services/common/policies.py``. A mailbox's
volume is its domain's: what the team's live mailboxes of that domain may send in a day (the sum
of their daily limits), because the providers count bulk senders per sending domain — looking at
what the mailboxes may send, not at what they sent, says it before the volume is reached.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NamedTuple

from mailmonitor.models import Account
from mailmonitor.models.fast_sql import Statement
from mailmonitor.services.alerts.attention import PolicyMailbox
from mailmonitor.services.common.policies import (
    Change,
    ChangeHit,
    MailboxProfile,
    changes_hitting,
    hits,
    known_changes,
    matches,
    shipped,
)
from mailmonitor.services.common.reasons import Status

_COLUMNS = (Account.id, Account.email, Account.kind, Account.auth_method, Account.imap_host,
            Account.smtp_host, Account.daily_limit, Account.status)


def _domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def _volumes(rows: Iterable[Any]) -> dict[str, int]:
    """Per domain: what its mailboxes may send a day (a stopped one sends nothing)."""
    volume: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.status != Status.STOPPED.value:
            volume[_domain(row.email)] += int(row.daily_limit or 0)
    return volume


def _profile(row: Any, volumes: dict[str, int], answer: str) -> MailboxProfile:
    return MailboxProfile(email=row.email, kind=row.kind or "imap",
                          imap_host=row.imap_host or "", smtp_host=row.smtp_host or "",
                          sign_in=row.auth_method or "password",
                          daily_volume=volumes.get(_domain(row.email), 0), answer=answer)


class _Row(NamedTuple):
    id: int
    email: str
    kind: str
    auth_method: str
    imap_host: str
    smtp_host: str
    daily_limit: int
    status: str


# Every live mailbox, a handful of columns each, read on every reconcile: SQL rendered once, rows
# as the driver gives them (a thousand peewee rows cost ten times more than the query).
_LIVE = Statement(lambda _: Account.select(*_COLUMNS).where(Account.removed_at.is_null())
                  .order_by(Account.email))


def _live_rows() -> list[_Row]:
    return [_Row(*row) for row in _LIVE.execute().fetchall()]


def live_changes(today: date, warning_days: int) -> tuple[Change, ...]:
    """The known changes the attention model can speak of today: in effect, or within their
    warning period."""
    return tuple(c for c in known_changes()
                 if today >= c.effective - timedelta(days=warning_days))


def policy_mailboxes(details: dict[int, str], muted: Callable[[str], bool],
                     changes: tuple[Change, ...]) -> tuple[PolicyMailbox, ...]:
    """The live mailboxes that `changes` hit, as the attention model reads them (it decides
    the rest: who is named, muted, inhibited). `details`: the server's words of the mailboxes
    that are not connected (where markers are looked for); `muted`: inside a maintenance window.

    One light query of a handful of columns per mailbox; mailboxes alike in what a change looks
    at (provider, sign-in method, volume) are matched once, and only the ones hit become facts,
    as `facts` reads only the mailboxes that can give a condition."""
    if not changes:
        return ()
    rows = _live_rows()
    volumes = _volumes(rows)
    fits: dict[tuple[object, ...], bool] = {}
    found = []
    for row in rows:
        if row.status == Status.STOPPED.value:
            continue
        answer = details.get(row.id, "")
        key = (row.kind, row.imap_host, row.smtp_host, row.auth_method,
               volumes.get(_domain(row.email), 0))
        fit = fits.get(key)
        if fit is None:
            fit = fits[key] = any(matches(c.hits, _profile(row, volumes, "")) for c in changes)
        if fit or (answer and any(c.marks(answer) for c in changes)):
            found.append(PolicyMailbox(row.id, row.status, _profile(row, volumes, answer),
                                       muted(row.email)))
    return tuple(found)


def _answer(account: Account) -> str:
    return "" if account.status == Status.CONNECTED.value else str(account.detail or "")


def changes_for(account: Account, today: date | None = None) -> list[ChangeHit]:
    """The known changes that hit this mailbox, soonest first, each upcoming or in effect (and
    whether its server's last answer carries the change's marker): what the mailbox's detail
    shows. `today`: the UTC date (default: now)."""
    from mailmonitor.clock import utcnow

    day = today or utcnow().date()
    same_domain = (Account.select(Account.email, Account.daily_limit, Account.status)
                   .where(Account.removed_at.is_null()
                          & Account.email.endswith("@" + _domain(account.email))).namedtuples())
    volumes = _volumes([r for r in same_domain if _domain(r.email) == _domain(account.email)])
    return changes_hitting(_profile(account, volumes, _answer(account)), day)


@dataclass(frozen=True)
class ChangeReport:
    """One known change as `mailmonitor policies` lists it."""

    change: Change
    status: str  # upcoming | in_effect (by its date)
    mailboxes: tuple[str, ...]  # this team's addresses it hits now


def report(today: date) -> tuple[str, list[ChangeReport]]:
    """The list's version and every known change, soonest date first, with the team's mailboxes
    it hits (whatever the warning period: this is the whole radar). Raises PolicyError when the
    shipped list is damaged."""
    radar = shipped()
    full = {a.id: a for a in Account.select().where(
        Account.removed_at.is_null() & (Account.status != Status.CONNECTED.value))}
    rows = _live_rows()
    volumes = _volumes(rows)
    profiles = [_profile(r, volumes, _answer(full[r.id]) if r.id in full else "") for r in rows
                if r.status != Status.STOPPED.value]
    found = []
    for change in sorted(radar.changes, key=lambda c: (c.effective, c.id)):
        hit = tuple(p.email for p in profiles if hits(change, p, today) is not None)
        found.append(ChangeReport(change, change.status_on(today), hit))
    return radar.version, found
