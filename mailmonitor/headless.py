"""`mailmonitor run --headless`: monitoring and sending without a window, until SIGTERM/SIGINT.

It takes the data folder's sending lock, then runs `services.background.BackgroundWork` (the
monitor, the sending loop, the reply poll) until SIGTERM or SIGINT, which stop gracefully: the
email in flight is finished and recorded, no new one is started, and the process exits 0. Logs go
to the data folder's log (set up by the CLI).

A stop takes at most about 7 s whatever is in flight: alert deliveries are cut at once, an
email being sent gets `STOP_GRACE_SECONDS`, and work still blocked after that (a server that
answers a byte at a time) is left behind — the process ends without waiting for its thread,
and the next start settles it like any interrupted send. A database that cannot be written
(full disk, read-only folder, damaged file) stops the runner with one line and exit 1.

Intervals: see services/background.py (MAILMONITOR_SEND_TICK and friends).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from mailmonitor.clock import clock_from_env
from mailmonitor.services.auth.refresh import oauth_token_provider
from mailmonitor.services.desktop.background import (
    AlreadyRunning,
    BackgroundWork,
    acquire_instance_lock,
)

log = logging.getLogger(__name__)

# A stop signal that arrived before the background work could take it (while the database
# opens and Qt's network backend loads): the work stops as soon as it starts.
_stop_requested_early: list[int] = []


def catch_stop_signals_early() -> None:
    """Called first thing by `run --headless`: SIGTERM/SIGINT during start-up are remembered,
    never fatal (the default action would end the process without settling anything)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError, OSError):  # not the main thread / Windows
            signal.signal(sig, lambda number, _frame: _stop_requested_early.append(number))


def run_headless(data_dir: Path) -> int:
    """Entry point for `mailmonitor run --headless` (the database is open; `data_dir` holds the
    logs and the lock, whichever database is used)."""
    try:
        lock = acquire_instance_lock(data_dir)
    except AlreadyRunning as exc:
        print(f"mailmonitor: {exc}", file=sys.stderr)
        return 1
    try:
        async def main() -> int:
            from mailmonitor.services.monitoring.network import NetworkWatch

            # The signals are handled from the first moment: a SIGTERM while Qt's network
            # backend loads (it can take a while) still stops gracefully, never by default.
            started: list[BackgroundWork] = []

            def on_signal() -> None:
                if started:
                    started[0].request_stop()
                else:
                    _stop_requested_early.append(signal.SIGTERM)

            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError):  # Windows
                    loop.add_signal_handler(sig, on_signal)
            network = NetworkWatch()  # the OS's network state, without a window
            work = BackgroundWork(clock_from_env(), is_online=network.is_online,
                                  token_provider=oauth_token_provider())
            started.append(work)
            if _stop_requested_early:
                work.request_stop()
            log.info("headless runner started (pid %d)", os.getpid())
            code = await work.run()
            log.info("headless runner stopped")
            if work.fatal_error:
                print(f"mailmonitor: {work.fatal_error}", file=sys.stderr)
            return code

        code = asyncio.run(main())
    finally:
        lock.close()
    leave_blocked_threads(code)
    return code


def leave_blocked_threads(code: int) -> None:
    """Python waits for every worker thread at exit; one blocked on a server that trickles
    its answer would hold the process for minutes. Such work is settled at the next start
    (sends and alerts are recorded before and after), so the process ends now."""
    import time

    until = time.monotonic() + 1.0  # idle workers need a moment to see their pool shut
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(max(0.0, until - time.monotonic()))
    blocked = [t.name for t in threading.enumerate()
               if t is not threading.main_thread() and t.is_alive() and not t.daemon]
    if not blocked:
        return
    log.warning("stopped with work still in flight (%s): the next start settles it",
                ", ".join(sorted(blocked)))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
