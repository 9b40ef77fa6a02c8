"""`mailmonitor check --round-trip` (issue 14): a test email from each mailbox to itself (or to
`--round-trip-to`), looked for over IMAP; the sweep's JSON gains `round_trip`. A helper of the
check group (check.py imports it); it imports no other module of mailmonitor.cli."""

from __future__ import annotations

import argparse
from typing import Any


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
    from mailmonitor.services.common.validation import InvalidInput

    timeout = getattr(args, "round_trip_timeout", None)
    for option in ("round_trip_timeout", "round_trip_to"):
        if getattr(args, option, None) is not None and not args.round_trip:
            raise InvalidInput(f"--{option.replace('_', '-')} needs --round-trip")
    if getattr(args, "round_trip_to", None) is not None:
        round_trip_target(args.round_trip_to)
    wait = float(timeout if timeout is not None else get_setting("round_trip_timeout_seconds"))
    from mailmonitor.services.common.bounds import NUMBERS  # the deliverability settings' bounds

    bound = NUMBERS["round_trip_timeout_seconds"]
    low, high = bound.low, bound.high
    if not low <= wait <= high:  # also refuses nan
        raise InvalidInput(f"--round-trip-timeout must be between {low} and {high} seconds")
    return wait


def round_trip_target(email: str) -> Any:
    """The rep's mailbox that receives the test emails (`--round-trip-to`)."""
    from peewee import fn

    from mailmonitor.models import Account
    from mailmonitor.services.common.validation import InvalidInput, normalize_email

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
    from mailmonitor.services.placement import round_trip

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
    from mailmonitor.services.auth.refresh import oauth_token_provider
    from mailmonitor.services.monitoring.checker import credentials_for
    from mailmonitor.services.placement import round_trip

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
