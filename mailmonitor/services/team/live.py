"""Live updates between copies: PostgreSQL LISTEN/NOTIFY carries the event bus.

`LiveEvents.start()` (team database only)
- publishes what this copy's services announce (account, campaign, lead and alert changes) with
  `pg_notify` on the connection that made the change: inside a transaction it is delivered at
  commit, and not at all on a rollback — another copy never hears of a change it cannot read;
- listens on its own connection in a thread blocked in `select()` (no polling) and re-emits
  what other copies announced on this copy's bus, where the window's bridge picks it up like a
  local event. A lost listening connection is opened again every few seconds.
A payload carries the event's name and ids only; every copy reads the rows themselves.

One process publishes each event once and never sends back what it heard: at most one
publisher per bus (a newer `start()` takes over from an older one), the "relaying" mark is
shared by every instance in the thread, and notifications from any origin of this process are
ignored. (Two instances guarding only themselves echoed every event between them forever.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import threading
from typing import Any

import peewee as pw

from mailmonitor import events
from mailmonitor.models import db
from mailmonitor.models.database import first_line

log = logging.getLogger(__name__)

CHANNEL = "mailmonitor_events"
# A sign-in was sealed to a running copy (services/team/handover.py): args its fingerprint.
HANDOVER_WAITING = "handover_waiting"
CARRIED = (events.ACCOUNT_CHANGED, events.CAMPAIGN_CHANGED, events.LEADS_CHANGED,
           events.ALERTS_CHANGED, HANDOVER_WAITING)
RECONNECT_SECONDS = 5.0
MAX_PAYLOAD = 7000  # PostgreSQL's limit is 8000 bytes

_relaying = threading.local()  # set while an event heard from another copy is re-emitted
_local_origins: set[str] = set()  # every origin of this process: its notifications are ours
_publishers: dict[int, LiveEvents] = {}  # id(bus) -> the one instance publishing its events
_lock = threading.Lock()


class LiveEvents:
    def __init__(self, origin: str, database: pw.Database | None = None,
                 bus: events.EventBus | None = None) -> None:
        self.origin = origin  # this copy's holder id: its own notifications are not re-emitted
        self._database = database  # None: whatever the models are bound to
        self.bus = bus or events.bus
        with _lock:
            _local_origins.add(origin)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handlers = {name: self._publisher(name) for name in CARRIED}
        self.received = 0
        self.listening = threading.Event()  # set while the LISTEN connection is up

    @property
    def database(self) -> pw.Database:
        return self._database or db.obj

    # --- publishing ----------------------------------------------------------------------------

    def _publisher(self, name: str) -> events.Handler:
        def publish(*args: Any) -> None:
            if getattr(_relaying, "active", False):
                return  # an event that came from another copy: not sent back
            payload = json.dumps({"o": self.origin, "e": name, "a": list(args)})
            if len(payload) > MAX_PAYLOAD:
                return
            try:
                self.database.execute_sql("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
            except Exception as exc:  # the change itself is stored; others see it on refresh
                log.warning("could not announce %s to the other copies: %s", name, exc)
        return publish

    # --- listening -----------------------------------------------------------------------------

    def start(self, listen: bool = True) -> LiveEvents:
        """Publish this copy's events; with `listen`, also receive the others' (a one-shot
        command only publishes)."""
        with _lock:
            previous = _publishers.get(id(self.bus))
            _publishers[id(self.bus)] = self
        if previous is not None and previous is not self:
            previous._unsubscribe()
        for name, handler in self._handlers.items():
            self.bus.subscribe(name, handler)
        if not listen:
            return self
        self._thread = threading.Thread(target=self._listen_forever, name="listen", daemon=True)
        self._thread.start()
        return self

    def _unsubscribe(self) -> None:
        for name, handler in self._handlers.items():
            self.bus.unsubscribe(name, handler)

    def stop(self) -> None:
        self._unsubscribe()
        with _lock:
            if _publishers.get(id(self.bus)) is self:
                del _publishers[id(self.bus)]
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _connect(self) -> Any:
        return listen_connection(self.database)

    def _listen_forever(self) -> None:
        paused = False  # said once per outage, not at every attempt to listen again
        while not self._stop.is_set():
            conn = None
            try:
                conn = self._connect()
                self.listening.set()
                if paused:
                    paused = False
                    log.info("live updates from the other copies resumed")
                while not self._stop.is_set():
                    ready, _, _ = select.select([conn], [], [], 1.0)  # wakes up to notice stop
                    if not ready:
                        continue
                    conn.poll()
                    while conn.notifies:
                        self._deliver(conn.notifies.pop(0).payload)
            except Exception as exc:
                if not paused:
                    paused = True
                    log.warning("live updates from the other copies paused: %s",
                                first_line(exc))
            finally:
                self.listening.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
            self._stop.wait(RECONNECT_SECONDS)

    def _deliver(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            origin, name, args = message["o"], message["e"], list(message["a"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed live update")
            return
        with _lock:
            ours = origin in _local_origins
        if ours or name not in CARRIED:
            return
        self.received += 1
        _relaying.active = True
        try:
            self.bus.emit(name, *args)
        finally:
            _relaying.active = False


def listen_connection(database: pw.Database) -> Any:
    """A connection of its own to the team database, listening on the channel (autocommit: a
    notification is delivered between transactions)."""
    import psycopg2

    conn = psycopg2.connect(dbname=database.database, **dict(database.connect_params))
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f"LISTEN {CHANNEL}")
    return conn


def announce_changes() -> LiveEvents | None:
    """For a one-shot command on a team database: publish its changes (no listening)."""
    from mailmonitor.services.team.leases import new_holder_id, team_mode

    return LiveEvents(new_holder_id()).start(listen=False) if team_mode() else None
