"""Benchmark: re-allocate 100,000 leads of one campaign (spec §4.5).

One campaign with 5 mailboxes (2 disconnected), 100,000 leads spread over them, on a real SQLite
file in a temporary folder. Times `plan_reallocation` and `apply_reallocation`.

    /tmp/venv/bin/python benchmarks/bench_reallocation.py [--leads N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailmonitor.models import Campaign, Lead, close_db, open_db
from mailmonitor.services.campaigns.reallocation import (
    apply_reallocation,
    plan_reallocation,
)
from tests.factories import make_account, make_campaign, make_leads

NOW = datetime(2026, 11, 23, 9, 0, 0)


def build(leads: int) -> tuple[Campaign, list[int]]:
    broken = [make_account(f"broken{i}@example.com", status="disconnected",
                           reason="invalid_credentials") for i in range(2)]
    limits = (50, 30, 20)
    targets = [make_account(f"ok{i}@example.com", daily_limit=n) for i, n in enumerate(limits)]
    campaign = make_campaign("Benchmark", [*broken, *targets])
    # Two fifths on each broken mailbox (what moves), one fifth already on the connected ones.
    per_broken = leads * 2 // 5
    make_leads(campaign, broken[0], per_broken, prefix="a", state="halted")
    make_leads(campaign, broken[1], per_broken, prefix="b", state="halted")
    rest = leads - 2 * per_broken
    make_leads(campaign, targets[0], rest, prefix="c")
    return campaign, [t.id for t in targets]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mm-bench-") as folder:
        open_db(Path(folder) / "mailmonitor.sqlite3")
        try:
            started = time.perf_counter()
            campaign, target_ids = build(args.leads)
            setup = time.perf_counter() - started

            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            t0 = time.perf_counter()
            plan = plan_reallocation(campaign, NOW)
            t1 = time.perf_counter()
            moved = apply_reallocation(plan, NOW)
            t2 = time.perf_counter()
            if profiler:
                profiler.disable()

            on_targets = Lead.select().where(Lead.mailbox.in_(target_ids)).count()
            assert moved == args.leads * 4 // 5, moved
            assert on_targets == args.leads, on_targets
            print(f"setup {args.leads} leads: {setup:.2f} s")
            print(f"moved {moved} leads: {plan.counts()}")
            print(f"reallocate {args.leads} leads: plan {t1 - t0:.2f} s, apply {t2 - t1:.2f} s, "
                  f"total {t2 - t0:.2f} s")
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        finally:
            close_db()
    return 0


if __name__ == "__main__":
    sys.exit(main())
