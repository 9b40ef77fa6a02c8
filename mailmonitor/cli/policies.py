"""`mailmonitor policies [--json]`: the providers' dated changes mailmonitor knows of (shipped
with it, services/common/policies.py) and, for each, the mailboxes of this team it hits."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from mailmonitor.cli.common import EXIT_OK, Command, Failure, Parser, Subparsers, print_json


def add_parser(sub: Subparsers, common: Parser) -> dict[str, Command]:
    policies = sub.add_parser(
        "policies", parents=[common],
        help="dated provider changes and the mailboxes each one hits")
    policies.add_argument("--json", action="store_true", help="print JSON")
    return {"policies": cmd_policies}


def _json(item: Any) -> dict[str, Any]:
    change = item.change
    return {"id": change.id, "provider": change.provider, "title": change.title,
            "effective": change.effective.isoformat(), "status": item.status,
            "mailboxes": list(item.mailboxes), "action": change.action,
            "source": change.source}


def cmd_policies(args: argparse.Namespace, now: datetime) -> int:
    from mailmonitor.services.alerts.radar import report
    from mailmonitor.services.common.policies import UPCOMING, PolicyError

    try:
        version, items = report(now.date())
    except PolicyError as exc:
        raise Failure(f"the list of provider changes cannot be read: {exc}") from None
    if args.json:
        print_json([_json(item) for item in items])
        return EXIT_OK
    print(f"Provider changes mailmonitor knows of (list of {version}):")
    for item in items:
        change = item.change
        when = ("from " if item.status == UPCOMING else "in effect since ") + change.date_words
        print()
        print(f"{change.provider}: {change.title} — {when}")
        print(f"  {change.what}")
        if item.mailboxes:
            print(f"  Hits {len(item.mailboxes)} of your mailboxes: {', '.join(item.mailboxes)}")
            print(f"  What to do: {change.fix}")
        else:
            print("  None of your mailboxes is hit.")
        print(f"  Source: {change.source}")
    return EXIT_OK
