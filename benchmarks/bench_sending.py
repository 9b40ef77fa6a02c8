"""Benchmark: the sending engine (spec §6).

1. Engine overhead per send, SMTP excluded: scheduling, composing, the three commits of the
   crash-safe record (sending → handed over → sent + cursor). A stand-in transport accepts every
   message at once. Target: < 5 ms per send.
2. Throughput of 1,000 sends through real SMTP (smtplib, AUTH PLAIN, one connection per batch) to
   a local aiosmtpd sink, daily limits and gaps lifted.

Both on a real SQLite file (WAL) in a temporary folder.

    /tmp/venv/bin/python benchmarks/bench_sending.py [--sends 1000] [--mailboxes 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import socket
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, SendRecord, close_db, open_db
from mailmonitor.services.monitoring.probes import Credentials
from mailmonitor.services.sending.engine import SendingEngine
from tests.factories import make_account, make_campaign, make_leads
from tests.fake_smtp import FakeServer

NOW = datetime(2026, 11, 23, 9, 0)


def build(sends: int, mailboxes: int, **account_fields: Any) -> list[Account]:
    accounts = [make_account(f"box{i}@sales.example", daily_limit=1_000_000, min_gap_seconds=0,
                             signature="Rita Rep\nExample Inc.", **account_fields)
                for i in range(mailboxes)]
    campaign = make_campaign("Bench", accounts, steps=1)
    per_box = sends // mailboxes
    for i, account in enumerate(accounts):
        count = per_box + (sends - per_box * mailboxes if i == 0 else 0)
        make_leads(campaign, account, count, prefix=f"b{i}-")
    return accounts


def credentials(account: Account, password: str | None, timeout: float) -> Credentials:
    return Credentials(password="bench-password")


def overhead(sends: int, mailboxes: int, profile: bool) -> float:
    with tempfile.TemporaryDirectory(prefix="mm-bench-") as folder:
        open_db(Path(folder) / "mailmonitor.sqlite3")
        try:
            build(sends, mailboxes)
            server = FakeServer()
            engine = SendingEngine(FakeClock(NOW), credentials=credentials,
                                   transport_factory=server.factory, save_copy=lambda a: False,
                                   rng=random.Random(1), max_batch=200)
            profiler = cProfile.Profile() if profile else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            sent = engine.run_until_idle(max_rounds=10_000)
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - started
            assert sent == sends == len(server.delivered), (sent, len(server.delivered))
            assert SendRecord.select().where(SendRecord.state == "sent").count() == sends
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            return elapsed
        finally:
            close_db()


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 2.0.0 Ok: queued"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def throughput(sends: int, mailboxes: int) -> tuple[float, int]:
    sink = _Sink()
    controller = Controller(
        sink, hostname="127.0.0.1", port=_free_port(), auth_require_tls=False,
        authenticator=lambda *args: AuthResult(success=True), auth_required=True)
    controller.start()
    try:
        with tempfile.TemporaryDirectory(prefix="mm-bench-") as folder:
            open_db(Path(folder) / "mailmonitor.sqlite3")
            try:
                build(sends, mailboxes, smtp_host="127.0.0.1", smtp_port=controller.port,
                      smtp_security="plain")
                engine = SendingEngine(FakeClock(NOW), credentials=credentials, timeout=10,
                                       save_copy=lambda a: False, rng=random.Random(1),
                                       max_batch=200)
                started = time.perf_counter()
                sent = engine.run_until_idle(max_rounds=10_000)
                elapsed = time.perf_counter() - started
                assert sent == sends == sink.count, (sent, sink.count)
                return elapsed, sent
            finally:
                close_db()
    finally:
        controller.stop()


def main() -> int:
    import logging
    import warnings

    # The sink signs in without TLS on purpose (loopback); aiosmtpd says so on every session.
    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
    warnings.filterwarnings("ignore", "Session.login_data is deprecated")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=1000)
    parser.add_argument("--mailboxes", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile the overhead run")
    args = parser.parse_args()

    elapsed = overhead(args.sends, args.mailboxes, args.profile)
    per_send = elapsed / args.sends * 1000
    print(f"engine overhead (no SMTP): {args.sends} sends in {elapsed:.2f} s = "
          f"{per_send:.2f} ms per send (target < 5 ms) "
          f"{'OK' if per_send < 5 else 'OVER TARGET'}")

    elapsed, sent = throughput(args.sends, args.mailboxes)
    print(f"throughput to a local aiosmtpd sink: {sent} sends from {args.mailboxes} mailboxes "
          f"in {elapsed:.2f} s = {sent / elapsed:.0f} emails/s "
          f"({elapsed / sent * 1000:.2f} ms per send, SMTP included)")
    return 0 if per_send < 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
