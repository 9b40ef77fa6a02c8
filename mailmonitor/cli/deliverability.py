"""Command-line parts of deliverability (issue 14): `mailmonitor suppress import|export
FILE.csv` and `mailmonitor deliverability settings [...]` (the window's Settings →
Deliverability). `accounts resume-sending` is in accounts.py, `check --round-trip` in
round_trip.py."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from mailmonitor.cli.common import EXIT_OK, Command, Parser, Subparsers, print_json


def add_parser(sub: Subparsers, common: Parser) -> dict[str, Command]:
    suppress = sub.add_parser("suppress", parents=[common],
                              help="addresses that unsubscribed: never emailed again")
    sup = suppress.add_subparsers(dest="action", required=True, parser_class=Parser,
                                  metavar="ACTION")
    for name, text, file_help in (
            ("import", "add addresses to the suppression list", "an `email` column"),
            ("export", "write the suppression list", "where to write it")):
        sup.add_parser(name, parents=[common], help=text).add_argument(
            "file", metavar="FILE.csv", help=file_help)
    add_settings_parser(sub, common)
    return {"suppress": cmd_suppress, "deliverability": cmd_deliverability}


def add_settings_parser(sub: Subparsers, common: Parser) -> None:
    from mailmonitor.services.deliverability import settings as svc

    top = sub.add_parser("deliverability", parents=[common],
                         help="unsubscribe link, footer line and the daily round trip")
    actions = top.add_subparsers(dest="action", required=True, parser_class=Parser,
                                 metavar="ACTION")
    settings = actions.add_parser(
        "settings", parents=[common],
        help="show the deliverability settings, or change the ones given (all checked "
             "before any is stored)")
    url = settings.add_mutually_exclusive_group()
    url.add_argument("--unsubscribe-url", metavar="URL",
                     help="one-click unsubscribe link (RFC 8058) with {token} where each "
                          "lead's token goes, e.g. https://example.com/u/{token}; https:// "
                          "(http:// only to localhost)")
    url.add_argument("--no-unsubscribe-url", action="store_true",
                     help="no one-click link: leads unsubscribe by email (mailto) only")
    settings.add_argument("--footer", metavar="TEXT",
                          help=f"last line of every campaign email (one line, at most "
                               f"{svc.FOOTER_MAX} characters; \"\" removes it)")
    settings.add_argument("--round-trip-daily", choices=["on", "off"], metavar="on|off",
                          help="test sending and receiving of every connected mailbox once a "
                               "day (window or run --headless)")
    settings.add_argument("--round-trip-timeout", metavar="SECONDS",
                          help=f"how long a round trip waits for its test email "
                               f"({svc.TIMEOUT_MIN}-{svc.TIMEOUT_MAX}; also the default of "
                               "check --round-trip)")
    settings.add_argument("--json", action="store_true", help="print the settings as JSON")


def cmd_deliverability(args: argparse.Namespace, _now: datetime) -> int:
    from mailmonitor.services.deliverability import settings as svc

    changes: dict[str, Any] = {}
    if args.no_unsubscribe_url:
        changes["unsubscribe_url"] = None
    elif args.unsubscribe_url is not None:
        if not args.unsubscribe_url.strip():
            from mailmonitor.services.common.validation import InvalidInput

            raise InvalidInput("--unsubscribe-url is empty: use --no-unsubscribe-url to keep "
                               "only the mailto link")
        changes["unsubscribe_url"] = args.unsubscribe_url
    if args.footer is not None:
        changes["unsubscribe_footer"] = args.footer
    if args.round_trip_daily is not None:
        changes["round_trip_daily"] = args.round_trip_daily == "on"
    if args.round_trip_timeout is not None:
        changes["round_trip_timeout_seconds"] = args.round_trip_timeout
    values = svc.save(svc.validate(**changes)) if changes else svc.current()
    if args.json:
        print_json(values.to_json())
        return EXIT_OK
    if changes:
        print("Saved the deliverability settings:")
    print(f"{'unsubscribe URL':20} {values.unsubscribe_url or 'none (leads unsubscribe by email)'}")
    print(f"{'footer line':20} {values.unsubscribe_footer or 'none'}")
    print(f"{'daily round trip':20} {'on' if values.round_trip_daily else 'off'}")
    print(f"{'round-trip timeout':20} {values.round_trip_timeout_seconds} s")
    return EXIT_OK


def cmd_suppress(args: argparse.Namespace, now: datetime) -> int:
    from mailmonitor.services.deliverability import suppression

    path = Path(args.file)
    if args.action == "import":
        added, known = suppression.import_csv(path, now)
        print(f"Suppressed {_addresses(added)}" + (f"; {known} were on the list already"
                                                     if known else ""))
    else:
        count = suppression.export_csv(path)
        print(f"Exported {_addresses(count)} to {path}")
    return EXIT_OK


def _addresses(count: int) -> str:
    return f"{count:,} address" + ("" if count == 1 else "es")
