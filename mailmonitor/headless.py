"""`mailmonitor run --headless`: monitoring and sending without a window, until SIGTERM/SIGINT.

On start it takes the data folder's instance lock (two runners on one database would settle each
other's sends in flight), settles interrupted sends (services/reconcile.py), then runs on one
asyncio loop:
- the Monitor (connection checks, housekeeping);
- the sending loop: settle → plan → each mailbox's batch in a worker thread → apply, every tick;
- the reply poll (INBOX of every sending mailbox), every few minutes.
SIGTERM or SIGINT stops gracefully: the email in flight is finished and recorded, no new one is
started, then the process exits 0. Logs go to the data folder's log (set up by the CLI).

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
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from mailmonitor.clock import SystemClock
from mailmonitor.models import db

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


def data_dir() -> Path:
    """The folder of the open database (the CLI opened it before calling us)."""
    return Path(str(db.obj.database)).resolve().parent


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


class HeadlessRunner:
    def __init__(self) -> None:
        from mailmonitor.services.engine import SendingEngine
        from mailmonitor.services.monitor import Monitor

        self.clock = SystemClock()
        self.send_tick = env_seconds(ENV_SEND_TICK, 15.0)
        self.reply_poll = env_seconds(ENV_REPLY_POLL, 120.0)
        settle = timedelta(seconds=env_seconds(ENV_RECONCILE_SETTLE, 600.0))
        self.engine = SendingEngine(self.clock, settle=settle)
        self.monitor = Monitor(self.clock, tick_seconds=env_seconds(ENV_MONITOR_TICK, 5.0))
        self.executor = ThreadPoolExecutor(max_workers=MAX_PARALLEL_MAILBOXES + 1,
                                           thread_name_prefix="send")
        self.stopping = asyncio.Event()

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

    async def reply_loop(self) -> None:
        from mailmonitor.services.replies import poll_replies

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
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):  # Windows
                loop.add_signal_handler(sig, self.request_stop)
        log.info("headless runner started (pid %d)", os.getpid())
        if self.engine.needs_reconcile():
            report = await self._in_thread(self.engine.reconcile)
            log.info("at start: %s", report)
        monitor_task = asyncio.create_task(self.monitor.run())
        tasks = [asyncio.create_task(self.sending_loop()), asyncio.create_task(self.reply_loop())]
        await self.stopping.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.monitor.stop()
        monitor_task.cancel()
        await asyncio.gather(monitor_task, return_exceptions=True)
        self.executor.shutdown(wait=True, cancel_futures=True)
        log.info("headless runner stopped")
        return 0


def run_headless() -> int:
    """Entry point for `mailmonitor run --headless` (the database is open)."""
    try:
        lock = acquire_instance_lock(data_dir())
    except AlreadyRunning as exc:
        print(f"mailmonitor: {exc}", file=sys.stderr)
        return 1
    try:
        async def main() -> int:
            return await HeadlessRunner().run()

        return asyncio.run(main())
    finally:
        lock.close()
