"""Monitoring, sending and reply polling on one asyncio loop: what runs in the background of
both the window (qasync) and `mailmonitor run --headless` (plain asyncio).

- the Monitor (connection checks, housekeeping);
- the sending loop: settle → plan → each mailbox's batch in a worker thread → apply, each
  mailbox on its own (up to MAX_PARALLEL_MAILBOXES at once; a slow server holds back nobody);
- the reply poll (INBOX of every sending mailbox), every few minutes;
- the alert outbox: one digest per round for each alert channel, delivered exactly once.
`stop()` is graceful: the email in flight is finished and recorded, no new one is started.

Only one process may send from a data folder (two would settle each other's sends in flight):
whoever runs this holds `acquire_instance_lock` first. On a team database (PostgreSQL) several
copies run at once on different folders and machines: each serves only the mailboxes it holds a
lease for (services/team/leases.py), renewed every third of the lease length. When the team
database goes away (restart, failover, a cut network) everything that touches it holds until it
is back (services/team/reachability.py); a headless copy that cannot reach it for long stops
with status 1, for its service manager to start it again.

Intervals can be set by environment variables (seconds; mainly for tests and demos):
  MAILMONITOR_SEND_TICK         sending loop period                           (default 15)
  MAILMONITOR_MONITOR_TICK      monitor scheduling period                     (default 5)
  MAILMONITOR_REPLY_POLL        reply/bounce poll period                      (default 120)
  MAILMONITOR_RECONCILE_SETTLE  wait before "no copy in Sent" counts as proof (default 600)
  MAILMONITOR_NOTIFY_TICK       alert digest round and outbox delivery period  (default 30)
  MAILMONITOR_DELIVERABILITY_TICK  how often daily DNS / round-trip work is looked for (600)
  MAILMONITOR_LEASE_SECONDS     team database: a mailbox's lease length        (default 30)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from mailmonitor.clock import Clock, SystemClock
from mailmonitor.events import STORAGE_FAILED, bus
from mailmonitor.models.database import database_problem, is_fatal_database_error
from mailmonitor.services.auth.tokens import TokenProvider

log = logging.getLogger(__name__)

ENV_SEND_TICK = "MAILMONITOR_SEND_TICK"
ENV_MONITOR_TICK = "MAILMONITOR_MONITOR_TICK"
ENV_REPLY_POLL = "MAILMONITOR_REPLY_POLL"
ENV_RECONCILE_SETTLE = "MAILMONITOR_RECONCILE_SETTLE"
ENV_NOTIFY_TICK = "MAILMONITOR_NOTIFY_TICK"
ENV_DELIVERABILITY_TICK = "MAILMONITOR_DELIVERABILITY_TICK"
ENV_ATTENTION_TICK = "MAILMONITOR_ATTENTION_TICK"
LOCK_NAME = "mailmonitor.lock"
MAX_PARALLEL_MAILBOXES = 4
MAX_ALERT_LANES = 8  # alert channels delivering at once, each within its own deadline
# What a stop waits for work in flight (an email being sent, an alert being delivered) before
# it leaves it to the next start to settle: SIGTERM ends `run --headless` within 10 s.
STOP_GRACE_SECONDS = 6.0
INBOX_SECONDS = 2.0  # team database: how often a copy looks for sign-ins handed over to it


class AlreadyRunning(Exception):
    pass


def env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        log.warning("ignoring %s=%r (not a number of seconds)", name, raw)
        return default
    return max(0.0, value)


def acquire_instance_lock(folder: Path) -> IO[str]:
    """An exclusive lock on the data folder, released by the OS when the process ends (even
    killed). Raises AlreadyRunning when another runner holds it."""
    handle = open(folder / LOCK_NAME, "a+")  # noqa: SIM115 - held for the process's lifetime
    try:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # Windows: the lock is advisory; one runner per folder is the rule
        pass
    except OSError:
        handle.close()
        raise AlreadyRunning(f"another mailmonitor is already running on {folder}") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


class BackgroundWork:
    """The monitor, the sending loop and the reply poll. `sending=False` runs the monitor only
    (another process holds the data folder's sending lock)."""

    def __init__(self, clock: Clock | None = None, *, monitor: Any = None,
                 is_online: Callable[[], bool] | None = None, sending: bool = True,
                 token_provider: TokenProvider | None = None, kind: str = "headless") -> None:
        """`token_provider` signs the sending engine and the reply poll (and a monitor made
        here) in to OAuth mailboxes; a `monitor` passed in brings its own. `kind` names this
        copy in a team database's lease table ("headless" or "window")."""
        from mailmonitor.services.monitoring.monitor import Monitor
        from mailmonitor.services.sending.engine import SendingEngine

        self.clock = clock or SystemClock()
        self.sending = sending
        self.send_tick = env_seconds(ENV_SEND_TICK, 15.0)
        self.reply_poll = env_seconds(ENV_REPLY_POLL, 120.0)
        self.notify_tick = env_seconds(ENV_NOTIFY_TICK, 30.0)
        self.deliverability_tick = env_seconds(ENV_DELIVERABILITY_TICK, 600.0)
        from mailmonitor.services.alerts.reconciler import AttentionLoop

        # Reconciles read the state of every lead on a thread of their own, never the loop's.
        self.attention_executor = ThreadPoolExecutor(max_workers=1,
                                                     thread_name_prefix="attention")
        self.attention = AttentionLoop(self.clock, tick=env_seconds(ENV_ATTENTION_TICK, 0.5),
                                       executor=self.attention_executor)
        settle = timedelta(seconds=env_seconds(ENV_RECONCILE_SETTLE, 600.0))
        self.engine = SendingEngine(self.clock, settle=settle, token_provider=token_provider)
        from mailmonitor.services.sending.replies import ReplyReader

        self.replies = ReplyReader(self.engine.credentials, self.engine.timeout, self.clock.now)
        self.engine.read_replies = self.replies.poll
        self.monitor = monitor or Monitor(
            self.clock, is_online=is_online or (lambda: True),
            tick_seconds=env_seconds(ENV_MONITOR_TICK, 5.0), token_provider=token_provider)
        # The batches, plus room for the reply poll and a reconcile.
        self.executor = ThreadPoolExecutor(max_workers=MAX_PARALLEL_MAILBOXES + 2,
                                           thread_name_prefix="send")
        # Alert channels have their own threads: a slow receiver takes none from sending.
        self.alerts_executor = ThreadPoolExecutor(max_workers=MAX_ALERT_LANES,
                                                  thread_name_prefix="alerts")
        self.alert_lanes: dict[int, asyncio.Future[int]] = {}  # channel id -> its lane
        self.in_flight: dict[int, asyncio.Task[int]] = {}  # account id -> its batch
        self._started_at: dict[int, float] = {}  # account id -> when its last batch started
        self._resting_until: dict[int, float] = {}  # a batch that sent nothing waits a tick
        self._batch_done = asyncio.Event()
        self.monitor.on_fatal = self.fatal
        self.stopping = asyncio.Event()
        self.stopping_flag = threading.Event()  # the same, for worker threads
        self.fatal_error: str | None = None  # why the work had to stop (run() returns 1)
        self.leases: Any = None
        self.live: Any = None
        self.link: Any = None  # team database: reachable, or unreachable since when
        self.kind = kind
        self.inbox: Any = None  # team database: sign-ins handed over to this copy
        self._inbox_wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._away = asyncio.Event()  # the team database was found gone: database_loop wakes
        from mailmonitor.services.team.leases import (
            LeaseKeeper,
            lease_seconds_from_env,
            new_holder_id,
            team_mode,
        )

        if team_mode() and not sending:  # the local sender serves; this copy only shows
            self.engine.serves = self.monitor.serves = lambda: set()
        elif team_mode():
            keeper = LeaseKeeper(self.clock, kind=kind, lease_seconds=lease_seconds_from_env())
            self.leases = keeper
            self.engine.serves = lambda: keeper.held
            self.engine.sender.fence = keeper.held_condition
            self.monitor.serves = lambda: keeper.held
        if team_mode():
            from mailmonitor.models import db
            from mailmonitor.services.team import reachability
            from mailmonitor.services.team.live import LiveEvents

            self.live = LiveEvents(self.leases.holder if self.leases else new_holder_id())
            # A window never gives up on its database: it says so and keeps trying.
            give_up = reachability.give_up_after_from_settings() if kind == "headless" \
                else None
            self.link = reachability.DatabaseLink(
                self.clock, reachability.server_probe(db.obj), give_up_after=give_up)
            reachability.register(self.link)
            self.monitor.held = self.database_away
            self.monitor.on_database_error = self.database_lost
            from mailmonitor.events import bus
            from mailmonitor.services.team.live import HANDOVER_WAITING

            bus.subscribe(HANDOVER_WAITING, self._handover_waiting)
        self._probe_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-probe")

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # --- the team database going away ------------------------------------------------------------

    def database_away(self) -> bool:
        """The team database is unreachable: nothing is sent, checked or leased meanwhile."""
        return self.link is not None and not self.link.reachable

    def database_lost(self, exc: BaseException) -> bool:
        """`exc` (from any database work, on the loop's thread) means the team database is out
        of reach: True, and this copy holds everything until it is back (said once). False for
        any other error, which the caller handles as before."""
        if self.link is None or not self.link.lost(exc):
            return False
        if self.leases is not None:  # lapsing: serve nothing until renewed
            self.leases.held = set()
        self._away.set()  # database_loop takes over
        return True

    async def database_loop(self) -> None:
        """While the team database is unreachable: probe it with backoff; when it answers,
        renew the leases at once and wake the sending loop; past the limit, give up."""
        link = self.link
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            if link.reachable:
                await self._until(self._away, None)
                self._away.clear()
                continue
            if link.gave_up():
                self.give_up(link.give_up_line())
                break
            if link.probe_due() and await loop.run_in_executor(self._probe_executor,
                                                               link.probe):
                await self._database_back()
                continue
            await self._pause(min(max(link.seconds_to_probe(), 0.05), 1.0))

    async def _database_back(self) -> None:
        await self._renew_leases("renewing the mailbox leases failed")
        self._batch_done.set()  # the sending loop looks again now

    async def _renew_leases(self, failed: str) -> None:
        """Take or renew this copy's mailbox leases (a team database); `failed` is logged if
        that fails for another reason than the database being out of reach."""
        if self.leases is None:
            return
        try:
            await self._in_thread(self.leases.renew)
        except Exception as exc:
            if not self.database_lost(exc):
                log.exception(failed)

    # --- sign-ins handed over to this copy (services/team/handover.py) ---------------------------

    def _handover_waiting(self, fingerprint: str) -> None:
        """Another copy sealed a sign-in to a key (heard over LISTEN, on the listening
        thread): look at once instead of at the next tick."""
        if self._loop is not None and self.inbox is not None \
                and fingerprint == self.inbox.identity.fingerprint:
            self._loop.call_soon_threadsafe(self._inbox_wake.set)

    async def inbox_loop(self) -> None:
        """Publish this copy's key; store what is sealed to it, then serve those mailboxes."""
        from mailmonitor.services.auth.secrets import SecretStoreError
        from mailmonitor.services.team import handover
        from mailmonitor.services.team.leases import lease_seconds_from_env

        try:
            identity = await self._in_thread(handover.load_identity)
        except SecretStoreError as exc:
            log.warning("this copy cannot receive a hand-over: %s", exc)
            return
        log.info("hand-over key fingerprint %s (`mailmonitor team senders` shows it to the "
                 "rep who hands a sign-in over)", identity.fingerprint)
        keeper = self.leases
        holder = keeper.holder if keeper is not None else self.live.origin
        inbox = handover.Inbox(identity, self.clock, holder, self.kind, lease_seconds_from_env(),
                               keeps_heartbeat=keeper is None)
        self.inbox = inbox
        if keeper is not None:
            keeper.keys = inbox.keys()  # published with its next heartbeat
        while not self.stopping.is_set():
            self._inbox_wake.clear()
            if not self.database_away():
                try:
                    await self._in_thread(inbox.register)
                    stored = await self._in_thread(inbox.pick_up)
                    if stored and keeper is not None:
                        for account_id in stored:
                            keeper.forget_secret_cache(account_id)
                        await self._in_thread(keeper.renew)  # serve them now
                        self._batch_done.set()
                except Exception as exc:
                    if not self.database_lost(exc):
                        log.exception("looking for sign-ins handed over to this copy failed")
            await self._until(self._inbox_wake, INBOX_SECONDS)
        if not self.database_away():
            try:
                await self._in_thread(inbox.unregister)
            except Exception as exc:
                if not self.database_lost(exc):
                    log.exception("removing this copy's heartbeat failed")

    def give_up(self, line: str) -> None:
        """The team database stayed out of reach past the limit: stop (run() returns 1)."""
        if self.fatal_error is None:
            self.fatal_error = line
            log.error("stopping: %s", line)
        self.request_stop()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):  # see Monitor.run: no inner task
            async with asyncio.timeout(seconds):
                await self.stopping.wait()

    @staticmethod
    async def _until(event: asyncio.Event, seconds: float | None) -> None:
        """Until `event` (which request_stop also sets) or `seconds` pass. No inner task: a
        loop ended from outside (qasync) would leave one never started."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()

    async def start_batches(self) -> int:
        """Start the next batch of each mailbox that may send and has none in flight, while a
        slot is free (MAX_PARALLEL_MAILBOXES at once), the one that waited longest first.
        Returns how many started. Each batch is applied when it ends (`_batch`)."""
        engine, busy = self.engine, self.in_flight
        free = MAX_PARALLEL_MAILBOXES - len(busy)
        if free <= 0 or self.stopping.is_set():
            return 0
        engine.settle_unsent()  # before reconcile: those are known not to be delivered
        if engine.needs_reconcile(busy):
            engine.apply_reconcile(await self._in_thread(engine.reconcile, set(busy)))
        now = asyncio.get_running_loop().time()
        resting = {a for a, until in self._resting_until.items() if until > now}
        plan = engine.hold_unread(engine.plan(set(busy) | resting))
        chosen = sorted(plan, key=lambda a: self._started_at.get(a, -1.0))[:free]
        plan = {a: plan[a] for a in chosen}
        if plan and not self.stopping.is_set():
            plan = await self._read_replies_first(plan)
        if self.stopping.is_set():
            return 0
        for account_id, batch in plan.items():
            if account_id in busy:
                continue
            self._started_at[account_id] = asyncio.get_running_loop().time()
            busy[account_id] = asyncio.create_task(self._batch(account_id, batch))
        return len(plan)

    async def _batch(self, account_id: int, batch: list[Any]) -> int:
        """One mailbox's batch in a worker thread, then what it learnt applied on this thread.
        An unexpected error makes that mailbox wait, with an alert; the others go on."""
        engine = self.engine
        try:
            try:
                result = await self._in_thread(engine.send, account_id, batch)
            except Exception as exc:
                if self.database_lost(exc):  # its records are settled once it is back
                    return 0
                if is_fatal_database_error(exc):
                    self.fatal(exc)
                    return 0
                # Its records stay consistent (an unfinished one is reconciled later).
                log.error("the batch of mailbox %s failed", account_id, exc_info=exc)
                engine.batch_crashed(account_id, exc)
                return 0
            engine.apply([result])
            if not result.sent:  # e.g. its lease was just lost: not planned again at once
                self._resting_until[account_id] = (asyncio.get_running_loop().time()
                                                   + max(self.send_tick, 0.05))
            return int(result.sent)
        except Exception as exc:  # applying it failed: the database is busy or gone
            if self.database_lost(exc):
                pass
            elif is_fatal_database_error(exc):
                self.fatal(exc)
            else:
                log.exception("recording the batch of mailbox %s failed", account_id)
            return 0
        finally:
            self.in_flight.pop(account_id, None)
            self._batch_done.set()

    async def _read_replies_first(self, plan: dict[int, list[Any]]) -> dict[int, list[Any]]:
        """Replies before sends: read the inboxes whose last poll is older than a planned
        follow-up's due time (in worker threads), then plan those mailboxes again."""
        engine = self.engine
        stale = engine.inboxes_to_read_now(plan)
        if not stale:
            return plan
        results = await asyncio.gather(*(self._in_thread(self.replies.poll, a) for a in stale),
                                       return_exceptions=True)
        read_ok = {a: r is True for a, r in zip(stale, results, strict=True)}
        again = engine.after_reading(plan, read_ok, set(self.in_flight))
        return {a: batch for a, batch in again.items() if a in plan}

    async def sending_loop(self) -> None:
        """Each mailbox sends on its own: when a batch ends, the next ones start at once (a
        backlog with no gap goes on without waiting), so one slow server never holds back the
        other mailboxes. With nothing to start, the loop waits for a batch to end or a tick."""
        try:
            while not self.stopping.is_set():
                self._batch_done.clear()
                started = 0
                try:
                    if not self.database_away():
                        started = await self.start_batches()
                except Exception as exc:
                    if self.database_lost(exc):
                        pass
                    elif is_fatal_database_error(exc):
                        self.fatal(exc)
                        break
                    else:
                        log.exception("sending round failed")
                if started and len(self.in_flight) < MAX_PARALLEL_MAILBOXES:
                    continue  # a free slot: more may be ready (replanned without these)
                # Until a batch ends, the team database is back, a sign-in arrived, a stop,
                # or the next tick.
                await self._until(self._batch_done, self.send_tick)
        finally:
            # A stop lets the batches finish their email in flight (engine.stop), recorded;
            # one that takes longer (a server answering a byte at a time) is left to the next
            # start, which settles it like any interrupted send.
            if self.in_flight:
                await asyncio.wait([asyncio.shield(t) for t in self.in_flight.values()],
                                   timeout=STOP_GRACE_SECONDS)

    async def lease_loop(self) -> None:
        """Team database: renew and take leases every third of their length."""
        keeper = self.leases
        while not self.stopping.is_set():
            await self._pause(keeper.ttl.total_seconds() / 3)
            if self.stopping.is_set():
                break
            if self.database_away():  # database_loop renews them once it is back
                continue
            # On a failure the leases lapse meanwhile; others may take over.
            await self._renew_leases("renewing the mailbox leases failed")

    async def reply_loop(self) -> None:
        """Every sending mailbox's INBOX at start, then every few minutes."""
        from mailmonitor.services.deliverability import bounce_guard

        while not self.stopping.is_set():
            if self.database_away():
                await self._pause(min(self.reply_poll, 1.0))
                continue
            try:
                polled_at = self.clock.now()
                await self._in_thread(self.replies.poll_all, self.engine.serves())
                # The bounces this poll read: rates in the worker, holds (status writes) on
                # this thread, like the monitor's and the engine's.
                pauses = await self._in_thread(bounce_guard.pauses_needed, self.clock.now(),
                                               polled_at)
                bounce_guard.apply_pauses(pauses, self.clock.now())
            except Exception as exc:
                if self.database_lost(exc):
                    await self._pause(min(self.reply_poll, 1.0))
                    continue
                if is_fatal_database_error(exc):
                    self.fatal(exc)
                    break
                log.exception("reply poll failed")
            await self._pause(self.reply_poll)

    async def attention_loop(self) -> None:
        """What the rep is told follows the state (alerts/reconciler.AttentionLoop). Only the
        copy that sends reconciles (on PostgreSQL several senders take turns under a lock)."""

        def failed(exc: BaseException) -> bool:
            if self.database_lost(exc):
                return True  # it runs again once the team database is back
            if is_fatal_database_error(exc):
                self.fatal(exc)
                return True
            return False

        while not self.stopping.is_set() and self.fatal_error is None:
            if self.database_away():
                await self._pause(0.5)
                continue
            await self.attention.run(self.stopping, failed)

    async def alerts_loop(self) -> None:
        """Each round: fold new alerts into one digest per channel, then start a lane for each
        channel with something due and none in flight. A lane delivers in a thread of the
        alerts' own pool (HTTP and SMTP block), each delivery within its deadline, so a slow
        receiver holds up neither the other channels nor the checks and sends, nor the next
        round. Only the process that sends does this."""
        from mailmonitor.services.alerts import digest, outbox

        try:
            outbox.settle_interrupted(self.clock.now())
        except Exception as exc:
            self._round_failed("settling interrupted alerts", exc)
        deadline = outbox.delivery_deadline()
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            if self.database_away():
                await self._pause(min(self.notify_tick, 1.0))
                continue
            try:
                digest.collect_round(self.clock.now())
                for channel_id in outbox.due_channels(self.clock.now()):
                    if channel_id in self.alert_lanes or self.stopping.is_set():
                        continue
                    lane = loop.run_in_executor(
                        self.alerts_executor, outbox.deliver_channel_due, channel_id,
                        self.clock, deadline, self.stopping_flag)
                    self.alert_lanes[channel_id] = lane
                    lane.add_done_callback(functools.partial(self._lane_done, channel_id))
            except Exception as exc:
                if self._round_failed("alert round", exc):
                    break
            await self._pause(self.notify_tick)
        # A stop cuts every delivery in flight (their deadlines watch stopping_flag): each
        # lane ends within about a second, its message settled as pending or unknown.
        lanes = list(self.alert_lanes.values())
        if lanes:
            await asyncio.wait(lanes, timeout=STOP_GRACE_SECONDS)

    def _lane_done(self, channel_id: int, done: asyncio.Future[int]) -> None:
        self.alert_lanes.pop(channel_id, None)
        if done.cancelled():
            return
        error = done.exception()
        if error is not None:
            self._round_failed(f"alerts to channel {channel_id}", error)

    def _round_failed(self, what: str, exc: BaseException) -> bool:
        """A loop's round failed: the team database is out of reach (held, said once), the
        database cannot be written (stop, True), or something else (logged; the next round
        tries again)."""
        if self.database_lost(exc):
            return False
        if is_fatal_database_error(exc):
            self.fatal(exc)
            return True
        log.error("%s failed", what, exc_info=exc)
        return False

    def fatal(self, exc: BaseException) -> None:
        """The database cannot be used (damaged, full disk, read-only): nothing can be
        recorded, so nothing may be sent. Stop, with one line for the rep (run() returns 1;
        the window shows it as a banner that holds sending). What was in flight is settled
        at the next start."""
        if self.fatal_error is None:
            self.fatal_error = database_problem(exc)
            log.error("stopping: %s", self.fatal_error, exc_info=exc)
            bus.emit(STORAGE_FAILED, self.fatal_error)
        self.request_stop()

    async def deliverability_round(self) -> None:
        """DNS records of every sending domain once a day; the daily round trips when on."""
        from mailmonitor.services.deliverability import dns_auth
        from mailmonitor.services.placement import daily, round_trip

        await self._in_thread(dns_auth.check_due, self.clock.now())
        for account in daily.round_trips_due(self.clock.now()):
            if self.stopping.is_set():
                return
            result = await self._in_thread(daily.run_round_trip_of, account, self.clock.now())
            round_trip.record_round_trip(account, result, self.clock.now(), trigger="round_trip")

    async def deliverability_loop(self) -> None:
        while not self.stopping.is_set():
            # A tick after start: start-up stays quick, and the work is daily anyway.
            await self._pause(self.deliverability_tick)
            if self.stopping.is_set() or self.database_away():
                continue
            try:
                await self.deliverability_round()
            except Exception as exc:
                if self._round_failed("deliverability round", exc):
                    break

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stop requested: finishing the email in flight")
        self.stopping.set()
        self.stopping_flag.set()
        self.engine.stop.set()
        for wake in (self._batch_done, self._away, self._inbox_wake):  # the loops look up
            wake.set()

    async def run(self) -> int:
        """Until `request_stop()`; then everything is stopped gracefully."""
        log.info("background work started (pid %d, sending %s)", os.getpid(),
                 "on" if self.sending else "off")
        self._loop = asyncio.get_running_loop()
        if self.live is not None:
            self.live.start()
        await self._renew_leases("taking the mailbox leases failed")
        try:
            if self.sending and not self.database_away() and self.engine.needs_reconcile():
                report = await self._in_thread(self.engine.reconcile)
                self.engine.apply_reconcile(report)
                log.info("at start: %s", report)
        except Exception as exc:  # a restart never ends in a traceback
            if self.database_lost(exc):
                pass  # settled by the sending loop once the database is back
            elif is_fatal_database_error(exc):
                self.fatal(exc)
                self._shutdown_threads()
                return 1
            log.exception("settling interrupted sends at start failed; retried later")
        monitor_task = asyncio.create_task(self.monitor.run())
        tasks = [asyncio.create_task(self.sending_loop()), asyncio.create_task(self.reply_loop()),
                 asyncio.create_task(self.alerts_loop()),
                 asyncio.create_task(self.attention_loop()),
                 asyncio.create_task(self.deliverability_loop())] if self.sending else []
        if self.leases is not None:
            tasks.append(asyncio.create_task(self.lease_loop()))
        if self.link is not None:
            tasks.append(asyncio.create_task(self.database_loop()))
            tasks.append(asyncio.create_task(self.inbox_loop()))
        await self.stopping.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.monitor.stop()
        monitor_task.cancel()
        await asyncio.gather(monitor_task, return_exceptions=True)
        if self.leases is not None and not self.database_away():
            # Hand the mailboxes over now, not after the expiry.
            try:
                await self._in_thread(self.leases.release_all)
            except Exception as exc:
                if not self.database_lost(exc):
                    log.exception("releasing the mailbox leases failed")
        # The sending batches are done (gathered above); a reply poll still in a worker thread
        # is bounded by its timeouts and needs no waiting for.
        if self.live is not None:
            from mailmonitor.events import bus
            from mailmonitor.services.team.live import HANDOVER_WAITING

            bus.unsubscribe(HANDOVER_WAITING, self._handover_waiting)
            await asyncio.get_running_loop().run_in_executor(None, self.live.stop)
        self._shutdown_threads()
        self._probe_executor.shutdown(wait=False, cancel_futures=True)
        log.info("background work stopped")
        return 1 if self.fatal_error else 0

    def _shutdown_threads(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.alerts_executor.shutdown(wait=False, cancel_futures=True)
        self.attention_executor.shutdown(wait=False, cancel_futures=True)


