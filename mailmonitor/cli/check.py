"""`mailmonitor check [--json] [--concurrency N] [--round-trip …] [EMAIL ...]`: one check
sweep now. Exit 0 all connected, 1 any retrying (or a round trip that did not reach the Inbox),
2 any disconnected."""

from __future__ import annotations

import argparse
import gc
from typing import Any

from mailmonitor.cli.common import (
    EXIT_CRITICAL,
    EXIT_FAILED,
    EXIT_OK,
    Command,
    Parser,
    Subparsers,
    UsageError,
    iso,
    mailbox_line,
    print_json,
)
from mailmonitor.cli.round_trip import (
    add_check_options,
    round_trip_line,
    round_trip_wait,
    round_trips,
)
from mailmonitor.services.monitoring.concurrency import CLI_CONCURRENCY, MAX_CONCURRENCY

SWEEP_GC_YOUNG = 50_000  # new objects between two young collections while the sweep runs


def add_parser(sub: Subparsers, common: Parser) -> dict[str, Command]:
    """`check` runs before housekeeping: `mailmonitor.cli` calls `cmd_check` itself."""
    check = sub.add_parser("check", parents=[common], help="one check sweep now (exit 0 all "
                           "connected, 1 any retrying, 2 any disconnected)")
    check.add_argument("--json", action="store_true", help="print a JSON array, one per account")
    check.add_argument("--concurrency", type=int, metavar="N",
                       help=f"mailboxes checked at once (1-{MAX_CONCURRENCY}; default "
                            f"{CLI_CONCURRENCY})")
    check.add_argument("emails", nargs="*", metavar="EMAIL", help="only these accounts")
    add_check_options(check)
    return {}


def cmd_check(args: argparse.Namespace) -> int:
    from mailmonitor.models import (
        Account,
        Check,
        Status,
        account_by_email,
        active_accounts,
        emails_match,
    )
    from mailmonitor.services.common.validation import normalize_email

    emails = [normalize_email(e) for e in args.emails]
    for email in emails:
        if account_by_email(email) is None:
            raise UsageError(f"no account {email}")
    from mailmonitor.services.common import bounds

    concurrency = CLI_CONCURRENCY if args.concurrency is None else bounds.number(
        "check_concurrency", args.concurrency)
    query = active_accounts().order_by(Account.email)
    if emails:
        query = query.where(emails_match(emails))
    from mailmonitor.services.monitoring.probes import prepare_tls

    # The probes' TLS contexts are built while the rest starts up (issue 22).
    prepare_tls(ca for (ca,) in query.select(Account.ca_file).where(
        Account.status != Status.STOPPED).order_by().distinct().tuples())
    from mailmonitor.services.auth.refresh import oauth_token_provider
    from mailmonitor.services.auth.secrets import SecretStoreError, keyring_status
    from mailmonitor.services.common.reasons import label_for
    from mailmonitor.services.monitoring.monitor import Monitor

    usable, problem = keyring_status()
    if not usable and query.exists():  # this computer's fault: no mailbox blamed or changed
        raise SecretStoreError(f"nothing was checked: {problem}")
    round_trip_wait(args)  # bad input: refused before anything runs

    from mailmonitor.services.team.leases import checkable_here

    monitor = Monitor(max_concurrency=concurrency, token_provider=oauth_token_provider())
    monitor.serves = checkable_here  # a team database: what this keyring can check
    # Start-up's objects stay until the end (mailmonitor.cli.main collected none of them):
    # frozen, the sweep's collections do not scan them over and over; collectable again once
    # the sweep is done. From the sweep to the command's end (`main` sets the collector back),
    # the young objects are collected every SWEEP_GC_YOUNG new ones rather than every 700: most
    # are gone by then (500 mailboxes: 56 collections, 13 ms of the interpreter lock, became
    # one; issue 22), and what a collection finds stays small.
    gc.freeze()
    gc.set_threshold(SWEEP_GC_YOUNG, *gc.get_threshold()[1:])
    gc.enable()
    try:  # nothing else to do meanwhile: a plain pool of threads, no event loop
        checks = monitor.sweep_blocking(emails or None, trigger="cli", tail=_import_what_follows)
    finally:
        monitor.executor.shutdown(wait=False, cancel_futures=True)
        gc.unfreeze()
    latest = {check.account_id: check for check in checks}
    trips: dict[int, dict[str, Any]] = {}
    if args.round_trip:
        trips = round_trips(list(query), args.round_trip_timeout, args.round_trip_to)
    rows = []
    held: list[str] = []  # per row: the login budget's words when it held this sweep's check
    # The six columns the rows show, not whole accounts (500 of them: 2 ms, against 14 ms as
    # models of a hundred fields each).
    shown = query.select(Account.id, Account.email, Account.status, Account.reason,
                         Account.detail, Account.checked_at).namedtuples()
    for account in shown:
        last = latest.get(account.id) or Check.select().where(
            (Check.account == account.id) & (Check.trigger != "round_trip")).order_by(
            -Check.id).first()
        held.append(last.detail if account.id in latest and last.trigger.endswith("+held")
                    else "")
        row = {
            "email": account.email, "status": account.status, "reason": account.reason,
            "label": label_for(account.status, account.reason), "detail": account.detail,
            "checked_at": iso(account.checked_at),
            "imap": protocol_json(last.imap if last else None),
            "smtp": protocol_json(last.smtp if last else None),
        }
        if args.round_trip:
            row["round_trip"] = trips.get(account.id)
        rows.append(row)
    if args.json:
        print_json(rows)
    elif not rows:
        print("No mailboxes to check: add one with `mailmonitor accounts add --email E`")
    else:
        for row, words in zip(rows, held, strict=True):  # the window's words
            print(mailbox_line(row["email"], row["status"], row["reason"],
                               row["detail"] if row["reason"] else "")
                  + (f" — {words}" if words else ""))
            if row.get("round_trip"):
                print(round_trip_line(row["round_trip"]))
    statuses = {r["status"] for r in rows}
    if any(r.get("round_trip") and r["round_trip"]["outcome"] != "inbox" for r in rows):
        statuses.add("warning")  # mail that does not reach the Inbox: exit 1 at least
    if Status.DISCONNECTED in statuses:
        return EXIT_CRITICAL
    if statuses & {Status.WARNING, Status.OFFLINE, Status.CHECKING}:
        return EXIT_FAILED
    return EXIT_OK


def _import_what_follows() -> None:
    """The modules the command runs once its sweep is done (the attention model's reconcile,
    `mailmonitor.cli._told`), imported while the sweep's last probes are awaited, when the
    interpreter has less to do, rather than after them (12.6 ms of imports, issue 22)."""
    import mailmonitor.services.alerts.reconciler  # noqa: F401


def protocol_json(data: dict[str, Any] | None) -> dict[str, Any]:
    if not data:
        return {"ok": False, "latency_ms": None, "error": "not checked"}
    return {"ok": bool(data.get("ok")), "latency_ms": data.get("latency_ms"),
            "error": data.get("error"), "reason": data.get("reason"),
            "phases": data.get("phases", {}), "cert_expires_at": data.get("cert_expires_at")}
