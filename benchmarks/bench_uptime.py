"""How long `uptimes()` takes for N accounts with 30 days of checks every 5 minutes (what
`accounts list --json` adds), on a real SQLite file.

    python benchmarks/bench_uptime.py [ACCOUNTS]     (default 100)
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailmonitor.models import Account, Check, close_db, db, open_db
from mailmonitor.services.monitoring.uptime import uptimes


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    now = datetime(2026, 12, 1, 12, 0)
    with tempfile.TemporaryDirectory() as tmp:
        open_db(Path(tmp) / "mailmonitor.sqlite3")
        accounts = [Account.create(email=f"a{i}@bench.test", status="connected")
                    for i in range(count)]
        rows = []
        for account in accounts:
            at = now - timedelta(days=30)
            n = 0
            while at < now:
                status = "disconnected" if n % 997 < 12 else "connected"
                rows.append((account.id, at, status))
                at += timedelta(minutes=5)
                n += 1
        with db.atomic():
            for start in range(0, len(rows), 5000):
                Check.insert_many(rows[start:start + 5000],
                                  fields=[Check.account, Check.checked_at, Check.status]
                                  ).execute()
        started = time.perf_counter()
        result = uptimes(accounts, now)
        seconds = time.perf_counter() - started
        sample = result[accounts[0].id]
        print(f"uptime of {count} accounts from {len(rows):,} checks (30 days every 5 min): "
              f"{seconds:.2f} s ({1000 * seconds / count:.1f} ms per account); e.g. {sample}")
        close_db()


if __name__ == "__main__":
    main()
