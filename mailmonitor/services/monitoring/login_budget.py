"""Checks that never lock a mailbox out: a budget of failed logins per server and per mailbox.

Mail servers ban an address that fails to sign in too often (mailcow: 10 failures in 10 minutes;
fail2ban setups are often stricter), and a ban breaks every mailbox of that server, not only the
one with the wrong password. So before any sign-in attempt of a check (IMAP LOGIN or AUTHENTICATE,
SMTP AUTH) the probe asks this budget (`MailboxGate.begin`, called by the probes right before the
command): at most `per_server` failed logins to one server across all its mailboxes, and
`per_mailbox` of one mailbox, within `window` (settings `login_budget_server`,
`login_budget_mailbox`, `login_budget_minutes`: 3, 3, 10). An attempt that could exceed it is not
made: the probe answers "held back: 3 failed logins to imap.x in 10 min", and the check is
recorded as held back — no status change, no failure counted, tried again when the budget frees.

Counting is strict: an attempt in flight counts as a possible failure until the server answered,
so twenty checks running side by side still cannot fail more than the budget (the cap holds only
the sign-in command itself; connecting, TLS and opening the inbox run side by side as before).
A failed login is one authentication attempt as the server counts it (the probes try exactly one
mechanism per side).

Shared through the database: each refused login is a `LoginFailure` row (server, mailbox, at),
read by every copy of a team; `sync()` (on the thread that owns the database: the loop's, the
command line's) writes this process's new failures and reads everyone's. Attempts are gated in
the probes' worker threads against this process's view: the rows read at the last sync plus its
own failures since, so a copy sees its own failures at once and the others' within a second.

Check rows were not reused for this: a check records one combined result (a confirming re-check
replaces the first answer, and a failed wizard test is never stored), while the budget needs
every attempt, per server, including those of mailboxes not added yet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailmonitor.clock import Clock, SystemClock
from mailmonitor.models import LoginFailure, get_setting
from mailmonitor.models.base import db

log = logging.getLogger(__name__)

SYNC_INTERVAL = 1.0  # seconds: how stale another copy's failures may be (reads are cheap)
PRUNE_INTERVAL = timedelta(hours=1)


@dataclass(frozen=True)
class Limits:
    per_server: int = 3
    per_mailbox: int = 3
    window: timedelta = timedelta(minutes=10)

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(per_server=max(1, int(get_setting("login_budget_server"))),
                   per_mailbox=max(1, int(get_setting("login_budget_mailbox"))),
                   window=timedelta(minutes=max(1.0, float(get_setting("login_budget_minutes")))))


class LoginHeld(Exception):
    """The budget holds this sign-in back; `retry_at` is when it frees up (the budget's clock)."""

    def __init__(self, message: str, retry_at: datetime | None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_at = retry_at


@dataclass(frozen=True)
class Failure:
    server: str
    mailbox: str
    at: datetime
    protocol: str = ""


def _minutes(window: timedelta) -> str:
    minutes = window.total_seconds() / 60
    return f"{minutes:g} min"


class LoginBudget:
    """The process's view of recent failed logins and of the sign-ins in flight. Thread-safe:
    probes call `begin`/`end` from worker threads; `sync` runs where the database is used."""

    def __init__(self, clock: Clock | None = None, limits: Limits | None = None) -> None:
        self.clock = clock or SystemClock()
        self._fixed_limits = limits
        self.limits = limits or Limits()
        self._cond = threading.Condition()
        self._stored: list[Failure] = []  # every copy's, as read at the last sync
        self._pending: list[Failure] = []  # this process's, not stored yet
        self._storing: list[Failure] = []  # this process's, being stored by `sync`
        self._in_flight: dict[str, int] = defaultdict(int)  # per server
        self._in_flight_mailbox: dict[str, int] = defaultdict(int)
        self._accepted_at: dict[str, datetime] = {}  # per server: the last sign-in it accepted
        self._database: object | None = None
        self._read_at = -SYNC_INTERVAL
        self._pruned_at: datetime | None = None

    # --- the database (its owner's thread) ------------------------------------------------------

    def sync(self, force: bool = False) -> None:
        """Store this process's new failures and read every copy's within the window (at most
        once a `SYNC_INTERVAL` unless `force`d or something was stored). Without a database
        open (a probe test), only this process's view counts."""
        database = db.obj
        if database is None or database.is_closed():
            return
        with self._cond:
            if database is not self._database:  # another database: what was known is not its
                self._database = database
                self._stored, self._storing, self._pending = [], [], []
                self._accepted_at.clear()
                force = True
            # Being stored, they still count until the read below has them.
            self._storing, self._pending = self._pending, []
            storing = list(self._storing)
        if storing:
            try:
                LoginFailure.insert_many([
                    {"server": f.server, "mailbox": f.mailbox, "at": f.at,
                     "protocol": f.protocol} for f in storing]).execute()
            except BaseException:
                with self._cond:  # kept for the next sync
                    self._pending = storing + self._pending
                    self._storing = []
                raise
            force = True
        if not force and time.monotonic() - self._read_at < SYNC_INTERVAL:
            return
        if self._fixed_limits is None:
            self.limits = Limits.from_settings()
        now = self.clock.now()
        since = now - self.limits.window
        rows = [Failure(server, mailbox, at, protocol) for server, mailbox, at, protocol in
                LoginFailure.select(LoginFailure.server, LoginFailure.mailbox, LoginFailure.at,
                                    LoginFailure.protocol)
                .where(LoginFailure.at > since).tuples()]
        self._read_at = time.monotonic()
        with self._cond:
            # What this process failed meanwhile (after the read began) stays pending.
            self._stored, self._storing = rows, []
            self._cond.notify_all()
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_INTERVAL:
            self._pruned_at = now
            LoginFailure.delete().where(LoginFailure.at < now - max(
                self.limits.window * 6, timedelta(hours=1))).execute()

    # --- the gate (any thread) ------------------------------------------------------------------

    def _recent(self, now: datetime) -> list[Failure]:
        since = now - self.limits.window
        return [f for f in (*self._stored, *self._storing, *self._pending) if f.at > since]

    def _held(self, failures: list[Failure], what: str) -> LoginHeld:
        oldest = min(f.at for f in failures)
        words = (f"held back: {len(failures)} failed login{'s' if len(failures) != 1 else ''} "
                 f"{what} in {_minutes(self.limits.window)}")
        return LoginHeld(words, oldest + self.limits.window)

    def check(self, server: str, mailbox: str) -> LoginHeld | None:
        """Whether a sign-in to `server` for `mailbox` would be held back now (not counting
        attempts in flight): the words and when it frees up, or None."""
        with self._cond:
            return self._verdict(server.lower(), mailbox.lower(), self.clock.now())

    def _verdict(self, server: str, mailbox: str, now: datetime) -> LoginHeld | None:
        recent = self._recent(now)
        at_server = [f for f in recent if f.server == server]
        if len(at_server) >= self.limits.per_server:
            return self._held(at_server, f"to {server}")
        of_mailbox = [f for f in recent if f.mailbox == mailbox]
        if len(of_mailbox) >= self.limits.per_mailbox:
            return self._held(of_mailbox, f"of {mailbox}")
        return None

    def begin(self, server: str, mailbox: str, wait: float) -> None:
        """Before one sign-in attempt: returns when it may be made (it is then in flight until
        `end`), raises LoginHeld when the budget is spent. While only attempts in flight stand
        in the way, it waits for them (at most `wait` seconds)."""
        server, mailbox = server.lower(), mailbox.lower()
        deadline = time.monotonic() + max(0.0, wait)
        with self._cond:
            while True:
                now = self.clock.now()
                held = self._verdict(server, mailbox, now)
                if held is not None:
                    raise held
                recent = self._recent(now)
                failed_here = sum(1 for f in recent if f.server == server)
                failed_mine = sum(1 for f in recent if f.mailbox == mailbox)
                if failed_here + self._in_flight[server] < self.limits.per_server and \
                        failed_mine + self._in_flight_mailbox[mailbox] < self.limits.per_mailbox:
                    self._in_flight[server] += 1
                    self._in_flight_mailbox[mailbox] += 1
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LoginHeld(
                        f"held back: {self._in_flight[server]} other sign-ins to {server} were "
                        f"still waiting for an answer (and {failed_here} failed in "
                        f"{_minutes(self.limits.window)})", now + timedelta(minutes=1))
                self._cond.wait(min(left, 1.0))

    def end(self, server: str, mailbox: str, protocol: str, refused: bool,
            accepted: bool) -> None:
        """After the attempt `begin` allowed: `refused` when the server refused the sign-in (a
        failed login as it counts them), `accepted` when it let the mailbox in."""
        server, mailbox = server.lower(), mailbox.lower()
        with self._cond:
            self._in_flight[server] = max(0, self._in_flight[server] - 1)
            self._in_flight_mailbox[mailbox] = max(0, self._in_flight_mailbox[mailbox] - 1)
            now = self.clock.now()
            if refused:
                self._pending.append(Failure(server, mailbox, now, protocol))
                log.info("%s refused the sign-in of %s (%s): %d failed logins to it in %s",
                         server, mailbox, protocol,
                         sum(1 for f in self._recent(now) if f.server == server),
                         _minutes(self.limits.window))
            elif accepted:
                self._accepted_at[server] = now
            self._cond.notify_all()

    def proven(self, servers: tuple[str, ...]) -> bool:
        """Each server accepted a sign-in from this process within the window and refused none
        since: checks of mailboxes not proven yet may run side by side there (the gate still
        caps what is in flight)."""
        with self._cond:
            now = self.clock.now()
            recent = self._recent(now)
            for server in (s.lower() for s in servers):
                accepted = self._accepted_at.get(server)
                if accepted is None or now - accepted > self.limits.window:
                    return False
                if any(f.server == server and f.at >= accepted for f in recent):
                    return False
            return True

    def for_mailbox(self, mailbox: str) -> MailboxGate:
        return MailboxGate(self, mailbox)


@dataclass(frozen=True)
class MailboxGate:
    """The budget as one mailbox's probes see it (`Endpoint.gate`)."""

    budget: LoginBudget
    mailbox: str

    def begin(self, host: str, wait: float) -> None:
        self.budget.begin(host, self.mailbox, wait)

    def end(self, host: str, protocol: str, refused: bool, accepted: bool) -> None:
        self.budget.end(host, self.mailbox, protocol, refused, accepted)


class ServerTurns:
    """Checks of mailboxes whose sign-in is not proven — new, disconnected, or tested with a
    password typed now — take turns per server until the server accepted a sign-in from this
    process: ten new mailboxes with a wrong password then cost the budget one mailbox's check
    and its confirming re-check (which reach a verdict), not one attempt each (which reach
    none). Mailboxes that signed in before, and any mailbox once its server accepted one, run
    side by side; the budget's gate still caps what is in flight."""

    def __init__(self, budget: LoginBudget) -> None:
        self.budget = budget
        self._busy: set[str] = set()
        self._cond = threading.Condition()

    def _take(self, servers: frozenset[str]) -> bool:
        if self._busy.isdisjoint(servers):
            self._busy |= servers
            return True
        return False

    def enter(self, servers: frozenset[str], wait: float) -> bool:
        """Blocking (a worker thread): True when the turn was taken (call `leave`), False when
        none is needed (the servers are proven) or after `wait` seconds (the gate still holds
        back what the budget cannot afford)."""
        deadline = time.monotonic() + wait
        with self._cond:
            while True:
                if self.budget.proven(tuple(servers)):
                    return False
                if self._take(servers):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.25))

    async def enter_async(self, servers: frozenset[str], wait: float) -> bool:
        """`enter` for the event loop (polls instead of blocking it)."""
        import asyncio

        deadline = time.monotonic() + wait
        while True:
            if self.budget.proven(tuple(servers)):
                return False
            with self._cond:
                if self._take(servers):
                    return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)

    def leave(self, servers: frozenset[str]) -> None:
        with self._cond:
            self._busy -= servers
            self._cond.notify_all()


_default: LoginBudget | None = None
_default_lock = threading.Lock()


def default_budget() -> LoginBudget:
    """The process's budget on the system clock (the window, `check`, the command line's tests
    of a mailbox share it). A monitor on another clock makes its own."""
    global _default
    with _default_lock:
        if _default is None:
            _default = LoginBudget()
        return _default


def forget_default_budget() -> None:
    """Tests: the next `default_budget()` starts empty."""
    global _default
    with _default_lock:
        _default = None
