"""Benchmark: the team database goes away in the middle of a campaign (issue 21, part 1).

The scenario reported from outside: two `run --headless` copies, six mailboxes (two only copy 1
holds the secret of, four both), 600 leads; after a quarter of the emails the PostgreSQL server
is stopped with `pg_ctl stop -m immediate`, stays down DOWN seconds (default 20), and is started
again. Prints, for the run:
- seconds from the server accepting connections again to the next delivery (goal < 30 s);
- each copy's log: its "unreachable" / "reachable again" lines and bytes written while the
  server was down (the report: "connection already closed" several times a second, the log
  rotated within a minute);
- deliveries: expected, delivered, duplicates, missing (goal: exactly once), exit codes.

    python benchmarks/bench_team_outage.py [--leads 600] [--steps 1] [--down 20]
                                           [--lease-seconds 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.kill_harness import mail_servers  # noqa: E402
from tests.servers.certs import shared_test_pki  # noqa: E402
from tests.servers.postgres import PostgresServer  # noqa: E402
from tests.team_kill_harness import TeamKillRunner  # noqa: E402


def log_size(runner: TeamKillRunner, copy: int) -> int:
    folder = runner.data_dir(copy) / "logs"
    return sum(p.stat().st_size for p in folder.glob("mailmonitor.log*"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=600)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--down", type=float, default=20.0)
    parser.add_argument("--lease-seconds", type=float, default=30.0)
    args = parser.parse_args()
    pki = shared_test_pki()
    started = time.monotonic()
    with PostgresServer(pki, durable=True) as postgres, \
            tempfile.TemporaryDirectory(prefix="mm-bench-outage-") as tmp, \
            mail_servers(pki) as (dovecot, sink):
        url = postgres.create_database("outage")
        runner = TeamKillRunner(dovecot, sink, Path(tmp), url, lease_seconds=args.lease_seconds)
        try:
            runner.setup(only_first=2, shared=4, leads=args.leads, steps=args.steps)
            total = args.leads * args.steps
            runner.run_until_delivered(total // 4)
            before = {copy: log_size(runner, copy) for copy in (1, 2)}
            postgres.crash()
            crashed = time.monotonic()
            delivered_at_crash = len(sink.messages())
            time.sleep(args.down)
            during = {copy: log_size(runner, copy) - before[copy] for copy in (1, 2)}
            delivered_while_down = len(sink.messages()) - delivered_at_crash
            postgres.start_again()
            back = time.monotonic()
            resumed = runner.seconds_to_next_delivery(wait=300)
            runner.finish(wait=600)
        finally:
            runner.stop_all()
        result = runner.result(started)
        logs = {copy: runner.log_text(copy) for copy in (1, 2)}
        stderr = {copy: runner.stderr_text(copy).strip() for copy in (1, 2)}
    print(f"campaign: {args.leads} leads x {args.steps} steps from 6 mailboxes, two copies, "
          f"lease {args.lease_seconds:g} s")
    print(f"server down {back - crashed:.1f} s (pg_ctl stop -m immediate, start again after "
          f"{args.down:g} s); deliveries while down: {delivered_while_down} (in flight at the "
          "crash)")
    print(f"first delivery after the server was back: {resumed:.1f} s")
    for copy in (1, 2):
        log = logs[copy]
        print(f"copy {copy}: 'unreachable' lines {log.count('team database unreachable')}, "
              f"'reachable again' lines {log.count('team database reachable again')}, "
              f"'connection already closed' {log.count('connection already closed')}, "
              f"log bytes written while down {during[copy]}, stderr {stderr[copy]!r}")
    print(f"delivered {sum(result.delivered.values())} of {result.emails_expected}: "
          f"duplicates {len(result.duplicates)}, missing {len(result.missing)}, "
          f"send records left sending/unknown {result.record_states['sending']}/"
          f"{result.record_states['unknown']}, exit codes {result.exit_codes}, "
          f"{result.seconds:.0f} s in all")
    ok = result.exactly_once and resumed < 30 and result.exit_codes == [0, 0]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
