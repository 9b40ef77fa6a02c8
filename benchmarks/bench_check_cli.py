"""`mailmonitor check --json` against a real Dovecot on loopback versus a bare client (issue 12
part 5), and the window's loop stalls for candidate `max_concurrent_checks` values.

1. For N accounts (IMAP + submission STARTTLS, test CA): a bare imapclient/smtplib pool of 16
   threads doing the same logins (benchmarks/bare_pool.py), and the real command line (`python
   -m mailmonitor check --json`, a fresh process: start-up, database, keyring, every check
   recorded) — ROUNDS rounds, after one unmeasured pass of each (every user's first login; the
   data folder's first check, printed on its own). Each round runs, in an order that turns
   every round: the bare pool inside this benchmark's process (started, imapclient imported:
   no start-up at all), the bare pool as a program of its own (`python bare_pool.py …`, from
   launch to exit, as `check` is timed), and `check`. Two medians of ratios are printed: `check`
   against the bare pool in this process (strict: the bare side has no start-up), and against
   the bare program (like for like: both launched, both timed to their exit). Also the CPU time
   of each (what the client costs, apart from the shared machine's noise).
2. The window's own sweep (qasync on Qt offscreen, bench_sweep.app_sweep) for each candidate
   concurrency: sweep time and the largest stall of a 10 ms timer.

Part 1 runs against each server named in SERVERS (issue 22): `slow`, the tests' Dovecot (a login
process and an imap/submission process started per connection, no authentication cache: each
login costs the server several milliseconds of CPU, which hides the client's own costs), and
`fast`, the same Dovecot tuned as a production one answers (tests/servers/dovecot.py `fast=True`:
login processes kept and reused, post-login processes reused, authentication cache, no stats).
Dovecot's submission relays every session to an SMTP sink: it runs in a process of its own, so
neither side shares its interpreter lock with it.

The command runs as installed: its modules' bytecode is compiled first (pip and PyInstaller do
that when installing; this machine sets PYTHONDONTWRITEBYTECODE=1, so a source tree would be
compiled again by every run: about 0.1 s of each `check`'s start-up).

The subprocess reads passwords from tests/file_keyring.py (a JSON file; the window's loop part
uses the in-memory keyring).

Usage: python benchmarks/bench_check_cli.py [N] [ROUNDS] [CANDIDATES] [SERVERS]
       (default: 500 3 4,6,8,12,16 slow,fast; the window's sweeps run against the first server)
"""

from __future__ import annotations

import compileall
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import keyring

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_sweep  # noqa: E402
from bench_sweep import app_sweep, reference, run_in_app_loop  # noqa: E402

from mailmonitor.memory_keyring import MemoryKeyring  # noqa: E402
from mailmonitor.models import Account, Check, close_db, open_db, set_setting  # noqa: E402
from mailmonitor.services.auth import secrets  # noqa: E402
from mailmonitor.services.monitoring.concurrency import CLI_CONCURRENCY  # noqa: E402
from tests.servers.certs import shared_test_pki  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402

BARE_THREADS = 16


def make_data_dir(dovecot: Dovecot, users: list[tuple[str, str]], ca: str) -> tuple[Path, Path]:
    folder = Path(tempfile.mkdtemp(prefix="mm-bench-cli-"))
    keyring_file = folder / "keyring.json"
    open_db(folder / "mailmonitor.sqlite3")
    for email, _password in users:
        Account.create(email=email, imap_host="127.0.0.1", imap_port=dovecot.imap_port,
                       imap_security="starttls", smtp_host="127.0.0.1",
                       smtp_port=dovecot.submission_port, smtp_security="starttls", ca_file=ca)
    close_db()
    keyring_file.write_text(json.dumps({f"mailmonitor\x00{e.lower()}:password": p
                                        for e, p in users}))
    return folder, keyring_file


def cli_check(folder: Path, keyring_file: Path) -> tuple[float, int, int, float]:
    env = {**os.environ, "MAILMONITOR_DATA_DIR": str(folder), "PYTHONPATH": str(ROOT),
           "PYTHON_KEYRING_BACKEND": "tests.file_keyring.FileKeyring",
           "MAILMONITOR_TEST_KEYRING_FILE": str(keyring_file)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mailmonitor", "check", "--json"],
                          capture_output=True, text=True, env=env, timeout=600)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 1, 2) or not done.stdout.startswith("["):
        raise SystemExit(f"check failed ({done.returncode}): {done.stderr[-2000:]}")
    rows = json.loads(done.stdout)
    return elapsed, len(rows), sum(1 for r in rows if r["status"] == "connected"), cpu


def bare_pool(dovecot: Dovecot, users: list[tuple[str, str]], ca: str) -> tuple[float, float]:
    """The bare pool in this process: its wall time and this process's CPU time for it."""
    cpu = time.process_time()
    elapsed = reference(dovecot, users, ca)
    return elapsed, time.process_time() - cpu


def bare_program(dovecot: Dovecot, users_file: Path, ca: str) -> tuple[float, float]:
    """The bare pool as a program of its own: wall time from launch to exit, its CPU time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bare_pool.py"), str(users_file),
                    str(dovecot.imap_port), str(dovecot.submission_port), ca,
                    str(BARE_THREADS)], check=True, timeout=600)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def window_sweeps(dovecot: Dovecot, users: list[tuple[str, str]], ca: str,
                  candidates: list[int]) -> None:
    keyring.set_keyring(MemoryKeyring())
    for concurrency in candidates:
        folder = Path(tempfile.mkdtemp(prefix="mm-bench-win-"))
        open_db(folder / "bench.sqlite3")
        set_setting("max_concurrent_checks", concurrency)
        for email, password in users:
            Account.create(email=email, imap_host="127.0.0.1", imap_port=dovecot.imap_port,
                           imap_security="starttls", smtp_host="127.0.0.1",
                           smtp_port=dovecot.submission_port, smtp_security="starttls",
                           ca_file=ca)
            secrets.set_secret(email, "password", password)
        bench_sweep.CONCURRENCY = concurrency
        elapsed, stall_ms, count = run_in_app_loop(app_sweep)
        connected = Account.select().where(Account.status == "connected").count()
        close_db()
        print(f"window sweep, concurrency {concurrency:2}: {elapsed:.2f} s for {count} "
              f"accounts ({connected} connected), largest loop stall {stall_ms:.1f} ms",
              flush=True)


@contextlib.contextmanager
def sink_process() -> Iterator[int]:
    """An SMTP sink in its own process, for Dovecot's submission to relay to: its port."""
    sink = subprocess.Popen([sys.executable, "-m", "tests.servers.smtp_sink"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert sink.stdout is not None
        yield int(sink.stdout.readline())
    finally:
        assert sink.stdin is not None
        sink.stdin.close()
        sink.wait(timeout=10)


def compare(server: str, n: int, rounds: int, candidates: list[int]) -> None:
    """Part 1 against one server (`slow` or `fast`), then part 2 when `candidates` are given."""
    pki = shared_test_pki()
    ca = str(pki.ca_cert)
    with sink_process() as relay_port, \
            Dovecot(pki, relay_port=relay_port, fast=server == "fast") as dovecot:
        users = [(f"cli{i}@example.test", f"pw-{i}-secret") for i in range(n)]
        for email, password in users:
            dovecot.add_user(email, password)
        folder, keyring_file = make_data_dir(dovecot, users, ca)
        users_file = folder / "bare-users.json"
        users_file.write_text(json.dumps(users))
        bench_sweep.CONCURRENCY = BARE_THREADS
        # Warm-up, not measured as a round: every user's first-ever login (Dovecot creates its
        # mailbox then), and the data folder's first check (every mailbox unknown -> connected
        # runs the campaign rules once; a one-off per mailbox, printed on its own).
        warm, _ = bare_pool(dovecot, users, ca)
        first, _, _, first_cpu = cli_check(folder, keyring_file)
        print(f"[{server} server] warm-up: bare pool (first logins) {warm:.2f} s; first check "
              f"of the fresh data folder {first:.2f} s (CPU {first_cpu:.2f} s)", flush=True)
        strict, like, bares, programs, apps, cpus = [], [], [], [], [], []
        for number in range(1, rounds + 1):
            runs = ["pool", "program", "app"]
            runs = runs[number % 3:] + runs[:number % 3]  # each first, second, third in turn
            for run in runs:
                if run == "pool":
                    bare, bare_cpu = bare_pool(dovecot, users, ca)
                elif run == "program":
                    program, program_cpu = bare_program(dovecot, users_file, ca)
                else:
                    app, count, connected, app_cpu = cli_check(folder, keyring_file)
            strict.append(app / bare)
            like.append(app / program)
            bares.append(bare)
            programs.append(program)
            apps.append(app)
            cpus.append((bare_cpu, program_cpu, app_cpu))
            print(f"[{server} server] round {number}: bare pool of {BARE_THREADS} threads "
                  f"{bare:.2f} s in this process (CPU {bare_cpu:.2f} s), {program:.2f} s as a "
                  f"program (CPU {program_cpu:.2f} s); `mailmonitor check --json` (concurrency "
                  f"{CLI_CONCURRENCY}, incl. start-up) {app:.2f} s (CPU {app_cpu:.2f} s), "
                  f"{connected}/{count} connected; ratios {app / bare:.2f}x strict, "
                  f"{app / program:.2f}x like for like", flush=True)
        open_db(folder / "mailmonitor.sqlite3")
        recorded = Check.select().count()
        close_db()
        print(f"[{server} server] check --json, {n} mailboxes, {rounds} rounds (medians): "
              f"{statistics.median(strict):.2f}x the bare pool in this process (strict), "
              f"{statistics.median(like):.2f}x the bare pool as a program (like for like); "
              f"bare pool {statistics.median(bares):.2f} s, bare program "
              f"{statistics.median(programs):.2f} s, check {statistics.median(apps):.2f} s "
              f"({recorded} checks recorded); client CPU: bare pool "
              f"{statistics.median(c[0] for c in cpus):.2f} s, bare program "
              f"{statistics.median(c[1] for c in cpus):.2f} s, check "
              f"{statistics.median(c[2] for c in cpus):.2f} s", flush=True)
        if candidates:
            window_sweeps(dovecot, users, ca, candidates)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    candidates = [int(c) for c in (sys.argv[3] if len(sys.argv) > 3 else "4,6,8,12,16")
                  .split(",") if c]
    servers = (sys.argv[4] if len(sys.argv) > 4 else "slow,fast").split(",")
    if not set(servers) <= {"slow", "fast"}:
        raise SystemExit(f"SERVERS: slow and/or fast, not {sys.argv[4]!r}")
    compileall.compile_dir(ROOT / "mailmonitor", quiet=1)  # as installed (see above)
    compileall.compile_file(ROOT / "tests" / "file_keyring.py", quiet=1)
    compileall.compile_file(ROOT / "benchmarks" / "bare_pool.py", quiet=1)
    for number, server in enumerate(servers):
        compare(server, n, rounds, candidates if number == 0 else [])


if __name__ == "__main__":
    main()
