"""Check sweep against a real Dovecot on loopback (issue: monitoring performance).

For N accounts (IMAP STARTTLS + submission STARTTLS, test CA): the app's Monitor.sweep versus a
bare reference doing the same logins with plain imapclient/smtplib in a thread pool of the same
size; peak memory; and the largest stall of the app's event loop (qasync on Qt; a 10 ms
timer's lateness) during the sweep.

Usage: python benchmarks/bench_sweep.py [N ...]   (default: 500 2000)
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import keyring

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bare_pool import pool

from mailmonitor.memory_keyring import MemoryKeyring
from mailmonitor.models import Account, close_db, open_db, set_setting
from mailmonitor.models.setting import DEFAULTS
from mailmonitor.services.auth import secrets
from mailmonitor.services.monitoring.monitor import Monitor
from tests.servers.certs import shared_test_pki
from tests.servers.dovecot import Dovecot

# The app's default (settings: max_concurrent_checks); BENCH_CONCURRENCY overrides it.
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", str(DEFAULTS["max_concurrent_checks"])))


def reference(dovecot: Dovecot, users: list[tuple[str, str]], ca: str) -> float:
    """The bare pool (benchmarks/bare_pool.py) in this process, of CONCURRENCY threads: its
    wall time."""
    start = time.perf_counter()
    pool(users, dovecot.imap_port, dovecot.submission_port, ca, CONCURRENCY)
    return time.perf_counter() - start


async def app_sweep() -> tuple[float, float, int]:
    loop = asyncio.get_running_loop()
    stalls: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.01)
            stalls.append(loop.time() - before - 0.01)

    tick_task = asyncio.create_task(ticker())
    monitor = Monitor(max_concurrency=CONCURRENCY)
    start = time.perf_counter()
    checks = await monitor.sweep(trigger="bench")
    elapsed = time.perf_counter() - start
    stop.set()
    await tick_task
    await monitor.stop()
    return elapsed, max(stalls) * 1000, len(checks)


def run_in_app_loop(coro_fn):  # type: ignore[no-untyped-def]
    """The window's loop: qasync on a QApplication (offscreen), as `mailmonitor` runs it."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QT_API", "pyside6")  # qasync must not pick another binding
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    try:
        return loop.run_until_complete(coro_fn())
    finally:
        loop.close()


def run(n: int) -> None:
    keyring.set_keyring(MemoryKeyring())
    pki = shared_test_pki()
    with Dovecot(pki) as dovecot:
        users = [(f"bench{i}@example.test", f"pw-{i}-secret") for i in range(n)]
        for email, password in users:
            dovecot.add_user(email, password)
        folder = Path(tempfile.mkdtemp(prefix="mm-bench-"))
        open_db(folder / "bench.sqlite3")
        set_setting("max_concurrent_checks", CONCURRENCY)
        for email, password in users:
            Account.create(email=email, imap_host="127.0.0.1", imap_port=dovecot.imap_port,
                           imap_security="starttls", smtp_host="127.0.0.1",
                           smtp_port=dovecot.submission_port, smtp_security="starttls",
                           ca_file=str(pki.ca_cert))
            secrets.set_secret(email, "password", password)
        bare = reference(dovecot, users, str(pki.ca_cert))
        elapsed, stall_ms, count = run_in_app_loop(app_sweep)
        connected = Account.select().where(Account.status == "connected").count()
        close_db()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"sweep {n} accounts (IMAP+SMTP STARTTLS, concurrency {CONCURRENCY}): "
          f"app {elapsed:.2f} s, bare reference {bare:.2f} s, ratio {elapsed / bare:.2f}x; "
          f"{connected}/{count} connected; largest loop stall {stall_ms:.1f} ms; "
          f"peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    for size in [int(a) for a in sys.argv[1:]] or [500, 2000]:
        run(size)
