"""Is the team database there? What a running copy does when its PostgreSQL goes away.

A restart, a failover or a cut network ends every connection of every copy at once. Without
care each loop of a copy meets the same error on every tick (the log fills within a minute),
mailboxes wait an hour behind "unexpected error" backoffs and nothing says why. Instead:

- the first database error that means "the server is out of reach" (models.database.
  is_connection_lost) makes the copy's `DatabaseLink` hold everything and ask the server at
  once with a connection of its own: an error that was only a stale connection (the server
  restarted in the meantime) or the late report of an operation begun during the outage ends
  there, silently; a server that does not answer makes the link *unreachable*: one line in
  the log, and a fact the window can show ("Team database unreachable since 14:02 — sending
  held");
- meanwhile nothing touches the database: no sends, no checks, no lease renewals (the leases
  lapse by themselves; the send fence refuses to hand an email over on a lapsed lease anyway);
- the link probes the server with a connection of its own, after 0.5, 1, 2, 4, 8 s and then
  every 10 s, so a server that is back is noticed within about 10 s; the copy's threads reopen
  their connections as they need them (ReconnectingPostgresqlDatabase);
- back: one line ("reachable again after 1 min 12 s"), the leases are renewed at once (those
  that lapsed are taken again, or by another copy) and sending resumes;
- a copy that cannot reach it for `give_up_after` (the setting
  `team_database_give_up_minutes`, default 10; MAILMONITOR_DATABASE_GIVE_UP in seconds
  overrides it) stops with exit status 1 and one line on stderr, so a service manager starts
  it again (a window never gives up: it keeps saying so and keeps trying).
Times come from the injectable clock (tests walk a link through an outage without sleeping).
SQLite is not a server: none of this runs for it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import peewee as pw

from mailmonitor.clock import Clock
from mailmonitor.events import bus
from mailmonitor.models.database import first_line, is_connection_lost
from mailmonitor.wording import duration_words

log = logging.getLogger(__name__)

ENV_GIVE_UP = "MAILMONITOR_DATABASE_GIVE_UP"
GIVE_UP_SETTING = "team_database_give_up_minutes"
DEFAULT_GIVE_UP = timedelta(minutes=10)
PROBE_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 10.0)  # seconds; the last repeats
PROBE_TIMEOUT_SECONDS = 5
# Announced on the local event bus (never over LISTEN/NOTIFY: the database is what is gone).
REACHABILITY_CHANGED = "team_database_reachability"  # args: the Outage, or None when back


@dataclass(frozen=True)
class Outage:
    """The team database cannot be reached since `since` (naive UTC), last error `error`."""

    since: datetime
    error: str

    def local_since(self) -> str:
        return self.since.replace(tzinfo=UTC).astimezone().strftime("%H:%M")

    @property
    def text(self) -> str:
        """The window's line."""
        return f"Team database unreachable since {self.local_since()} — sending held"


class DatabaseLink:
    """One copy's view of its team database: reachable, or unreachable since when.

    `lost(exc)` is called with any error of database work (True: it meant the server is out
    of reach); `probe()` (blocking, a worker thread) asks the server when `probe_due()`;
    `gave_up()` says the limit passed. `probe_fn` connects and disconnects, raising on
    failure."""

    def __init__(self, clock: Clock, probe_fn: Callable[[], None], *,
                 give_up_after: timedelta | None = DEFAULT_GIVE_UP) -> None:
        self.clock = clock
        self.probe_fn = probe_fn
        self.give_up_after = give_up_after  # None: never (a window)
        self.outage: Outage | None = None
        self.suspect: Outage | None = None  # an error seen, the server not asked yet
        self.failed_probes = 0
        self.next_probe_at: datetime | None = None
        self.outages = 0  # how many began (for tests and figures)

    @property
    def reachable(self) -> bool:
        """Nothing is in doubt: database work may go on."""
        return self.outage is None and self.suspect is None

    def lost(self, exc: BaseException) -> bool:
        """An error of database work: True when it means the server may be out of reach (the
        link holds everything and asks the server); False for anything else (the caller
        handles it as before)."""
        if not is_connection_lost(exc):
            return False
        if self.reachable:
            self.suspect = Outage(self.clock.now(), first_line(exc))
            self.failed_probes = 0
            self.next_probe_at = self.clock.now()  # asked at once
        return True

    def _unreachable(self, suspect: Outage) -> None:
        self.outage, self.suspect = suspect, None
        self.outages += 1
        limit = f"; stopping after {duration_words(self.give_up_after)} without it" \
            if self.give_up_after is not None else ""
        log.warning("team database unreachable (%s): sending and leases held, "
                    "reconnecting by itself%s", suspect.error, limit)
        bus.emit(REACHABILITY_CHANGED, suspect)

    def probe_due(self) -> bool:
        return not self.reachable and self.next_probe_at is not None \
            and self.clock.now() >= self.next_probe_at

    def seconds_to_probe(self) -> float:
        if self.reachable or self.next_probe_at is None:
            return PROBE_DELAYS[-1]
        return max(0.0, (self.next_probe_at - self.clock.now()).total_seconds())

    def probe(self) -> bool:
        """Ask the server now (blocking). True when it answers: the link is reachable again."""
        if self.reachable:
            return True
        try:
            self.probe_fn()
        except Exception as exc:
            if self.suspect is not None:
                self._unreachable(Outage(self.suspect.since, self.suspect.error))
            self.failed_probes += 1
            delay = PROBE_DELAYS[min(self.failed_probes - 1, len(PROBE_DELAYS) - 1)]
            self.next_probe_at = self.clock.now() + timedelta(seconds=delay)
            log.debug("team database still unreachable: %s", first_line(exc))
            return False
        now = self.clock.now()
        if self.outage is None:  # only a stale connection: it answers, nothing to say
            log.debug("team database answered after: %s", self.suspect)
            self.suspect = None
            self.next_probe_at = None
            return True
        away = now - self.outage.since
        log.info("team database reachable again after %s: sending resumes",
                 duration_words(away))
        self.outage = None
        self.next_probe_at = None
        bus.emit(REACHABILITY_CHANGED, None)
        return True

    def gave_up(self) -> bool:
        return self.outage is not None and self.give_up_after is not None \
            and self.clock.now() - self.outage.since >= self.give_up_after

    def give_up_line(self) -> str:
        """Why the copy stops (one line on stderr; the service manager restarts it)."""
        assert self.outage is not None
        return (f"the team database has been unreachable since {self.outage.local_since()} "
                f"({duration_words(self.clock.now() - self.outage.since)}; last error: "
                f"{self.outage.error}): stopping so that the service manager starts "
                "mailmonitor again")


def give_up_after_from_settings() -> timedelta:
    """MAILMONITOR_DATABASE_GIVE_UP (seconds), else the setting, else 10 minutes. Read while
    the database is there (at start): it cannot be read once the server is gone."""
    raw = os.environ.get(ENV_GIVE_UP, "").strip()
    if raw:
        try:
            return timedelta(seconds=max(1.0, float(raw)))
        except ValueError:
            log.warning("ignoring %s=%r (not a number of seconds)", ENV_GIVE_UP, raw)
    from mailmonitor.models import get_setting

    try:
        minutes = float(get_setting(GIVE_UP_SETTING))
    except (TypeError, ValueError, pw.DatabaseError):
        return DEFAULT_GIVE_UP
    return timedelta(minutes=max(1.0, minutes))


def server_probe(database: pw.Database) -> Callable[[], None]:
    """Connect with a connection of its own (peewee's per-thread ones, and the lock it holds
    while one connects, stay out of it), run SELECT 1, close."""
    def probe() -> None:
        import psycopg2

        params = dict(database.connect_params)
        params["connect_timeout"] = min(int(params.get("connect_timeout") or
                                            PROBE_TIMEOUT_SECONDS), PROBE_TIMEOUT_SECONDS)
        conn = psycopg2.connect(dbname=database.database, **params)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            conn.close()
    return probe


_current: list[DatabaseLink] = []  # this process's link (the window reads it)


def register(link: DatabaseLink | None) -> None:
    _current[:] = [link] if link is not None else []


def current_outage() -> Outage | None:
    """The team database is unreachable since when (None: reachable, or not a team)."""
    return _current[0].outage if _current else None
