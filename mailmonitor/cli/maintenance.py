"""`mailmonitor maintenance add|list|remove`: maintenance windows. While one covers a mailbox
(one address, a domain, or everything), it gives no alert and no message, the timeline shows the
window hatched and uptime leaves it out."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from mailmonitor.cli.common import EXIT_OK, Command, Parser, Subparsers, UsageError, print_json


def add_parser(sub: Subparsers, common: Parser) -> dict[str, Command]:
    maint = sub.add_parser("maintenance", parents=[common],
                           help="mute mailboxes, a domain or everything until a time")
    actions = maint.add_subparsers(dest="action", required=True, parser_class=Parser,
                                   metavar="ACTION")
    add = actions.add_parser(
        "add", parents=[common], help="start a maintenance window",
        description="Mute the named mailboxes, every mailbox of --domain, or --all. WHEN is an "
                    "ISO 8601 time (2026-12-24T09:00+01:00; without an offset: UTC) or a "
                    "duration from now (2h, 90m, 1d).")
    add.add_argument("emails", nargs="*", metavar="EMAIL", help="the mailboxes to mute")
    add.add_argument("--domain", metavar="D", help="every mailbox of this domain")
    add.add_argument("--all", action="store_true", dest="everything", help="every mailbox")
    add.add_argument("--until", required=True, metavar="WHEN", help="when the window ends")
    add.add_argument("--from", dest="starts", metavar="WHEN",
                     help="when it starts (default: now)")
    add.add_argument("--note", default="", metavar="TEXT", help="why (shown with it)")
    listing = actions.add_parser("list", parents=[common], help="current and coming windows")
    listing.add_argument("--json", action="store_true", help="print JSON")
    remove = actions.add_parser("remove", parents=[common], help="end a window now")
    remove.add_argument("id", metavar="ID", help="the window's id (maintenance list)")
    return {"maintenance": cmd_maintenance}


def _iso(value: datetime) -> str:
    return value.replace(tzinfo=UTC).isoformat(timespec="seconds")


def _json(window: Any, now: datetime) -> dict[str, Any]:
    return {"id": window.id, "scope": window.scope, "target": window.target or None,
            "from": _iso(window.starts_at), "until": _iso(window.ends_at), "note": window.note,
            "active": window.starts_at <= now < window.ends_at}


def cmd_maintenance(args: argparse.Namespace, now: datetime) -> int:
    from mailmonitor.services.alerts.warnings import rep_time
    from mailmonitor.services.monitoring import maintenance

    if args.action == "add":
        windows = maintenance.add_window(args.emails, args.domain, args.everything, args.until,
                                         now, starts=args.starts, note=args.note)
        for w in windows:
            starts = "now" if w.starts_at <= now else f"from {rep_time(w.starts_at)}"
            print(f"Muted {w.what} {starts} until {rep_time(w.ends_at)} (window {w.id})"
                  + (f": {w.note}" if w.note else ""))
        return EXIT_OK
    if args.action == "list":
        windows = maintenance.windows(now)
        if args.json:
            print_json([_json(w, now) for w in windows])
        elif not windows:
            print("No maintenance window: every alert is heard.")
        else:
            for w in windows:
                state = "now" if w.starts_at <= now else f"from {rep_time(w.starts_at)}"
                print(f"{w.id:>4}  {w.what:40} {state} until {rep_time(w.ends_at)}"
                      + (f"  {w.note}" if w.note else ""))
        return EXIT_OK
    try:
        window_id = int(args.id)
    except ValueError:
        raise UsageError(f"{args.id!r} is not a window id (see `mailmonitor maintenance list`)"
                         ) from None
    ended = maintenance.remove_window(window_id, now)
    print(f"Ended the maintenance window {ended.id} of {ended.what}")
    return EXIT_OK
