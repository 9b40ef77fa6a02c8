"""Leases: each mailbox is checked and sent from by exactly one running copy at a time.

Every few seconds a copy's `LeaseKeeper.renew()` (blocking: run it in a worker thread)
1. writes its `Runner` heartbeat (and which mailboxes its keyring can serve),
2. extends the leases it holds that have not expired,
3. takes free or expired leases of mailboxes whose secret its keyring holds, with
   `SELECT … FOR UPDATE SKIP LOCKED` so that two copies never take the same one and never wait
   on each other.
Copies share the work: a mailbox only one copy can serve is always taken by it; of the mailboxes
others can serve too, each copy takes up to its fair share (those divided by the live copies
that could serve some of them) and hands its surplus back. (The share once counted the mailboxes
only this copy serves too: a copy with two of its own and four shared took one shared, its peer
two, and the sixth mailbox stayed unserved for ever.) A mailbox no copy took for a whole
renewal is taken by one that can serve it, whatever its share.
A holder that dies (kill -9, a laptop lid) stops renewing: after `expires_at` another eligible
copy takes the mailbox. A holder that was only suspended notices it lost the lease at its next
renewal, and before that the send fence (`held_condition`) refuses to hand over an email of a
mailbox it no longer holds — so an email cannot be handed to the server by two copies.

Times come from the injectable clock; machines of a team keep their clocks in sync (NTP), and the
lease length (default 30 s) is far larger than their skew.
"""

from __future__ import annotations

import logging
import os
import secrets as pysecrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import peewee as pw

from mailmonitor.clock import Clock
from mailmonitor.events import ACCOUNT_CHANGED, bus
from mailmonitor.models import Account, MailboxLease, Runner, db, is_postgres
from mailmonitor.services.auth import secrets

log = logging.getLogger(__name__)

ENV_LEASE_SECONDS = "MAILMONITOR_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 30.0
SECRET_RECHECK = timedelta(seconds=60)  # how often "does my keyring hold it?" is asked again
NEVER = datetime(1970, 1, 1)


def new_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{pysecrets.token_hex(3)}"


def keyring_holds_secret(account: Account) -> bool:
    """Can this copy log in to the mailbox (its secret is in this computer's keyring)?"""
    kinds = ("refresh_token", "msal_cache") if account.is_oauth else ("password",)
    try:
        return any(secrets.get_secret(account.email, kind) for kind in kinds)
    except secrets.SecretStoreError:
        return False


def team_mode() -> bool:
    """Leases are needed where several processes share the database (PostgreSQL)."""
    return is_postgres(db.obj)


@dataclass
class RenewReport:
    held: set[int] = field(default_factory=set)
    taken: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)


class LeaseKeeper:
    def __init__(self, clock: Clock, *, holder: str | None = None, machine: str | None = None,
                 kind: str = "headless", lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 has_secret: Callable[[Account], bool] = keyring_holds_secret) -> None:
        self.clock = clock
        self.holder = holder or new_holder_id()
        self.machine = machine or socket.gethostname()
        self.kind = kind
        self.ttl = timedelta(seconds=max(1.0, lease_seconds))
        self.has_secret = has_secret
        self.held: set[int] = set()
        self.keys: dict[str, str] = {}  # the hand-over key it publishes (handover.Inbox)
        self._free_before: set[int] = set()  # shared mailboxes nobody held at the last renewal
        self._secret_seen: dict[int, tuple[datetime, bool]] = {}
        self._started = clock.now()

    # --- what this copy may serve ---------------------------------------------------------------

    def eligible(self, now: datetime) -> set[int]:
        """Mailboxes this copy could serve: not removed, and their secret is in its keyring."""
        out: set[int] = set()
        for account in Account.select().where(Account.removed_at.is_null()):
            seen = self._secret_seen.get(account.id)
            if seen is None or now - seen[0] >= SECRET_RECHECK:
                seen = (now, bool(self.has_secret(account)))
                self._secret_seen[account.id] = seen
            if seen[1]:
                out.add(account.id)
        return out

    def forget_secret_cache(self, account_id: int | None = None) -> None:
        """After a reconnect stored a new secret: ask the keyring again at the next renewal."""
        if account_id is None:
            self._secret_seen.clear()
        else:
            self._secret_seen.pop(account_id, None)

    # --- renewing -------------------------------------------------------------------------------

    def renew(self) -> RenewReport:
        now = self.clock.now()
        expires = now + self.ttl
        eligible = self.eligible(now)
        report = RenewReport()
        self._heartbeat(now, expires, eligible)
        with db.atomic():
            # Rows for mailboxes that have none yet (free from the start).
            missing = Account.select(Account.id).where(
                Account.id.in_(list(eligible))
                & Account.id.not_in(MailboxLease.select(MailboxLease.account)))
            rows = [{"account": a, "expires_at": NEVER} for (a,) in missing.tuples()]
            if rows:
                MailboxLease.insert_many(rows).on_conflict_ignore().execute()
        with db.atomic():
            # Extend what is still ours (an expired lease is not revived: someone may have it).
            kept = {a for (a,) in MailboxLease.select(MailboxLease.account).where(
                (MailboxLease.holder == self.holder) & (MailboxLease.expires_at > now)
                & MailboxLease.account.in_(list(eligible))).tuples()}
            if kept:
                MailboxLease.update(heartbeat_at=now, expires_at=expires).where(
                    (MailboxLease.holder == self.holder)
                    & MailboxLease.account.in_(list(kept))).execute()
        others = self._other_copies(now, eligible)
        pool = {a for a in eligible if others_can_serve(others, a)}
        share = -(-len(pool) // (len(others) + 1))  # ceil
        kept_shared = kept & pool
        surplus = sorted(kept_shared, reverse=True)[:max(0, len(kept_shared) - share)]
        if surplus:  # another copy takes them at its next renewal
            with db.atomic():
                MailboxLease.update(holder=None, expires_at=now).where(
                    (MailboxLease.holder == self.holder)
                    & MailboxLease.account.in_(surplus)).execute()
            kept -= set(surplus)
        with db.atomic():
            # Only the rows it takes are locked (SKIP LOCKED passes over rows another copy is
            # taking at this moment): the ones only it can serve, then up to its share.
            candidates = eligible - kept - set(surplus)
            only_mine = [a for a in candidates if not others_can_serve(others, a)]
            shared = [a for a in candidates if others_can_serve(others, a)]
            free = self._lock_free(now, only_mine, None)
            room = share - len(kept_shared - set(surplus))
            if room > 0 and shared:
                free += self._lock_free(now, shared, room)
            # Nobody took these since the last renewal (the copies' shares did not add up,
            # e.g. a copy that stopped renewing is still counted): served here rather than not.
            orphans = sorted((self._free_before & set(shared))
                             - {row.account_id for row in free})
            if orphans:
                free += self._lock_free(now, orphans, None)
            if free:
                MailboxLease.update(
                    holder=self.holder, machine=self.machine, taken_at=now, heartbeat_at=now,
                    expires_at=expires, generation=MailboxLease.generation + 1,
                ).where(MailboxLease.id.in_([row.id for row in free])).execute()
                report.taken = sorted(row.account_id for row in free)
        report.held = kept | set(report.taken)
        # (What it just handed back is left to the others for a whole renewal first.)
        self._free_before = self._free_of(now, pool - report.held - set(surplus))
        report.lost = sorted(self.held - report.held)
        if report.taken:
            log.info("now serving mailboxes %s", report.taken)
        if report.lost:
            log.warning("no longer serving mailboxes %s (their lease expired)", report.lost)
        self.held = report.held
        for account_id in [*report.taken, *report.lost]:  # the windows show who serves it
            bus.emit(ACCOUNT_CHANGED, account_id, None, None)
        return report

    def _lock_free(self, now: datetime, accounts: list[int], limit: int | None
                   ) -> list[MailboxLease]:
        if not accounts:
            return []
        query = MailboxLease.select(MailboxLease.id, MailboxLease.account).where(
            MailboxLease.account.in_(accounts)
            & (MailboxLease.holder.is_null() | (MailboxLease.expires_at <= now))
        ).order_by(MailboxLease.id)
        if limit is not None:
            query = query.limit(limit)
        return list(query.for_update("FOR UPDATE SKIP LOCKED"))

    def _free_of(self, now: datetime, accounts: set[int]) -> set[int]:
        """Which of these mailboxes no live copy holds now."""
        if not accounts:
            return set()
        return {a for (a,) in MailboxLease.select(MailboxLease.account).where(
            MailboxLease.account.in_(list(accounts))
            & (MailboxLease.holder.is_null() | (MailboxLease.expires_at <= now))).tuples()}

    def _other_copies(self, now: datetime, eligible: set[int]) -> list[set[int]]:
        """What the other live copies can serve, for those that share a mailbox with us."""
        out = []
        for (can_serve,) in Runner.select(Runner.can_serve).where(
                (Runner.holder != self.holder) & (Runner.expires_at > now)).tuples():
            theirs = set(can_serve or ()) & eligible
            if theirs:
                out.append(theirs)
        return out

    def _heartbeat(self, now: datetime, expires: datetime, eligible: set[int]) -> None:
        values = {"machine": self.machine, "pid": os.getpid(), "kind": self.kind,
                  "heartbeat_at": now, "expires_at": expires, "can_serve": sorted(eligible),
                  **self.keys}
        Runner.insert(holder=self.holder, started_at=self._started, **values).on_conflict(
            conflict_target=[Runner.holder],
            update={getattr(Runner, k): v for k, v in values.items()}).execute()
        # Copies that stopped renewing long ago are forgotten (their leases expired already).
        Runner.delete().where(Runner.expires_at < now - self.ttl * 20).execute()

    def release_all(self) -> None:
        """A graceful stop: hand every mailbox over at once instead of after the expiry."""
        now = self.clock.now()
        with db.atomic():
            MailboxLease.update(holder=None, expires_at=now).where(
                MailboxLease.holder == self.holder).execute()
            Runner.delete().where(Runner.holder == self.holder).execute()
        self.held = set()

    def held_condition(self, account_id: int | pw.Node) -> pw.Expression:
        """SQL that is true while this copy holds the mailbox's lease (the send fence)."""
        return pw.fn.EXISTS(MailboxLease.select(pw.SQL("1")).where(
            (MailboxLease.account == account_id) & (MailboxLease.holder == self.holder)
            & (MailboxLease.expires_at > self.clock.now())))

    def still_holds(self, account_id: int) -> bool:
        return bool(db.execute(MailboxLease.select(pw.SQL("1")).where(
            (MailboxLease.account == account_id) & (MailboxLease.holder == self.holder)
            & (MailboxLease.expires_at > self.clock.now()))).fetchone())


def checkable_here() -> set[int] | None:
    """For `mailmonitor check` on a team database: the mailboxes whose secret this computer's
    keyring holds (the others are checked by the copies that serve them: without the secret a
    check here would wrongly report them disconnected). None on SQLite: all of them."""
    if not team_mode():
        return None
    return {a.id for a in Account.select().where(Account.removed_at.is_null())
            if keyring_holds_secret(a)}


def others_can_serve(others: list[set[int]], account_id: int) -> bool:
    return any(account_id in theirs for theirs in others)


def lease_seconds_from_env() -> float:
    raw = os.environ.get(ENV_LEASE_SECONDS, "").strip()
    try:
        return max(1.0, float(raw)) if raw else DEFAULT_LEASE_SECONDS
    except ValueError:
        log.warning("ignoring %s=%r (not a number of seconds)", ENV_LEASE_SECONDS, raw)
        return DEFAULT_LEASE_SECONDS


@dataclass(frozen=True)
class Serving:
    """Who serves one mailbox, for the window: a machine, or nobody."""

    machine: str | None
    holder: str | None

    @property
    def text(self) -> str:
        if self.machine is None:
            return "no running copy can send for this mailbox"
        return f"served by {self.machine}"


def serving_by_account(now: datetime, account_ids: list[int] | None = None
                       ) -> dict[int, Serving]:
    """Every live lease, or those of a few mailboxes (on SQLite: empty; this copy serves
    everything)."""
    if not team_mode():
        return {}
    query = MailboxLease.select(MailboxLease.account, MailboxLease.machine,
                                MailboxLease.holder).where(
        MailboxLease.holder.is_null(False) & (MailboxLease.expires_at > now))
    if account_ids is not None and len(account_ids) <= 500:
        query = query.where(MailboxLease.account.in_(account_ids))
    return {a: Serving(m, h) for a, m, h in query.tuples()}


def serving_text(account_id: int, now: datetime) -> str | None:
    """What the window says about who serves the mailbox; None on SQLite (nothing to say)."""
    return serving_texts([account_id], now).get(account_id)


def serving_texts(account_ids: list[int], now: datetime) -> dict[int, str]:
    """`serving_text` of many mailboxes in one query; empty on SQLite."""
    if not team_mode() or not account_ids:
        return {}
    serving = serving_by_account(now, account_ids)
    nobody = Serving(None, None)
    return {a: serving.get(a, nobody).text for a in account_ids}
