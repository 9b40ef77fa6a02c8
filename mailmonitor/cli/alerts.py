"""`mailmonitor alerts [--json]`: what needs the rep now, one entry per cause, most urgent
first — the attention model the window, the tray and the alert channels show."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from mailmonitor.cli.common import EXIT_OK, Command, Parser, Subparsers, print_json


def add_parser(sub: Subparsers, common: Parser) -> dict[str, Command]:
    alerts = sub.add_parser(
        "alerts", parents=[common],
        help="what needs you now, one entry per cause, most urgent first")
    alerts.add_argument("--json", action="store_true", help="print JSON")
    return {"alerts": cmd_alerts}


def utc_iso(value: datetime | None) -> str | None:
    """ISO 8601 with its offset (the database keeps naive UTC)."""
    return value.replace(tzinfo=UTC).isoformat(timespec="seconds") if value else None


def condition_json(row: Any) -> dict[str, Any]:
    return {
        "key": row.key, "kind": row.kind, "severity": row.severity, "title": row.title,
        "message": row.message, "mailboxes": list(row.mailboxes or []),
        "campaigns": list(row.campaigns or []), "deadline": utc_iso(row.deadline),
        "action": row.action, "since": utc_iso(row.created_at), "count": int(row.count or 1),
        "muted": bool(row.muted),
    }


def cmd_alerts(args: argparse.Namespace, now: datetime) -> int:
    from mailmonitor.services.alerts.attention import time_left
    from mailmonitor.services.alerts.reconciler import open_conditions, reconcile
    from mailmonitor.services.alerts.warnings import rep_time

    reconcile(now)  # the state now, not what the last running copy stored
    rows = open_conditions()
    if args.json:
        print_json([condition_json(r) for r in rows])
        return EXIT_OK
    if not rows:
        print("Nothing needs you: every mailbox works and every campaign can send.")
        return EXIT_OK
    loud = sum(1 for r in rows if not r.muted)
    print(f"{loud} {'thing needs' if loud == 1 else 'things need'} you"
          + (f" ({len(rows) - loud} muted)" if len(rows) > loud else "") + ":")
    for number, row in enumerate(rows, 1):
        head = f"{number}. [{row.severity}] {row.title}"
        if row.deadline is not None:
            head += f" — {time_left(row.deadline, now)} ({rep_time(row.deadline)})"
        if row.muted:
            head += " — muted"
        print(head)
        print(f"   {row.message}")
        facts = []
        if row.mailboxes:
            facts.append("Mailboxes: " + ", ".join(row.mailboxes))
        if row.campaigns:
            facts.append("Campaigns: " + ", ".join(row.campaigns))
        if row.action:
            facts.append(f"Action: {row.action}")
        if facts:
            print("   " + "; ".join(facts))
    return EXIT_OK
