"""Monitoring, sending and reply polling on one asyncio loop: what runs in the background of
both the window (qasync) and `mailmonitor run --headless` (plain asyncio).

- the Monitor (connection checks, housekeeping);
- the sending loop: settle → plan → each mailbox's batch in a worker thread → apply, every tick;
- the reply poll (INBOX of every sending mailbox), every few minutes.
`stop()` is graceful: the email in flight is finished and recorded, no new one is started.

Only one process may send from a data folder (two would settle each other's sends in flight):
whoever runs this holds `acquire_instance_lock` first.

Intervals can be set by environment variables (seconds; mainly for tests and demos):
  MAILMONITOR_SEND_TICK         sending loop period                           (default 15)
  MAILMONITOR_MONITOR_TICK      monitor scheduling period                     (default 5)
  MAILMONITOR_REPLY_POLL        reply/bounce poll period                      (default 120)
  MAILMONITOR_RECONCILE_SETTLE  wait before "no copy in Sent" counts as proof (default 600)
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
from mailmonitor.services.auth.tokens import TokenProvider

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
                 token_provider: TokenProvider | None = None) -> None:
        """`token_provider` signs the sending engine and the reply poll (and a monitor made
        here) in to OAuth mailboxes; a `monitor` passed in brings its own."""
        from mailmonitor.services.monitoring.monitor import Monitor
        from mailmonitor.services.sending.engine import SendingEngine

        self.clock = clock or SystemClock()
        self.sending = sending
        self.send_tick = env_seconds(ENV_SEND_TICK, 15.0)
        self.reply_poll = env_seconds(ENV_REPLY_POLL, 120.0)
        settle = timedelta(seconds=env_seconds(ENV_RECONCILE_SETTLE, 600.0))
        self.engine = SendingEngine(self.clock, settle=settle, token_provider=token_provider)
        self.monitor = monitor or Monitor(
            self.clock, is_online=is_online or (lambda: True),
            tick_seconds=env_seconds(ENV_MONITOR_TICK, 5.0), token_provider=token_provider)
        self.executor = ThreadPoolExecutor(max_workers=MAX_PARALLEL_MAILBOXES + 1,
                                           thread_name_prefix="send")
        self.stopping = asyncio.Event()

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):  # see Monitor.run: no inner task
            async with asyncio.timeout(seconds):
                await self.stopping.wait()

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

    async def reply_loop(self) -> None:
        from mailmonitor.services.sending.replies import poll_replies

        while not self.stopping.is_set():
            await self._pause(self.reply_poll)
            if self.stopping.is_set():
                break
            try:
                await self._in_thread(poll_replies, self.clock.now(), self.engine.credentials,
                                      self.engine.timeout)
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
        if self.sending and self.engine.needs_reconcile():
            report = await self._in_thread(self.engine.reconcile)
            log.info("at start: %s", report)
        monitor_task = asyncio.create_task(self.monitor.run())
        tasks = [asyncio.create_task(self.sending_loop()), asyncio.create_task(self.reply_loop())
                 ] if self.sending else []
        await self.stopping.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.monitor.stop()
        monitor_task.cancel()
        await asyncio.gather(monitor_task, return_exceptions=True)
        # The sending batches are done (gathered above); a reply poll still in a worker thread
        # is bounded by its timeouts and needs no waiting for.
        self.executor.shutdown(wait=False, cancel_futures=True)
        log.info("background work stopped")
        return 0


