"""Benchmark: deliverability (issue 14), on a real SQLite file (WAL) in a temporary folder.

1. Round trips through a real Dovecot (submission → a sink that files back into the INBOX):
   sign-in + send, time until found over IMAP, whole test (median and slowest of N).
2. The bounce guard's rate over 500 mailboxes × 50 sends (2 % hard bounces) — one
   `evaluate_all`, as after a reply poll.
3. The suppression list: importing 100,000 addresses from CSV, then 10,000 leads into a
   campaign of which 1,000 are suppressed (refused).

    .venv/bin/python benchmarks/bench_deliverability.py [--round-trips 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailmonitor.models import Bounce, Lead, SendRecord, close_db, db, open_db
from mailmonitor.services.campaigns.setup import import_leads
from mailmonitor.services.deliverability import bounce_guard, suppression
from mailmonitor.services.monitoring.probes import Credentials
from mailmonitor.services.placement import round_trip
from tests.factories import make_account, make_campaign, make_leads
from tests.integration.mailboxes import dovecot_account
from tests.servers.delivering_sink import DeliveringSink
from tests.servers.dovecot import Dovecot

NOW = datetime(2026, 11, 23, 9, 0)


def bench_round_trips(count: int) -> None:
    with DeliveringSink() as sink, Dovecot(relay_port=sink.port) as server:
        sink.dovecot = server
        user = server.new_user()
        account = dovecot_account(server, user)
        results = [round_trip.run_round_trip(account, Credentials(password=user.password), NOW,
                                             timeout=10, io_timeout=10) for _ in range(count)]
    assert all(r.outcome == "inbox" and r.deleted for r in results), results
    for name in ("send_ms", "arrival_ms", "total_ms"):
        values = [int(getattr(r, name)) for r in results]
        print(f"round trip {name:10}: median {statistics.median(values):5.0f} ms, "
              f"slowest {max(values):5d} ms ({count} tests, all in the Inbox, all deleted)")


def bench_bounce_guard(mailboxes: int = 500, sends: int = 50) -> None:
    rng = random.Random(1)
    accounts = [make_account(f"rep{i}@sales.example") for i in range(mailboxes)]
    campaign = make_campaign("C", accounts, steps=1)
    with db.atomic():
        for account in accounts:
            ids = make_leads(campaign, account, sends, prefix=f"l{account.id}-", cursor=1)
            rows = [{"lead": lead_id, "campaign": campaign.id, "account": account.id, "step": 0,
                     "message_id": f"<{lead_id}@sales.example>", "state": "sent",
                     "created_at": NOW - timedelta(hours=n), "sent_at": NOW}
                    for n, lead_id in enumerate(ids)]
            SendRecord.insert_many(rows).execute()
        records = list(SendRecord.select(SendRecord.id, SendRecord.account, SendRecord.lead))
        bounced = [r for r in records if rng.random() < 0.02]
        Bounce.insert_many([{"account": r.account_id, "send": r.id, "lead": r.lead_id,
                             "email": f"b{r.id}@x.example", "kind": "hard", "status": "5.1.1",
                             "received_at": NOW} for r in bounced]).execute()
    start = time.perf_counter()
    found = bounce_guard.pauses_needed(NOW)  # the worker thread's part
    rates = time.perf_counter() - start
    start = time.perf_counter()
    held = bounce_guard.apply_pauses(found, NOW)  # the event loop's part (status writes)
    holding = time.perf_counter() - start
    print(f"bounce guard: {mailboxes} mailboxes x {sends} sends, {len(bounced)} hard bounces: "
          f"rates {rates * 1000:.0f} ms in a worker ({rates / mailboxes * 1000:.2f} ms a "
          f"mailbox); {len(held)} paused on the loop in {holding * 1000:.0f} ms "
          f"({holding / max(1, len(held)) * 1000:.1f} ms each)")


def bench_suppression(folder: Path) -> None:
    path = folder / "optouts.csv"
    path.write_text("email\n" + "".join(f"out{i}@x.example\n" for i in range(100_000)))
    start = time.perf_counter()
    added, _ = suppression.import_csv(path, NOW)
    took = time.perf_counter() - start
    print(f"suppress import: {added:,} addresses in {took:.2f} s")
    account = make_account("sender@sales.example")
    campaign = make_campaign("Import", [account], steps=1)
    leads = folder / "leads.csv"
    leads.write_text("email,first_name\n" + "".join(
        f"{'out' if i % 10 == 0 else 'new'}{i}@x.example,N{i}\n" for i in range(10_000)))
    refused: list[str] = []
    start = time.perf_counter()
    imported, _ = import_leads(campaign, leads, NOW, refused)
    took = time.perf_counter() - start
    assert Lead.select().where(Lead.campaign == campaign).count() == imported == 9_000
    print(f"leads import: 10,000 rows, {imported:,} imported, {len(refused):,} refused as "
          f"unsubscribed, in {took:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--round-trips", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mm-bench-deliv-"))
    open_db(folder / "mailmonitor.sqlite3")
    import keyring

    from mailmonitor.memory_keyring import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())
    try:
        bench_round_trips(args.round_trips)
        bench_bounce_guard()
        bench_suppression(folder)
    finally:
        close_db()


if __name__ == "__main__":
    main()
