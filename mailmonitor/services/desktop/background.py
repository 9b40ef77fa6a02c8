"""Monitoring, sending and reply polling on one asyncio loop: what runs in the background of
both the window (qasync) and `mailmonitor run --headless` (plain asyncio).

- the Monitor (connection checks, housekeeping);
- the sending loop: settle → plan → each mailbox's batch in a worker thread → apply, every tick;
- the reply poll (INBOX of every sending mailbox), every few minutes.
`stop()` is graceful: the email in flight is finished and recorded, no new one is started.

Only one process may send from a data folder (two would settle each other's sends in flight):
whoever runs this holds `acquire_instance_lock` first. On a team database (PostgreSQL) several
copies run at once on different folders and machines: each serves only the mailboxes it holds a
lease for (services/team/leases.py), renewed every third of the lease length.

Intervals can be set by environment variables (seconds; mainly for tests and demos):
  MAILMONITOR_SEND_TICK         sending loop period                           (default 15)
  MAILMONITOR_MONITOR_TICK      monitor scheduling period                     (default 5)
  MAILMONITOR_REPLY_POLL        reply/bounce poll period                      (default 120)
  MAILMONITOR_RECONCILE_SETTLE  wait before "no copy in Sent" counts as proof (default 600)
  MAILMONITOR_LEASE_SECONDS     team database: a mailbox's lease length        (default 30)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from mailmonitor.clock import Clock, SystemClock

log = logging.getLogger(__name__)

ENV_SEND_TICK = "MAILMONITOR_SEND_TICK"
ENV_MONITOR_TICK = "MAILMONITOR_MONITOR_TICK"
ENV_REPLY_POLL = "MAILMONITOR_REPLY_POLL"
ENV_RECONCILE_SETTLE = "MAILMONITOR_RECONCILE_SETTLE"
LOCK_NAME = "mailmonitor.lock"
MAX_PARALLEL_MAILBOXES = 4


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
                 kind: str = "headless") -> None:
        from mailmonitor.services.monitoring.monitor import Monitor
        from mailmonitor.services.sending.engine import SendingEngine

        self.clock = clock or SystemClock()
        self.sending = sending
        self.send_tick = env_seconds(ENV_SEND_TICK, 15.0)
        self.reply_poll = env_seconds(ENV_REPLY_POLL, 120.0)
        settle = timedelta(seconds=env_seconds(ENV_RECONCILE_SETTLE, 600.0))
        self.engine = SendingEngine(self.clock, settle=settle)
        self.monitor = monitor or Monitor(
            self.clock, is_online=is_online or (lambda: True),
            tick_seconds=env_seconds(ENV_MONITOR_TICK, 5.0))
        self.executor = ThreadPoolExecutor(max_workers=MAX_PARALLEL_MAILBOXES + 1,
                                           thread_name_prefix="send")
        self.stopping = asyncio.Event()
        self.leases: Any = None
        self.live: Any = None
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
            from mailmonitor.services.team.live import LiveEvents

            self.live = LiveEvents(self.leases.holder if self.leases else new_holder_id())

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)

    async def send_round(self) -> int:
        engine = self.engine
        if engine.needs_reconcile():
            await self._in_thread(engine.reconcile)
        plan = engine.plan()
        if not plan or self.stopping.is_set():
            return 0
        limit = asyncio.Semaphore(MAX_PARALLEL_MAILBOXES)

        async def one(account_id: int, batch: list[Any]) -> Any:
            async with limit:
                return await self._in_thread(engine.send, account_id, batch)

        # shield: a stop request lets the batches finish their email in flight (engine.stop).
        outcomes = await asyncio.shield(asyncio.gather(
            *(one(a, b) for a, b in plan.items()), return_exceptions=True))
        results = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                # Its records stay consistent (an unfinished one is reconciled next round).
                log.error("a sending batch failed", exc_info=outcome)
            else:
                results.append(outcome)
        engine.apply(results)
        return sum(r.sent for r in results)

    async def sending_loop(self) -> None:
        while not self.stopping.is_set():
            sent = 0
            try:
                sent = await self.send_round()
            except Exception:
                log.exception("sending round failed")
            if not sent:  # with a backlog and no gap, go on at once
                await self._pause(self.send_tick)

    async def lease_loop(self) -> None:
        """Team database: renew and take leases every third of their length."""
        keeper = self.leases
        while not self.stopping.is_set():
            await self._pause(keeper.ttl.total_seconds() / 3)
            if self.stopping.is_set():
                break
            try:
                await self._in_thread(keeper.renew)
            except Exception:  # the server is unreachable: the leases lapse, others take over
                log.exception("renewing the mailbox leases failed")

    async def reply_loop(self) -> None:
        from mailmonitor.services.sending.replies import poll_replies

        while not self.stopping.is_set():
            await self._pause(self.reply_poll)
            if self.stopping.is_set():
                break
            try:
                await self._in_thread(poll_replies, self.clock.now(), self.engine.credentials,
                                      self.engine.timeout, self.engine.serves())
            except Exception:
                log.exception("reply poll failed")

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stop requested: finishing the email in flight")
        self.stopping.set()
        self.engine.stop.set()

    async def run(self) -> int:
        """Until `request_stop()`; then everything is stopped gracefully."""
        log.info("background work started (pid %d, sending %s)", os.getpid(),
                 "on" if self.sending else "off")
        if self.live is not None:
            self.live.start()
        if self.leases is not None:
            try:
                await self._in_thread(self.leases.renew)
            except Exception:
                log.exception("taking the mailbox leases failed")
        if self.sending and self.engine.needs_reconcile():
            report = await self._in_thread(self.engine.reconcile)
            log.info("at start: %s", report)
        monitor_task = asyncio.create_task(self.monitor.run())
        tasks = [asyncio.create_task(self.sending_loop()), asyncio.create_task(self.reply_loop())
                 ] if self.sending else []
        if self.leases is not None:
            tasks.append(asyncio.create_task(self.lease_loop()))
        await self.stopping.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.monitor.stop()
        monitor_task.cancel()
        await asyncio.gather(monitor_task, return_exceptions=True)
        if self.leases is not None:  # hand the mailboxes over now, not after the expiry
            try:
                await self._in_thread(self.leases.release_all)
            except Exception:
                log.exception("releasing the mailbox leases failed")
        # The sending batches are done (gathered above); a reply poll still in a worker thread
        # is bounded by its timeouts and needs no waiting for.
        if self.live is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.live.stop)
        self.executor.shutdown(wait=False, cancel_futures=True)
        log.info("background work stopped")
        return 0


