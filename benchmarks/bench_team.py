"""Benchmark: a team database on PostgreSQL (issue 15). A private server is started for it
(tests/servers/postgres.py).

1. Sending: 10,000 emails over 20 mailboxes to a local aiosmtpd sink, by one `run --headless`
   copy and then by two copies on the same database (fresh database each time; each copy with
   its own data folder and keyring file holding all 20 passwords). Prints emails/s for both
   (measured from the first to the last delivery, and from the launch), the ratio (goal ≥ 1.8×)
   and duplicates (goal 0: counted by Message-ID and by recipient at the sink).
2. Window start-up against PostgreSQL with 1,000 accounts, 100 campaigns and 200,000 leads
   (seeded like bench_ui_startup.py into SQLite, then moved with `mailmonitor db copy --to`, which
   is timed too): a fresh process until the window has painted (goal < 1.5 s), best of 3.

    python benchmarks/bench_team.py [--emails 10000] [--mailboxes 20] [--sink-latency-ms 0]
                                    [--skip-startup] [--skip-sending]

With --sink-latency-ms (e.g. 100) the sink answers like a real provider does, and the figure
shows what a second copy adds when the senders wait on the network rather than on the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult  # noqa: E402

from tests.servers.dovecot import _free_ports  # noqa: E402
from tests.servers.postgres import PostgresServer  # noqa: E402


class CountingSink:
    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency  # seconds before each "250": a provider's answer time
        self.lock = threading.Lock()
        self.ids: Counter[str] = Counter()
        self.rcpts: Counter[str] = Counter()
        self.first: float | None = None
        self.last: float | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.latency:
            await asyncio.sleep(self.latency)  # other sessions go on meanwhile
        now = time.perf_counter()
        message_id = ""
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                message_id = line.split(b":", 1)[1].strip().decode()
                break
            if not line:
                break
        with self.lock:
            self.ids[message_id] += 1
            self.rcpts[envelope.rcpt_tos[0]] += 1
            self.first = self.first or now
            self.last = now
        return "250 2.0.0 Ok: queued"

    @property
    def count(self) -> int:
        with self.lock:
            return sum(self.ids.values())


def seed_sending(url: str, keyrings: list[Path], emails: int, mailboxes: int, port: int) -> None:
    """Accounts (connected, monitoring off: the sink has no IMAP), one campaign, the leads; the
    passwords go to each copy's keyring file."""
    import keyring

    from mailmonitor.models import close_db, open_db
    from tests.factories import make_account, make_campaign, make_leads
    from tests.file_keyring import FILE_ENV, FileKeyring

    open_db(url)
    accounts = [make_account(f"box{i}@team.example", kind="gmail", daily_limit=1_000_000,
                             min_gap_seconds=0, smtp_host="127.0.0.1", smtp_port=port,
                             smtp_security="plain", monitoring_enabled=False)
                for i in range(mailboxes)]
    campaign = make_campaign("Bench", accounts, steps=1)
    per_box = emails // mailboxes
    for i, account in enumerate(accounts):
        make_leads(campaign, account, per_box + (emails - per_box * mailboxes if i == 0 else 0),
                   prefix=f"b{i}-")
    close_db()
    previous = keyring.get_keyring()
    try:
        keyring.set_keyring(FileKeyring())
        for path in keyrings:
            os.environ[FILE_ENV] = str(path)
            for account in accounts:
                keyring.set_password("mailmonitor", f"{account.email}:password", "bench-pw")
    finally:
        keyring.set_keyring(previous)
        os.environ.pop(FILE_ENV, None)


def run_senders(pg: PostgresServer, copies: int, emails: int, mailboxes: int,
                folder: Path, latency: float = 0.0) -> dict[str, Any]:
    name = f"bench_send_{copies}_{int(latency * 1000)}"
    pg.create_database(name)
    url = pg.url(name)
    sink = CountingSink(latency)
    (port,) = _free_ports(1)
    controller = Controller(sink, hostname="127.0.0.1", port=port, auth_require_tls=False,
                            authenticator=lambda *a: AuthResult(success=True),
                            auth_required=True)
    controller.start()
    keyrings = [folder / f"{name}-keyring{n}.json" for n in range(copies)]
    seed_sending(url, keyrings, emails, mailboxes, port)
    processes = []
    launched = time.perf_counter()
    try:
        for n in range(copies):
            env = dict(os.environ, PYTHONPATH=str(ROOT), MAILMONITOR_DATABASE_URL=url,
                       PYTHON_KEYRING_BACKEND="tests.file_keyring.FileKeyring",
                       MAILMONITOR_TEST_KEYRING_FILE=str(keyrings[n]),
                       MAILMONITOR_SEND_TICK="0.05", MAILMONITOR_LEASE_SECONDS="3",
                       MAILMONITOR_REPLY_POLL="3600", QT_QPA_PLATFORM="offscreen")
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "mailmonitor", "--data-dir",
                 str(folder / f"{name}-copy{n}"), "run", "--headless"],
                env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=(folder / f"{name}-copy{n}.log").open("ab")))
        deadline = time.monotonic() + 1800
        while sink.count < emails:
            for process in processes:
                if process.poll() is not None:
                    raise SystemExit(f"a sender exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise SystemExit(f"only {sink.count} of {emails} emails arrived")
            time.sleep(0.05)
        done = time.perf_counter()
        time.sleep(1.0)  # anything sent twice would arrive now
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=60) for process in processes]
        controller.stop()
    assert sink.first is not None and sink.last is not None
    duplicates = sum(n - 1 for n in sink.ids.values() if n > 1)
    duplicate_rcpts = sum(n - 1 for n in sink.rcpts.values() if n > 1)
    return {"copies": copies, "emails": sink.count, "duplicates": duplicates,
            "duplicate_recipients": duplicate_rcpts, "exit_codes": codes,
            "steady_per_s": round((sink.count - 1) / max(1e-9, sink.last - sink.first), 1),
            "launch_to_done_s": round(done - launched, 2)}


def startup(pg: PostgresServer) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_ui_startup

    seeded = Path(tempfile.mkdtemp(prefix="mm-bench-team-seed-"))
    bench_ui_startup.seed(seeded)
    pg.create_database("bench_window")
    url = pg.url("bench_window")
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mailmonitor", "--data-dir", str(seeded), "db",
                    "copy", "--to", url], check=True, env=env, cwd=ROOT, capture_output=True)
    copy_s = time.perf_counter() - started
    pg.psql("bench_window", "ANALYZE")
    times = []
    for _ in range(3):
        run_dir = Path(tempfile.mkdtemp(prefix="mm-bench-team-run-"))
        begin = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--child", str(run_dir), url],
                                stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout is not None
        rows = None
        for line in proc.stdout:
            if line.startswith("SHOWN"):
                times.append(time.perf_counter() - begin)
                rows = line.split()[1:]
        proc.wait(timeout=60)
        print(f"  window shown in {times[-1]:.2f} s ({rows})", flush=True)
    return {"db_copy_s": round(copy_s, 1), "startup_s": round(min(times), 2),
            "startup_all_s": [round(t, 2) for t in times]}


def child(data_dir: Path, url: str) -> None:
    """The window process (as bench_ui_startup's child, on the team database)."""
    import asyncio

    import PySide6  # noqa: F401  (before qasync)
    import qasync
    from PySide6.QtWidgets import QApplication

    from mailmonitor.app import apply_style, build_main_window
    from mailmonitor.logsetup import setup_logging
    from mailmonitor.models import open_db

    app = QApplication(sys.argv[:1])
    setup_logging(data_dir)
    apply_style(app)
    open_db(url)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = build_main_window(loop=loop)
    window.show()
    app.processEvents()
    window.repaint()
    print(f"SHOWN {window.accounts_model.rowCount()} accounts "
          f"{window.campaigns_model.rowCount()} campaigns", flush=True)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), sys.argv[3])
        return 0
    import logging
    import warnings

    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
    warnings.filterwarnings("ignore", "Session.login_data is deprecated")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--mailboxes", type=int, default=20)
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--skip-sending", action="store_true")
    parser.add_argument("--sink-latency-ms", type=float, default=0.0,
                        help="the sink waits this long before each 250, as a provider would")
    args = parser.parse_args()
    results: dict[str, Any] = {"cpus": os.cpu_count(),
                               "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}
    with PostgresServer() as pg, tempfile.TemporaryDirectory(prefix="mm-bench-team-") as tmp:
        if not args.skip_sending:
            latency = args.sink_latency_ms / 1000
            one = run_senders(pg, 1, args.emails, args.mailboxes, Path(tmp), latency)
            print(f"one sender:  {json.dumps(one)}", flush=True)
            two = run_senders(pg, 2, args.emails, args.mailboxes, Path(tmp), latency)
            print(f"two senders: {json.dumps(two)}", flush=True)
            results.update(one=one, two=two, sink_latency_ms=args.sink_latency_ms,
                           speedup=round(two["steady_per_s"] / one["steady_per_s"], 2))
            print(f"two senders vs one: {results['speedup']}x (goal >= 1.8), duplicates "
                  f"{one['duplicates'] + two['duplicates']} (goal 0)", flush=True)
        if not args.skip_startup:
            results["window"] = startup(pg)
            print(f"window start-up on PostgreSQL (1,000 accounts, 200,000 leads): "
                  f"{results['window']['startup_s']} s (goal < 1.5 s); db copy "
                  f"{results['window']['db_copy_s']} s", flush=True)
    results["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
