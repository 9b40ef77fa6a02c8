"""The attention model at scale (issue 25): reconciling the conditions of 1,000 mailboxes.

Seeds 1,000 mailboxes on 37 servers (90 % connected, 5 % retrying, 3 % disconnected with
contacted leads, 2 % stopped), 100 campaigns with 20,000 leads, DNS problems on 5 domains, then
times `reconciler.reconcile` (read the state, derive, store) on that SQLite file:
- the first reconcile (every condition opened),
- a reconcile with nothing changed (what the background loop does every minute),
- a reconcile after 100 status changes (a burst, coalesced into one),
each the median and the largest of several runs. Target: under 50 ms for 1,000 mailboxes.
Also the pure `derive` on the same state (no database).

Usage: python benchmarks/bench_attention.py [RUNS] [LEADS]   (default 20 runs, 20,000 leads;
       200000 measures the window benchmark's number of leads)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ACCOUNTS, CAMPAIGNS, LEADS = 1000, 100, 20_000
TARGET_MS = 50.0


def seed(lead_count: int = LEADS) -> None:
    from fleet import REASONS, account_rows

    from mailmonitor.clock import utcnow
    from mailmonitor.models import (
        Account,
        Campaign,
        CampaignMailbox,
        DomainAuth,
        Lead,
        SendRecord,
        Step,
        db,
    )

    now = utcnow()
    with db.atomic():
        rows = account_rows(ACCOUNTS, now, lambda _i, status: {
            "status_since": now, "consecutive_failures": 3 if status in REASONS else 0,
            "transient_since": now - timedelta(minutes=30) if status == "warning" else None,
            "disconnected_since": now - timedelta(days=2) if status == "disconnected" else None,
            "created_at": now - timedelta(days=30)})
        for i in range(0, len(rows), 200):
            Account.insert_many(rows[i:i + 200]).execute()
        ids = [a for (a,) in Account.select(Account.id).order_by(Account.id).tuples()]
        per = ACCOUNTS // CAMPAIGNS
        for c in range(CAMPAIGNS):
            campaign = Campaign.create(name=f"Campaign {c:03d}", status="active", created_at=now)
            Step.create(campaign=campaign, position=0, subject="Hi", body="Hi", delay_days=0)
            mailboxes = ids[c * per:(c + 1) * per]
            CampaignMailbox.insert_many([{"campaign": campaign.id, "account": a,
                                          "added_at": now} for a in mailboxes]).execute()
            leads = [{"campaign": campaign.id, "email": f"lead{n}@c{c}.example", "fields": {},
                      "mailbox": mailboxes[n % per], "cursor": 1 if n % 3 == 0 else 0,
                      "state": "active" if n % 3 == 0 else "pending", "messages_sent": n % 3 == 0,
                      "next_due_at": now, "updated_at": now}
                     for n in range(lead_count // CAMPAIGNS)]
            for i in range(0, len(leads), 1000):
                Lead.insert_many(leads[i:i + 1000]).execute()
        broken = [a for (a,) in Account.select(Account.id).where(
            Account.status == "disconnected").tuples()]
        Lead.update(state="halted").where(Lead.mailbox.in_(broken)).execute()
        for lead in Lead.select().where(Lead.mailbox.in_(broken) & (Lead.cursor == 1)):
            SendRecord.create(lead=lead, campaign=lead.campaign_id, account=lead.mailbox_id,
                              step=0, message_id=f"<{lead.id}@bench>", state="sent",
                              created_at=now, sent_at=now)
        for d in range(5):
            DomainAuth.create(domain=f"sales{d}.example", checked_at=now, result={
                "findings": [{"name": "SPF", "status": "missing", "summary": "No SPF record.",
                              "fix": "Add one."}]})
    db.execute_sql("ANALYZE")


def timed(fn: object, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    leads = int(sys.argv[2]) if len(sys.argv) > 2 else LEADS
    from mailmonitor.clock import utcnow
    from mailmonitor.models import DB_FILENAME, Account, Alert, close_db, open_db
    from mailmonitor.services.alerts import facts
    from mailmonitor.services.alerts.attention import derive
    from mailmonitor.services.alerts.reconciler import reconcile
    from mailmonitor.services.monitoring.account_state import record_check
    from tests.factories import probe_fail, probe_ok

    folder = Path(tempfile.mkdtemp(prefix="mm-bench-attention-"))
    open_db(folder / DB_FILENAME)
    started = time.perf_counter()
    seed(leads)
    print(f"seeded {ACCOUNTS} mailboxes, {CAMPAIGNS} campaigns, {leads:,} leads in "
          f"{time.perf_counter() - started:.1f} s")
    now = utcnow()
    first_started = time.perf_counter()
    first = reconcile(now)
    first_ms = (time.perf_counter() - first_started) * 1000
    print(f"first reconcile: {len(first.opened)} conditions opened in {first_ms:.1f} ms "
          f"(open: {Alert.select().where(Alert.resolved_at.is_null()).count()})")
    steady = timed(lambda: reconcile(now), runs)
    print(f"nothing changed: median {steady[0]:.1f} ms, largest {steady[1]:.1f} ms "
          f"({runs} runs; target < {TARGET_MS:.0f} ms)")
    state = facts.read_state(now)
    read = timed(lambda: facts.read_state(now), runs)
    pure = timed(lambda: derive(state), runs)
    print(f"  of which reading the state: median {read[0]:.1f} ms; derive alone (pure): "
          f"median {pure[0]:.2f} ms")
    connected = [a for a in Account.select().where(Account.status == "connected").limit(100)]
    bursts = []
    for n in range(max(3, runs // 4)):
        for i, account in enumerate(connected):
            account = Account.get_by_id(account.id)
            if n % 2 == 0:
                imap = probe_fail("invalid_credentials", "535 5.7.8") if i % 2 else \
                    probe_fail("timeout", "no answer")
                record_check(account, imap, probe_ok(), now, "bench")
                record_check(account, imap, probe_ok(), now, "bench")
            else:
                record_check(account, probe_ok(), probe_ok(), now, "bench")
        begin = time.perf_counter()
        done = reconcile(now)
        bursts.append(((time.perf_counter() - begin) * 1000, done))
    worst = max(b[0] for b in bursts)
    print(f"after a burst of 100 status changes: median "
          f"{statistics.median(b[0] for b in bursts):.1f} ms, largest {worst:.1f} ms "
          f"(e.g. {len(bursts[0][1].opened)} opened, {len(bursts[0][1].changed)} changed, "
          f"{len(bursts[1][1].resolved)} resolved)")
    ok = steady[1] < TARGET_MS and worst < TARGET_MS
    print("target met" if ok else "TARGET MISSED")
    close_db()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
