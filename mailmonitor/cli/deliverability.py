"""Command-line parts of deliverability (issue 14), kept out of cli.py:
`mailmonitor suppress import|export FILE.csv`, `mailmonitor accounts resume-sending EMAIL`,
`mailmonitor check --round-trip [EMAIL ...]` (the sweep's JSON gains `round_trip`) and
`mailmonitor deliverability settings [...]` (the window's Settings → Deliverability)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any


def add_parsers(sub: Any, common: argparse.ArgumentParser, parser_class: type) -> None:
    suppress = sub.add_parser("suppress", parents=[common],
                              help="addresses that unsubscribed: never emailed again")
    sup = suppress.add_subparsers(dest="action", required=True, parser_class=parser_class,
                                  metavar="ACTION")
    for name, text, file_help in (
            ("import", "add addresses to the suppression list", "an `email` column"),
            ("export", "write the suppression list", "where to write it")):
        sup.add_parser(name, parents=[common], help=text).add_argument(
            "file", metavar="FILE.csv", help=file_help)
    add_settings_parser(sub, common, parser_class)


def add_settings_parser(sub: Any, common: argparse.ArgumentParser, parser_class: type) -> None:
    from mailmonitor.services.deliverability import settings as svc

    top = sub.add_parser("deliverability", parents=[common],
                         help="unsubscribe link, footer line and the daily round trip")
    actions = top.add_subparsers(dest="action", required=True, parser_class=parser_class,
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


def cmd_deliverability(args: argparse.Namespace, print_json: Any) -> int:
    from mailmonitor.services.deliverability import settings as svc

    changes: dict[str, Any] = {}
    if args.no_unsubscribe_url:
        changes["unsubscribe_url"] = None
    elif args.unsubscribe_url is not None:
        if not args.unsubscribe_url.strip():
            from mailmonitor.services.accounts.validation import InvalidInput

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
        return 0
    if changes:
        print("Saved the deliverability settings:")
    print(f"{'unsubscribe URL':20} {values.unsubscribe_url or 'none (leads unsubscribe by email)'}")
    print(f"{'footer line':20} {values.unsubscribe_footer or 'none'}")
    print(f"{'daily round trip':20} {'on' if values.round_trip_daily else 'off'}")
    print(f"{'round-trip timeout':20} {values.round_trip_timeout_seconds} s")
    return 0


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
    return 0


def _addresses(count: int) -> str:
    return f"{count:,} address" + ("" if count == 1 else "es")


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


# --- check --round-trip ----------------------------------------------------------------------

def add_check_options(check: argparse.ArgumentParser) -> None:
    check.add_argument("--round-trip", action="store_true",
                       help="also send a test email to itself and find it (Inbox / Spam / "
                            "not arrived)")
    check.add_argument("--round-trip-timeout", type=float, default=None, metavar="SECONDS",
                       help="how long to wait for the test email (default 120)")
    check.add_argument("--round-trip-to", default=None, metavar="EMAIL",
                       help="send the test emails to this mailbox of yours instead of to "
                            "each mailbox itself")


def round_trip_wait(args: argparse.Namespace) -> float:
    from mailmonitor.models import get_setting
    from mailmonitor.services.accounts.validation import InvalidInput

    timeout = getattr(args, "round_trip_timeout", None)
    for option in ("round_trip_timeout", "round_trip_to"):
        if getattr(args, option, None) is not None and not args.round_trip:
            raise InvalidInput(f"--{option.replace('_', '-')} needs --round-trip")
    if getattr(args, "round_trip_to", None) is not None:
        round_trip_target(args.round_trip_to)
    wait = float(timeout if timeout is not None else get_setting("round_trip_timeout_seconds"))
    from mailmonitor.services.deliverability.settings import TIMEOUT_MAX, TIMEOUT_MIN

    if not TIMEOUT_MIN <= wait <= TIMEOUT_MAX:  # also refuses nan
        raise InvalidInput(f"--round-trip-timeout must be between {TIMEOUT_MIN} and "
                           f"{TIMEOUT_MAX} seconds")
    return wait


def round_trip_target(email: str) -> Any:
    """The rep's mailbox that receives the test emails (`--round-trip-to`)."""
    from peewee import fn

    from mailmonitor.models import Account
    from mailmonitor.services.accounts.validation import InvalidInput, normalize_email

    address = normalize_email(email).lower()  # one identity whatever the case
    target = Account.get_or_none(fn.LOWER(Account.email) == address,
                                 Account.removed_at.is_null())
    if target is None:
        raise InvalidInput(f"--round-trip-to: no account {address} (the test email is found "
                           "over that mailbox's IMAP, so it must be one of yours)")
    return target


def round_trips(accounts: list[Any], timeout: float | None, to: str | None = None
                ) -> dict[int, dict[str, Any]]:
    """One round trip per mailbox, a few at once; each result is stored as a check. A
    mailbox that cannot sign in gets `not_sent` with the reason; stopped ones are skipped."""
    from concurrent.futures import ThreadPoolExecutor

    from mailmonitor.clock import utcnow
    from mailmonitor.models import get_setting
    from mailmonitor.services.deliverability import round_trip

    wait = round_trip_wait(argparse.Namespace(round_trip=True, round_trip_timeout=timeout))
    io_timeout = float(get_setting("connection_timeout_seconds"))
    todo = [a for a in accounts if a.status != "stopped"]
    target = round_trip_target(to) if to else None
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="round-trip") as pool:
        futures = {a.id: pool.submit(_one_round_trip, a, wait, io_timeout, target)
                   for a in todo}
        results = {account_id: f.result() for account_id, f in futures.items()}
    out: dict[int, dict[str, Any]] = {}
    for account in todo:
        result = results[account.id]
        round_trip.record_round_trip(account, result, utcnow())
        out[account.id] = result.to_json()
    return out


def _one_round_trip(account: Any, wait: float, io_timeout: float, target: Any = None) -> Any:
    from mailmonitor.clock import utcnow
    from mailmonitor.services.auth.tokens import oauth_token_provider
    from mailmonitor.services.deliverability import round_trip
    from mailmonitor.services.monitoring.checker import credentials_for

    receiver = target if target is not None and target.id != account.id else None
    try:
        creds = credentials_for(account, None, io_timeout, oauth_token_provider())
        tokens = oauth_token_provider()
        receiver_creds = (credentials_for(receiver, None, io_timeout, tokens) if receiver
                          else None)
    except Exception as exc:
        return round_trip.RoundTripResult(
            outcome=round_trip.NOT_SENT, recipient=(receiver or account).email, tag="",
            error=f"cannot sign in: {exc}")
    return round_trip.run_round_trip(account, creds, utcnow(), recipient=receiver,
                                     recipient_creds=receiver_creds, timeout=wait,
                                     io_timeout=io_timeout)


def round_trip_line(data: dict[str, Any]) -> str:
    timing = ""
    if data.get("arrival_ms") is not None:
        timing = f" after {data['arrival_ms'] / 1000:.1f} s"
    where = f" ({data['folder']})" if data.get("outcome") == "spam" and data.get("folder") else ""
    error = f" — {data['error']}" if data.get("error") and data.get("outcome") != "inbox" else ""
    return f"{'':40} round trip: {data['label']}{where}{timing}{error}"
