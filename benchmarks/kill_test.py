"""Kill test at scale: `mailmonitor run --headless` killed with SIGKILL at random moments while it
sends, restarted each time, until the campaign completes; then every step of every lead must have
reached the sink exactly once and the database must pass `PRAGMA integrity_check`.

Each run: a fresh Dovecot (submission relaying to a sink), fresh data folder, `--emails` emails
(leads x steps over 2 mailboxes), killed `--kills` times. Needs Dovecot (see tests/servers).

    /tmp/venv/bin/python benchmarks/kill_test.py [--runs 50] [--emails 200] [--kills 10]
        [--provider filing|plain] [--seed N]

`filing`: the provider files every SMTP send in Sent (Gmail, Microsoft 365): exactly once.
`plain`: no server copy: never twice; a send cut off between the end of data and the answer is
counted as sent and named to the rep ("unknown").
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.kill_harness import run_kill_test
from tests.servers.certs import shared_test_pki


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--emails", type=int, default=200)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--provider", choices=("filing", "plain"), default="filing")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()

    pki = shared_test_pki()
    leads = max(1, args.emails // args.steps)
    failures = 0
    totals: Counter[str] = Counter()
    started = time.monotonic()
    for number in range(1, args.runs + 1):
        seed = None if args.seed is None else args.seed + number
        result = run_kill_test(pki, kills=args.kills, leads=leads, steps=args.steps,
                               provider=args.provider, seed=seed)
        ok = (not result.duplicates and set(result.missing) <= set(result.unknown)
              and result.integrity == "ok" and result.exit_codes == [0]
              and result.record_states["sending"] == 0
              and (args.provider == "plain" or not result.missing))
        failures += not ok
        totals["kills"] += result.kills
        totals["emails"] += result.emails_expected
        totals["delivered"] += sum(result.delivered.values())
        totals["duplicates"] += len(result.duplicates)
        totals["missing"] += len(result.missing)
        totals["unknown"] += len(result.unknown)
        for name in ("retried", "sent", "unknown", "waiting"):
            totals[f"reconcile_{name}"] += result.reconciled[name]
        print(f"run {number:3}: {'ok  ' if ok else 'FAIL'} {result.emails_expected} emails, "
              f"{result.kills} kills, delivered {sum(result.delivered.values())}, "
              f"duplicates {len(result.duplicates)}, missing {len(result.missing)}, "
              f"unknown {len(result.unknown)}, settled at restart: "
              f"{result.reconciled['retried']} proven unsent, {result.reconciled['sent']} "
              f"found on the server, integrity {result.integrity}, {result.seconds:.1f} s",
              flush=True)
    elapsed = time.monotonic() - started
    print()
    print(f"{args.runs} runs x {leads * args.steps} emails ({args.provider}), "
          f"{totals['kills']} kills in {elapsed:.0f} s")
    print(f"  emails expected {totals['emails']}, delivered {totals['delivered']}, "
          f"duplicates {totals['duplicates']}, missing {totals['missing']}, "
          f"unknown {totals['unknown']}")
    print(f"  interrupted sends settled at restart: {totals['reconcile_retried']} proven unsent "
          f"(re-sent), {totals['reconcile_sent']} found on the server, "
          f"{totals['reconcile_unknown']} unknown")
    print(f"  result: {'PASS' if not failures else f'FAIL ({failures} runs)'}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
