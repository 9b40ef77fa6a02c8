"""`mailmonitor accounts add|import|reconnect|disconnect|remove|resume-sending|list|edit`: the
mailboxes (issue 11 for `edit`; spec §7 contract).

`edit`: unknown address and malformed values exit 3 with one line, nothing changed;
`edit … --test` stores nothing unless the new settings connect (exit 1, one line)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from mailmonitor.cli.common import (
    EXIT_OK,
    Command,
    Failure,
    Parser,
    Subparsers,
    UsageError,
    iso,
    mailbox_line,
    print_json,
    read_password_stdin,
)
from mailmonitor.services.common import bounds
from mailmonitor.services.common.validation import MAX_DAILY_LIMIT, MAX_MIN_GAP_SECONDS
from mailmonitor.wording import count

NO_BROWSER_HELP = ("Google/Microsoft: sign in on another device (Microsoft: a code to enter; "
                   "Google: paste back the address the sign-in ended on)")


def add_parser(sub: Subparsers, common: Parser) -> dict[str, Command]:
    securities = ["ssl", "starttls", "plain"]
    accounts = sub.add_parser("accounts", parents=[common], help="mailboxes")
    acc = accounts.add_subparsers(dest="action", required=True, parser_class=Parser,
                                  metavar="ACTION")
    add = acc.add_parser("add", parents=[common], help="add a mailbox (stored untested "
                         "unless --test)")
    add.add_argument("--email", required=True, metavar="E", help="the mailbox's address")
    add.add_argument("--name", default="", metavar="N", help="sender name shown to leads")
    add.add_argument("--kind", default="imap", choices=["imap", "gmail", "microsoft"],
                     metavar="imap|gmail|microsoft",
                     help="gmail/microsoft without a password sign in with the browser")
    for proto in ("imap", "smtp"):
        upper = proto.upper()
        add.add_argument(f"--{proto}-host", default="", metavar="H",
                         help=f"{upper} server (optional for known providers, e.g. Gmail, "
                              "Fastmail)")
        add.add_argument(f"--{proto}-port", type=int, metavar="P",
                         help=f"{upper} port (default: the provider's when known, else the "
                              "usual one for the security: "
                              + ("993 ssl, 143 starttls" if proto == "imap" else
                                 "465 ssl, 587 starttls, 25 plain") + ")")
        add.add_argument(f"--{proto}-security", default="", choices=securities,
                         metavar="ssl|starttls|plain", help=f"{upper} connection security "
                         "(default ssl; plain sends the password unencrypted)")
    add.add_argument("--username", default="", metavar="U",
                     help="login name, when it is not the address")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password (or app password) from standard input")
    add.add_argument("--ca-file", metavar="PEM", help="also trust this CA certificate")
    add.add_argument("--daily-limit", type=int, metavar="N",
                     help=f"emails a day at most (0-{MAX_DAILY_LIMIT:,})")
    add.add_argument("--min-gap", type=int, metavar="SECONDS",
                     help=f"seconds between two sends (0-{MAX_MIN_GAP_SECONDS:,})")
    add.add_argument("--warmup", metavar="START:STEP",
                     help="warm-up ramp: START emails the first day, STEP more each day")
    add.add_argument("--allow-plaintext", action="store_true",
                     help="confirm 'plain' security to a host outside this computer/network")
    add.add_argument("--test", action="store_true", help="test first; store only if it connects")
    add.add_argument("--timeout", default="300", metavar="S",
                     help="OAuth sign-in wait in seconds (default 300)")
    add.add_argument("--no-browser", action="store_true", help=NO_BROWSER_HELP)
    imp = acc.add_parser("import", parents=[common], help="add many mailboxes from a CSV "
                         "(all rows or none)")
    imp.add_argument("file", metavar="FILE.csv", help="columns named like add's options")
    rec = acc.add_parser("reconnect", parents=[common], help="sign in again; campaigns resume")
    rec.add_argument("email", metavar="EMAIL", help="the account")
    rec.add_argument("--password-stdin", action="store_true",
                     help="read the new password from standard input")
    rec.add_argument("--timeout", default="300", metavar="S",
                     help="OAuth sign-in wait in seconds (default 300)")
    rec.add_argument("--no-browser", action="store_true", help=NO_BROWSER_HELP)
    for name, text in (("disconnect", "two-step disconnect: starts the grace period"),
                       ("remove", "remove the mailbox (its history is kept)"),
                       ("resume-sending", "lift a pause for a high bounce rate or refused "
                        "sending")):
        acc.add_parser(name, parents=[common], help=text).add_argument(
            "email", metavar="EMAIL", help="the account")
    hand = acc.add_parser(
        "hand-over", parents=[common],
        help="seal this computer's sign-in of a mailbox to a running copy (e.g. the always-on "
             "sender); exit 0 once it stored it")
    hand.add_argument("email", metavar="EMAIL", help="the mailbox")
    hand.add_argument("--to", metavar="MACHINE",
                      help="the receiving copy's machine (or fingerprint), when several run "
                           "(`mailmonitor team senders`)")
    hand.add_argument("--timeout", default="60", metavar="S",
                      help="wait this long for it to be stored (default 60)")
    lst = acc.add_parser("list", parents=[common], help="every mailbox and its status")
    lst.add_argument("--json", action="store_true", help="print JSON")

    edit = acc.add_parser("edit", parents=[common], help="change a mailbox's settings")
    edit.add_argument("email", metavar="EMAIL", help="the mailbox (its address stays)")
    edit.add_argument("--name", metavar="N", help="sender name")
    for proto in ("imap", "smtp"):
        upper = proto.upper()
        edit.add_argument(f"--{proto}-host", metavar="H", help=f"{upper} server")
        edit.add_argument(f"--{proto}-port", type=int, metavar="P", help=f"{upper} port")
        edit.add_argument(f"--{proto}-security", choices=["ssl", "starttls", "plain"],
                          metavar="ssl|starttls|plain", help=f"{upper} connection security")
    edit.add_argument("--username", metavar="U", help="login name, when it is not the address")
    edit.add_argument("--password-stdin", action="store_true",
                      help="read the new password (or app password) from standard input")
    edit.add_argument("--ca-file", metavar="PEM", help="also trust this CA certificate "
                      "('' removes it)")
    edit.add_argument("--daily-limit", type=int, metavar="N", help="emails a day at most")
    edit.add_argument("--min-gap", type=int, metavar="SECONDS", help="seconds between two sends")
    edit.add_argument("--warmup", metavar="START:STEP|off",
                      help="warm-up ramp (START emails the first day, STEP more each day), or off")
    edit.add_argument("--password-rotation-days", metavar="N|default",
                      help="remind me to change this mailbox's password every N days (1-3650; "
                      "password and app-password mailboxes only); 'default' follows the "
                      "team-wide period again")
    edit.add_argument("--test", action="store_true",
                      help="test the new settings first; store nothing unless they connect")
    edit.add_argument("--owner", metavar="MEMBER", help="the team member who owns the mailbox")
    edit.add_argument("--kind", metavar="microsoft|gmail|imap",
                      help="switch how the mailbox signs in, keeping its history, campaigns and "
                      "leads: microsoft/gmail sign in through the browser, imap with a password "
                      "(--password-stdin); tested for real before anything changes")
    edit.add_argument("--no-browser", action="store_true", help="with --kind microsoft|gmail: "
                      + NO_BROWSER_HELP)
    edit.add_argument("--timeout", metavar="S",
                      help="with --kind microsoft|gmail: sign-in wait in seconds (default 300)")
    return {"accounts": cmd_accounts}


def cmd_accounts(args: argparse.Namespace, now: Any) -> int:
    from mailmonitor.models import Account, account_by_email, active_accounts
    from mailmonitor.services.accounts import adding as svc
    from mailmonitor.services.campaigns import lifecycle
    from mailmonitor.services.common.reasons import label_for
    from mailmonitor.services.common.validation import parse_warmup

    if args.action == "edit":
        return cmd_accounts_edit(args, now)
    if args.action == "hand-over":
        return hand_over(args)
    if args.action == "add":
        if args.no_browser and (args.kind not in ("gmail", "microsoft") or args.password_stdin):
            raise UsageError("--no-browser is for signing in to Google or Microsoft (--kind "
                             "gmail|microsoft, without --password-stdin)")
        if args.ca_file is not None:
            bounds.required("ca_file", args.ca_file)  # `--ca-file ""` is not "no CA file"
        spec = svc.AccountSpec(
            email=args.email, name=args.name, kind=args.kind, imap_host=args.imap_host,
            imap_port=args.imap_port, imap_security=args.imap_security,
            smtp_host=args.smtp_host, smtp_port=args.smtp_port,
            smtp_security=args.smtp_security, username=args.username, ca_file=args.ca_file,
            daily_limit=args.daily_limit, min_gap_seconds=args.min_gap,
            warmup=parse_warmup(args.warmup) if args.warmup is not None else None,
            allow_plaintext=args.allow_plaintext,
        ).validated()
        timeout = bounds.fraction("sign_in_timeout_seconds", args.timeout)
        password = read_password_stdin() if args.password_stdin else None
        if args.kind in ("gmail", "microsoft") and password is None:
            from mailmonitor.services.accounts.oauth_cli import add_oauth_account

            return add_oauth_account(spec, timeout, now, test=args.test,
                                     no_browser=args.no_browser)
        svc.check_can_add(spec, password)  # before any test (a password one needs it)
        for warning in spec.plaintext_warnings():
            print(f"mailmonitor: warning: {warning}", file=sys.stderr)
        if args.test:
            test_before_storing(spec, password)
        existing = account_by_email(spec.email)
        again = existing is not None and existing.detached_at is not None
        account = svc.create_account(spec, password, now)
        print(("Connected again: " if again else "Added ") + account.email
              + (" (connection tested)" if args.test else
                 " (not tested yet: run `mailmonitor check`)"))
        return EXIT_OK
    if args.action == "import":
        created = svc.import_accounts(Path(args.file), now)
        print(f"Imported {count(len(created), 'mailbox', 'mailboxes')}")
        return EXIT_OK
    if args.action == "list":
        from mailmonitor.services.monitoring.uptime import uptimes

        accounts = list(active_accounts().order_by(Account.email))
        shares = uptimes(accounts, now)
        rows = [account_json(a, label_for) | shares[a.id] for a in accounts]
        if args.json:
            print_json(rows)
        elif not rows:
            print("No mailboxes yet: add one with `mailmonitor accounts add --email E`")
        else:
            for row in rows:  # the window's words (services/common/vocabulary.py)
                print(mailbox_line(row["email"], row["status"], row["reason"]))
        return EXIT_OK

    from mailmonitor.services.accounts.editing import find_account

    account = find_account(args.email)  # an unknown one is bad input: exit 3
    email = account.email
    if args.action == "reconnect":
        return reconnect_account(account, args, now)
    if args.action == "resume-sending":
        return resume_sending(account, now)
    if args.action == "disconnect":
        if account.detached_at is not None:
            print(f"{email} is already disconnected")
            return EXIT_OK
        leads = lifecycle.disconnect(account, now)
        from mailmonitor.services.auth import secrets

        secrets.delete_all_secrets(account.email)
        print(f"Disconnected {email}. Connect it again within the grace period to keep its "
              f"{count(leads, 'lead')}.")
        return EXIT_OK
    if args.action == "remove":
        from mailmonitor.services.auth import secrets

        lifecycle.remove_account(account, now)
        secrets.delete_all_secrets(account.email)
        print(f"Removed {email} (its history is kept)")
        return EXIT_OK
    raise UsageError(f"unknown action {args.action}")


def account_json(account: Any, label_for: Any) -> dict[str, Any]:
    from mailmonitor.services.monitoring.sending_limits import status_words

    return {
        "email": account.email, "name": account.name, "owner": account.owner,
        "kind": account.kind,
        "auth_method": account.auth_method, "status": account.status, "reason": account.reason,
        "label": status_words(account, label_for(account.status, account.reason)),
        "detail": account.detail, "checked_at": iso(account.checked_at),
        "imap": {"host": account.imap_host, "port": account.imap_port,
                 "security": account.imap_security},
        "smtp": {"host": account.smtp_host, "port": account.smtp_port,
                 "security": account.smtp_security},
        "username": account.username or account.email,
        "daily_limit": account.daily_limit, "min_gap_seconds": account.min_gap_seconds,
        "warmup": (f"{account.warmup_start}:{account.warmup_step}"
                   if account.warmup_start is not None else None),
        "check_interval_seconds": account.check_interval_seconds,
        "password_rotation_days": account.password_rotation_days,
        "grace_until": iso(account.grace_until),
    }


def test_before_storing(spec: Any, password: str | None) -> None:
    from mailmonitor.clock import utcnow
    from mailmonitor.models import Account
    from mailmonitor.services.accounts.adding import account_values
    from mailmonitor.services.monitoring.checker import failure_of, run_check

    values = account_values(spec, password is not None, utcnow())
    failed = failure_of(*run_check(Account(**values), password))  # not saved
    if failed is not None:
        raise Failure(f"{spec.email} did not connect ({failed.protocol}: {failed.label}): "
                      f"{failed.detail}; nothing was stored")


def reconnect_account(account: Any, args: argparse.Namespace, now: Any) -> int:
    from mailmonitor.services.auth import secrets
    from mailmonitor.services.campaigns import lifecycle
    from mailmonitor.services.monitoring.checker import failure_of, run_check

    if args.no_browser and not account.is_oauth:
        raise UsageError(f"{account.email} signs in with a password: --no-browser is for "
                         "Google and Microsoft sign-in (use --password-stdin)")
    if account.is_oauth:
        from mailmonitor.services.accounts.oauth_cli import reconnect_oauth_account

        return reconnect_oauth_account(
            account, bounds.fraction("sign_in_timeout_seconds", args.timeout), now,
            no_browser=args.no_browser)
    password = read_password_stdin() if args.password_stdin else None
    if password is not None:
        from mailmonitor.services.accounts.adding import AccountSpec, clean_password

        password = clean_password(AccountSpec(email=account.email, kind=account.kind,
                                              imap_host=account.imap_host), password)
    imap, smtp = run_check(account, password)  # a password account: no token needed
    failed = failure_of(imap, smtp)
    if failed is not None:
        raise Failure(f"reconnect failed: {failed.label}: {failed.detail}; nothing was changed")
    if password is not None:
        secrets.set_secret(account.email, "password", password)
    lifecycle.reconnected(account, now, detail=imap.detail)
    print(f"Reconnected {account.email}: campaigns continue where they left off")
    return EXIT_OK


def hand_over(args: argparse.Namespace) -> int:
    """`accounts hand-over EMAIL [--to MACHINE] [--timeout S]` (services/team/handover.py)."""
    from mailmonitor.clock import SystemClock
    from mailmonitor.events import bus
    from mailmonitor.services.common.validation import normalize_email
    from mailmonitor.services.team import handover
    from mailmonitor.services.team.leases import team_mode
    from mailmonitor.services.team.live import HANDOVER_WAITING

    if not team_mode():
        raise UsageError("hand-over needs a team database (--database postgresql://… or "
                         "MAILMONITOR_DATABASE_URL): on a personal database this computer "
                         "is the only one that sends")
    try:
        timeout = bounds.fraction("sign_in_timeout_seconds", args.timeout)
        done = handover.hand_over(normalize_email(args.email), args.to, timeout,
                                  SystemClock(),
                                  announce=lambda key: bus.emit(HANDOVER_WAITING, key))
    except handover.HandOverRefused as exc:
        raise UsageError(str(exc)) from None
    except handover.HandOverFailed as exc:
        raise Failure(str(exc)) from None
    receiver = done.receiver
    print(f"Handed {done.email} over to {receiver.machine} ({receiver.kind}, fingerprint "
          f"{receiver.fingerprint}): it stored it in {done.seconds:.1f} s. "
          + ("It refreshes the sign-in from now on; this computer no longer holds it."
             if done.moved else "This computer keeps the password too."))
    return EXIT_OK


def resume_sending(account: Any, now: datetime) -> int:
    from mailmonitor.services.deliverability import holds

    try:
        holds.resume_sending(account, now)
    except holds.NotHeld as exc:
        raise Failure(str(exc)) from None
    print(f"Sending from {account.email} resumed; its leads continue where they left off")
    return EXIT_OK


def cmd_accounts_edit(args: argparse.Namespace, now: Any) -> int:
    from mailmonitor.models import Account
    from mailmonitor.services.accounts import editing
    from mailmonitor.services.common.reasons import label_for
    from mailmonitor.services.common.validation import (
        parse_warmup,
    )
    from mailmonitor.services.monitoring.account_state import record_check
    from mailmonitor.services.monitoring.checker import run_check
    from mailmonitor.services.monitoring.status_rules import Outcome, combine

    account = editing.find_account(args.email)  # an unknown one is bad input: exit 3
    if args.kind is not None:
        return switch_sign_in(account, args, now)
    if args.no_browser or args.timeout is not None:
        raise UsageError("--no-browser and --timeout go with --kind microsoft|gmail (switching "
                         "the mailbox to browser sign-in)")
    email = account.email
    warmup_off = (args.warmup or "").strip().lower() == "off"
    rotation_days, rotation_default = (editing.rotation_option(args.password_rotation_days)
                                       if args.password_rotation_days is not None
                                       else (None, False))
    edit = editing.AccountEdit(
        name=args.name, imap_host=args.imap_host, imap_port=args.imap_port,
        imap_security=args.imap_security, smtp_host=args.smtp_host, smtp_port=args.smtp_port,
        smtp_security=args.smtp_security, username=args.username, ca_file=args.ca_file,
        daily_limit=args.daily_limit, min_gap_seconds=args.min_gap,
        warmup=parse_warmup(args.warmup) if args.warmup is not None and not warmup_off
        else None,
        warmup_off=warmup_off, password_rotation_days=rotation_days,
        password_rotation_default=rotation_default,
    )
    from mailmonitor.services.team.members import owner_name, set_owner

    owner = owner_name(args.owner) if args.owner is not None else None
    if edit.is_empty() and not args.password_stdin and not args.test and owner is None:
        raise UsageError("nothing to change: give at least one option (see `mailmonitor "
                         "accounts edit --help`)")
    changes = editing.validate_edit(account, edit)
    password = read_password_stdin() if args.password_stdin else None
    if password is not None:
        edit.password = editing.clean_new_password(account, password)
        editing.validate_edit(account, edit)
        password = edit.password
    timeout = 20.0
    tested = None
    if args.test:
        imap, smtp = run_check(editing.proposed_account(account, changes), password, timeout)
        if not (imap.ok and smtp.ok):
            merged = combine(Outcome(imap.status, imap.reason, imap.detail),
                             Outcome(smtp.status, smtp.reason, smtp.detail))
            side = "IMAP" if not imap.ok else "SMTP"
            raise Failure(f"{email} did not connect with the new settings ({side}: "
                          f"{label_for(merged.status, merged.reason)}): {merged.detail}; "
                          "nothing was changed")
        tested = (imap, smtp)
    if owner is not None and owner != account.owner:
        set_owner(account, owner)
        if not changes and password is None:
            print(f"Saved {email}: owner changed to {owner}")
            return EXIT_OK
    if not changes and password is None:
        print(f"{email}: nothing to change" + (" (the current settings connect)"
                                                 if tested else ""))
        if tested and editing.can_be_rechecked(account):
            record_check(account, *tested, now, trigger="edit")
        return EXIT_OK
    result = editing.save_edit(account, changes, password, now)
    line = f"Saved {email}: {', '.join(result.changed)} changed"
    if "password_rotation_days" in result.changed:
        line += f"; {editing.rotation_words(Account.get_by_id(account.id))}"
    if result.servers_changed and editing.can_be_rechecked(account):
        imap, smtp = tested or run_check(account, None, timeout)
        record_check(Account.get_by_id(account.id), imap, smtp, now, trigger="edit")
        stored = Account.get_by_id(account.id)
        line += f"; checked: {label_for(stored.status, stored.reason)}"
        if stored.status != "connected" and stored.detail:
            line += f" ({stored.detail})"
    elif result.servers_changed:
        line += ("; it stays disconnected by you until you connect it again "
                 "(mailmonitor accounts reconnect)")
    print(line)
    return EXIT_OK


def switch_sign_in(account: Any, args: argparse.Namespace, now: Any) -> int:
    """`accounts edit EMAIL --kind microsoft|gmail|imap [--no-browser] [--password-stdin]`,
    with optional --imap-*/--smtp-*/--username/--ca-file (services/accounts/switching.py)."""
    from mailmonitor.services.accounts import editing
    from mailmonitor.services.accounts.oauth_cli import switch_sign_in as switch

    others = [option for option, value in (
        ("--name", args.name), ("--daily-limit", args.daily_limit), ("--min-gap", args.min_gap),
        ("--warmup", args.warmup), ("--password-rotation-days", args.password_rotation_days),
        ("--owner", args.owner)) if value is not None]
    if others:
        raise UsageError(f"--kind switches the sign-in method (and the servers); change "
                         f"{', '.join(others)} with a separate `mailmonitor accounts edit`")
    servers = editing.AccountEdit(
        imap_host=args.imap_host, imap_port=args.imap_port, imap_security=args.imap_security,
        smtp_host=args.smtp_host, smtp_port=args.smtp_port, smtp_security=args.smtp_security,
        username=args.username, ca_file=args.ca_file)
    kind = args.kind.strip().lower()
    if kind in ("gmail", "microsoft") and args.password_stdin:
        raise UsageError(f"--kind {kind} signs in through the browser: no password is needed "
                         "(leave out --password-stdin)")
    # --test is accepted and changes nothing: a switch is always tested before it is applied.
    password = read_password_stdin() if args.password_stdin else None
    timeout = bounds.fraction("sign_in_timeout_seconds", args.timeout or "300")
    return switch(account, kind, now, servers=servers, password=password, timeout=timeout,
                  no_browser=args.no_browser)
