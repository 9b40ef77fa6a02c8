"""Command-line parts of deliverability (issue 14), kept out of cli.py:
`mailmonitor suppress import|export FILE.csv`, `mailmonitor accounts resume-sending EMAIL` and
`mailmonitor check --round-trip [EMAIL ...]` (the sweep's JSON gains `round_trip`)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any


def add_parsers(sub: Any, common: argparse.ArgumentParser, parser_class: type) -> None:
    suppress = sub.add_parser("suppress", parents=[common],
                              help="addresses that unsubscribed: never emailed again")
    sup = suppress.add_subparsers(dest="action", required=True, parser_class=parser_class)
    for name in ("import", "export"):
        sup.add_parser(name, parents=[common]).add_argument("file", metavar="FILE.csv")


def cmd_suppress(args: argparse.Namespace, now: datetime) -> int:
    from mailmonitor.services.deliverability import suppression

    path = Path(args.file)
    if args.action == "import":
        added, known = suppression.import_csv(path, now)
        print(f"Suppressed {added} addresses" + (f"; {known} were on the list already"
                                                  if known else ""))
    else:
        count = suppression.export_csv(path)
        print(f"Exported {count} suppressed addresses to {path}")
    return 0


def resume_sending(account: Any, now: datetime) -> int:
    from mailmonitor.cli import Failure
    from mailmonitor.services.deliverability import holds

    try:
        holds.resume_sending(account, now)
    except holds.NotHeld as exc:
        raise Failure(str(exc)) from None
    print(f"Sending from {account.email} resumed; its leads continue where they left off")
    return 0


def refused_note(refused: list[str]) -> str:
    if not refused:
        return ""
    shown = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5
                                      else "")
    return f"; {len(refused)} refused: they unsubscribed ({shown})"
