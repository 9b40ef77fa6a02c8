"""The monitor's own cost per check, without a network: a sweep of N mailboxes whose probes
answer at once (both sides connected, a certificate a year away), on a real SQLite file. What is
left is what the event loop's thread does for every check — loading the row, recording the
check, the status rules — and what `check` would add to a bare client pool (issue 12 part 5).

    python benchmarks/bench_check_overhead.py [N] [ROUNDS]     (default 500 5)

Prints the best sweep of ROUNDS (ms per check) and the loop thread's CPU time per check.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailmonitor.models import Account, close_db, open_db  # noqa: E402
from mailmonitor.services.monitoring.monitor import Monitor  # noqa: E402
from mailmonitor.services.monitoring.probes import ProbeResult  # noqa: E402

CERT = datetime.now() + timedelta(days=365)


def answer(protocol: str) -> ProbeResult:
    return ProbeResult(protocol, True, "connected", None, "OK", 12,
                       {"connect": 1.0, "tls": 3.0, "auth": 5.0}, CERT, None)


def instant_check(account: Any, password: str | None, timeout: float
                  ) -> tuple[ProbeResult, ProbeResult]:
    return answer("imap"), answer("smtp")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    folder = Path(tempfile.mkdtemp(prefix="mm-bench-overhead-"))
    open_db(folder / "mailmonitor.sqlite3")
    for i in range(n):
        Account.create(email=f"o{i}@example.test", imap_host="127.0.0.1",
                       smtp_host="127.0.0.1", status="connected")
    best_wall = best_cpu = float("inf")
    for number in range(rounds):
        monitor = Monitor(check_fn=instant_check, max_concurrency=16)

        async def sweep(m: Monitor = monitor) -> int:
            try:
                return len(await m.sweep(trigger="cli"))
            finally:
                await m.stop()

        cpu, wall = time.thread_time(), time.perf_counter()
        count = asyncio.run(sweep())
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
        print(f"round {number + 1}: {count} checks in {wall * 1000:.0f} ms "
              f"({wall / count * 1000:.2f} ms each; loop thread CPU {cpu / count * 1000:.2f} ms)",
              flush=True)
    close_db()
    print(f"{n} checks: best {best_wall / n * 1000:.2f} ms per check, loop thread CPU "
          f"{best_cpu / n * 1000:.2f} ms per check")


if __name__ == "__main__":
    main()
