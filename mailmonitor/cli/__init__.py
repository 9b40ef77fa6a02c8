"""Command line (spec §7 — a contract: tests outside the project use it).

Exit codes: 0 success; 1 the operation failed (or `check`: any warning); 2 `check`: any
disconnected; 3 bad input or usage (one line on stderr; nothing changed)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from mailmonitor import __version__
from mailmonitor.cli.oauth import add_oauth_parser, cmd_oauth
from mailmonitor.services.accounts.validation import MAX_DAILY_LIMIT, MAX_MIN_GAP_SECONDS
from mailmonitor.services.monitoring.concurrency import CLI_CONCURRENCY, MAX_CONCURRENCY

EXIT_OK, EXIT_FAILED, EXIT_CRITICAL, EXIT_USAGE = 0, 1, 2, 3

log = logging.getLogger("mailmonitor")


class UsageError(Exception):
    pass


class Failure(Exception):
    """The command could not do what was asked; one line for the rep."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help="where the database and logs live (env MAILMONITOR_DATA_DIR)")
    common.add_argument("--database", default=argparse.SUPPRESS, metavar="URL",
                        help="postgresql://user@host/db?sslmode=… or a SQLite file "
                             "(env MAILMONITOR_DATABASE_URL; default: the data folder's)")
    securities = ["ssl", "starttls", "plain"]

    parser = Parser(prog="mailmonitor", parents=[common],
                    description="Keeps outreach mailboxes connected and campaigns running.")
    parser.add_argument("--version", action="version", version=f"mailmonitor {__version__}",
                        help="print the version and exit")
    parser.add_argument("--self-test", action="store_true",
                        help="check the database, keyring and Qt platform, then exit")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")

    sub.add_parser("demo", parents=[common], help="the app with demo servers and data")

    check = sub.add_parser("check", parents=[common], help="one check sweep now (exit 0 all "
                           "connected, 1 any retrying, 2 any disconnected)")
    check.add_argument("--json", action="store_true", help="print a JSON array, one per account")
    check.add_argument("--concurrency", type=int, metavar="N",
                       help=f"mailboxes checked at once (1-{MAX_CONCURRENCY}; default "
                            f"{CLI_CONCURRENCY})")
    check.add_argument("emails", nargs="*", metavar="EMAIL", help="only these accounts")
    from mailmonitor.cli.deliverability import add_check_options

    add_check_options(check)

    run = sub.add_parser("run", parents=[common], help="monitoring and sending without a window")
    run.add_argument("--headless", action="store_true", required=True,
                     help="required: run without a window until SIGTERM")

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
        add.add_argument(f"--{proto}-port", type=int, default=0, metavar="P",
                         help=f"{upper} port (the provider's when known)")
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
    add.add_argument("--timeout", type=float, default=300.0, metavar="S",
                     help="OAuth sign-in wait in seconds (default 300)")
    imp = acc.add_parser("import", parents=[common], help="add many mailboxes from a CSV "
                         "(all rows or none)")
    imp.add_argument("file", metavar="FILE.csv", help="columns named like add's options")
    rec = acc.add_parser("reconnect", parents=[common], help="sign in again; campaigns resume")
    rec.add_argument("email", metavar="EMAIL", help="the account")
    rec.add_argument("--password-stdin", action="store_true",
                     help="read the new password from standard input")
    rec.add_argument("--timeout", type=float, default=300.0, metavar="S",
                     help="OAuth sign-in wait in seconds (default 300)")
    for name, text in (("disconnect", "two-step disconnect: starts the grace period"),
                       ("remove", "remove the mailbox (its history is kept)"),
                       ("resume-sending", "lift a pause for a high bounce rate or refused "
                        "sending")):
        acc.add_parser(name, parents=[common], help=text).add_argument(
            "email", metavar="EMAIL", help="the account")
    lst = acc.add_parser("list", parents=[common], help="every mailbox and its status")
    lst.add_argument("--json", action="store_true", help="print JSON")

    campaigns = sub.add_parser("campaigns", parents=[common], help="campaigns")
    camp = campaigns.add_subparsers(dest="action", required=True, parser_class=Parser,
                                    metavar="ACTION")
    create = camp.add_parser("create", parents=[common], help="a new (active) campaign")
    create.add_argument("name", metavar="NAME", help="the campaign's name")
    create.add_argument("--mailbox", action="append", required=True, metavar="EMAIL",
                        help="a mailbox to send from (repeat for inbox rotation)")
    create.add_argument("--steps", required=True, metavar="STEPS.json",
                        help='[{"subject": …, "body": …, "delay_days": 0}, …]')
    create.add_argument("--window", default="always", metavar="W",
                        help='always, or e.g. "mon-fri 09:00-17:00 Europe/Berlin"')
    clist = camp.add_parser("list", parents=[common], help="status and lead counts")
    clist.add_argument("--json", action="store_true", help="print JSON")
    for name, text in (("pause", "hold a campaign"), ("resume", "resume a paused campaign")):
        camp.add_parser(name, parents=[common], help=text).add_argument(
            "name", metavar="NAME", help="the campaign")
    realloc = camp.add_parser("reallocate", parents=[common],
                              help="move leads of broken mailboxes to connected ones")
    realloc.add_argument("name", metavar="NAME", help="the campaign")
    realloc.add_argument("--include-contacted", action="store_true",
                         help="move leads that already got an email too")

    from mailmonitor.cli.edit import add_parsers as add_edit_parsers

    add_edit_parsers(acc, camp, common)  # accounts edit, campaigns edit

    leads = sub.add_parser("leads", parents=[common], help="leads of a campaign")
    ld = leads.add_subparsers(dest="action", required=True, parser_class=Parser,
                              metavar="ACTION")
    limp = ld.add_parser("import", parents=[common], help="add leads from a CSV")
    limp.add_argument("name", metavar="NAME", help="the campaign")
    limp.add_argument("file", metavar="FILE.csv", help="a header row with an email column")
    llist = ld.add_parser("list", parents=[common], help="each lead's mailbox, step and state")
    llist.add_argument("name", metavar="NAME", help="the campaign")
    llist.add_argument("--json", action="store_true", help="print JSON")

    from mailmonitor.cli.notify import add_parser as add_notify_parser

    add_notify_parser(sub, common, Parser)

    from mailmonitor.cli.deliverability import add_parsers

    add_parsers(sub, common, Parser)

    from mailmonitor.cli.team import add_parser as add_team_parser

    add_team_parser(sub, common, Parser)

    from mailmonitor.cli.db import add_db_parser

    add_db_parser(sub, common, Parser)

    add_oauth_parser(sub, common)
    return parser


def read_password_stdin() -> str:
    data = sys.stdin.readline()
    password = data.rstrip("\r\n")
    if not password:
        raise UsageError("--password-stdin was given but standard input had no password")
    return password


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


# --- commands -------------------------------------------------------------------------------

def cmd_accounts(args: argparse.Namespace, now: Any) -> int:
    from mailmonitor.models import Account, account_by_email, active_accounts
    from mailmonitor.services.accounts import adding as svc
    from mailmonitor.services.accounts.validation import normalize_email, parse_warmup
    from mailmonitor.services.campaigns import lifecycle
    from mailmonitor.services.monitoring.reasons import label_for

    if args.action == "edit":
        from mailmonitor.cli.edit import cmd_accounts_edit

        return cmd_accounts_edit(args, now)
    if args.action == "add":
        spec = svc.AccountSpec(
            email=args.email, name=args.name, kind=args.kind, imap_host=args.imap_host,
            imap_port=args.imap_port, imap_security=args.imap_security,
            smtp_host=args.smtp_host, smtp_port=args.smtp_port,
            smtp_security=args.smtp_security, username=args.username, ca_file=args.ca_file,
            daily_limit=args.daily_limit, min_gap_seconds=args.min_gap,
            warmup=parse_warmup(args.warmup) if args.warmup else None,
            allow_plaintext=args.allow_plaintext,
        ).validated()
        for warning in spec.plaintext_warnings():
            print(f"mailmonitor: warning: {warning}", file=sys.stderr)
        password = read_password_stdin() if args.password_stdin else None
        if args.kind in ("gmail", "microsoft") and password is None:
            from mailmonitor.services.auth.oauth_cli import add_oauth_account

            return add_oauth_account(spec, args.timeout, now, test=args.test)
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
        print(f"Imported {len(created)} accounts")
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
            for row in rows:
                print(f"{row['email']:40} {row['status']:12} {row['label']}")
        return EXIT_OK

    email = normalize_email(args.email)
    found = account_by_email(email)
    if found is None:
        raise Failure(f"no account {email}")
    account = found
    if args.action == "reconnect":
        return reconnect_account(account, args, now)
    if args.action == "resume-sending":
        from mailmonitor.cli.deliverability import resume_sending

        return resume_sending(account, now)
    if args.action == "disconnect":
        if account.detached_at is not None:
            print(f"{email} is already disconnected")
            return EXIT_OK
        leads = lifecycle.disconnect(account, now)
        from mailmonitor.services.auth import secrets

        secrets.delete_all_secrets(account.email)
        print(f"Disconnected {email}. Connect it again within the grace period to keep its "
              f"{leads} leads.")
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

    if account.is_oauth:
        from mailmonitor.services.auth.oauth_cli import reconnect_oauth_account

        return reconnect_oauth_account(account, args.timeout, now)
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


def cmd_campaigns(args: argparse.Namespace, now: Any) -> int:
    from mailmonitor.models import Campaign
    from mailmonitor.services.accounts.validation import parse_window
    from mailmonitor.services.campaigns import rules, setup
    from mailmonitor.services.campaigns.reallocation import reallocate

    if args.action == "create":
        steps = setup.parse_steps(Path(args.steps))
        window = parse_window(args.window)
        campaign = setup.create_campaign(args.name, args.mailbox, steps, window, now)
        print(f"Created campaign {campaign.name!r} with {len(steps)} steps")
        return EXIT_OK
    if args.action == "list":
        campaigns = list(Campaign.select().order_by(Campaign.name))
        counts = setup.lead_counts([c.id for c in campaigns])
        rows = [setup.campaign_summary(c, counts.get(c.id)) for c in campaigns]
        if args.json:
            print_json(rows)
        elif not rows:
            print("No campaigns yet: create one with `mailmonitor campaigns create NAME "
                  "--mailbox E --steps STEPS.json`")
        else:
            for row in rows:
                status = row["status"] + (f" ({row['pause_reason']})" if row["pause_reason"]
                                          else "")
                print(f"{row['name']:30} {status:28} {row['mailboxes_connected']}/"
                      f"{row['mailboxes_total']} mailboxes  {row['leads_total']} leads")
        return EXIT_OK
    if args.action == "edit":
        from mailmonitor.cli.edit import cmd_campaigns_edit

        return cmd_campaigns_edit(args, now)
    campaign = setup.find_campaign(args.name)
    try:
        if args.action == "pause":
            rules.pause_campaign(campaign, now)
            print(f"Paused {campaign.name!r}")
        elif args.action == "resume":
            if rules.resume_campaign(campaign, now):
                print(f"Resumed {campaign.name!r}")
            else:
                raise Failure(f"{campaign.name!r} stays paused: none of its mailboxes can send; "
                              "reconnect one, or add a connected one (mailmonitor campaigns "
                              f"edit {campaign.name!r} --add-mailbox EMAIL)")
        elif args.action == "reallocate":
            plan = reallocate(campaign, now, include_contacted=args.include_contacted)
            from mailmonitor.models import Account

            parts = [f"{n} to {Account.get_by_id(a).email}" for a, n in plan.counts().items()]
            print(f"Moved {plan.total} leads" + (": " + ", ".join(parts) if parts else "") +
                  (f"; {plan.kept_contacted} contacted leads kept their mailbox"
                   if plan.kept_contacted else ""))
    except rules.CampaignError as exc:
        hint = (f" (mailmonitor campaigns edit {campaign.name!r} --add-mailbox EMAIL)"
                if args.action == "reallocate" else "")
        raise Failure(f"{exc}{hint}") from None
    return EXIT_OK


def cmd_leads(args: argparse.Namespace, now: Any) -> int:
    from mailmonitor.models import Account, Lead
    from mailmonitor.services.campaigns import setup

    campaign = setup.find_campaign(args.name)
    if args.action == "import":
        from mailmonitor.cli.deliverability import refused_note

        refused: list[str] = []
        added, updated = setup.import_leads(campaign, Path(args.file), now, refused)
        print(f"Imported {added} leads into {campaign.name!r}"
              + (f"; {updated} already there kept their place (fields updated)" if updated
                 else "") + refused_note(refused))
        return EXIT_OK
    emails = dict(Account.select(Account.id, Account.email).tuples())
    rows = [setup.lead_summary(lead, emails.get(lead.mailbox_id))
            for lead in Lead.select().where(Lead.campaign == campaign).order_by(Lead.id)]
    if args.json:
        print_json(rows)
    else:
        from mailmonitor.models import Step

        steps = Step.select().where(Step.campaign == campaign).count()
        for row in rows:
            # cursor = steps done (the next step's index): "1/3" after the first email
            print(f"{row['email']:40} {row['mailbox'] or '-':32} "
                  f"{str(row['cursor']) + '/' + str(steps):>5} steps  {row['state']:16} "
                  f"{row['messages_sent']} sent" + (f"  ! {row['flag']}" if row['flag'] else ""))
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from mailmonitor.models import Account, Status, account_by_email, active_accounts, emails_match
    from mailmonitor.services.accounts.validation import normalize_email, validate_non_negative
    from mailmonitor.services.auth.secrets import SecretStoreError, keyring_status
    from mailmonitor.services.auth.tokens import oauth_token_provider
    from mailmonitor.services.monitoring.monitor import Monitor
    from mailmonitor.services.monitoring.reasons import label_for

    emails = [normalize_email(e) for e in args.emails]
    for email in emails:
        if account_by_email(email) is None:
            raise UsageError(f"no account {email}")
    concurrency = CLI_CONCURRENCY if args.concurrency is None else validate_non_negative(
        args.concurrency, "--concurrency", MAX_CONCURRENCY)
    if concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    query = active_accounts().order_by(Account.email)
    if emails:
        query = query.where(emails_match(emails))
    usable, problem = keyring_status()
    if not usable and query.exists():  # this computer's fault: no mailbox blamed or changed
        raise SecretStoreError(f"nothing was checked: {problem}")
    from mailmonitor.cli.deliverability import round_trip_wait

    round_trip_wait(args)  # bad input: refused before anything runs

    from mailmonitor.services.team.leases import checkable_here

    monitor = Monitor(max_concurrency=concurrency, token_provider=oauth_token_provider())
    monitor.serves = checkable_here  # a team database: what this keyring can check
    try:  # nothing else to do meanwhile: a plain pool of threads, no event loop
        checks = monitor.sweep_blocking(emails or None, trigger="cli")
    finally:
        monitor.executor.shutdown(wait=False, cancel_futures=True)
    latest = {check.account_id: check for check in checks}
    trips: dict[int, dict[str, Any]] = {}
    if args.round_trip:
        from mailmonitor.cli.deliverability import round_trips

        trips = round_trips(list(query), args.round_trip_timeout, args.round_trip_to)
    rows = []
    for account in query:
        last = latest.get(account.id) or account.checks.where(
            account.checks.model.trigger != "round_trip").order_by(
            -account.checks.model.id).first()
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
        from mailmonitor.cli.deliverability import round_trip_line

        for row in rows:
            print(f"{row['email']:40} {row['status']:12} {row['label']}"
                  + (f" — {row['detail']}" if row["reason"] else ""))
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


def protocol_json(data: dict[str, Any] | None) -> dict[str, Any]:
    if not data:
        return {"ok": False, "latency_ms": None, "error": "not checked"}
    return {"ok": bool(data.get("ok")), "latency_ms": data.get("latency_ms"),
            "error": data.get("error"), "reason": data.get("reason"),
            "phases": data.get("phases", {}), "cert_expires_at": data.get("cert_expires_at")}


def cmd_run_headless(data_dir: Path) -> int:
    from mailmonitor.headless import run_headless

    return run_headless(data_dir)


# --- entry ----------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except UsageError as exc:
        print(f"mailmonitor: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


def _main(argv: list[str]) -> int:
    from mailmonitor.config import DataDirError, prepare_data_dir, resolve_data_dir
    from mailmonitor.services.accounts.validation import InvalidInput
    from mailmonitor.services.auth.secrets import SecretStoreError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        from mailmonitor.headless import catch_stop_signals_early

        catch_stop_signals_early()  # a SIGTERM while starting up still stops gracefully
    if args.command == "demo":
        from mailmonitor.demo import run_demo

        return run_demo()
    try:
        data_dir = prepare_data_dir(resolve_data_dir(getattr(args, "data_dir", None)))
    except DataDirError as exc:
        raise UsageError(str(exc)) from None
    if args.self_test:
        from mailmonitor.selftest import run_self_test

        return run_self_test(data_dir)
    from mailmonitor.models import DB_FILENAME, SchemaTooNew, close_db, open_db
    from mailmonitor.models.database import DatabaseURLError, first_line
    from mailmonitor.services.team import local as team_local

    team_local.apply(data_dir)  # this copy's member name (team.json / MAILMONITOR_MEMBER)
    try:
        target = team_local.database_for(getattr(args, "database", None), data_dir, DB_FILENAME)
    except DatabaseURLError as exc:
        raise UsageError(f"--database: {exc}") from None
    if args.command is None:
        from mailmonitor.app import run_app
        from mailmonitor.services.team.connect import restart_if_requested

        return restart_if_requested(run_app(data_dir, database=target))

    import peewee

    from mailmonitor.clock import utcnow
    from mailmonitor.logsetup import setup_logging

    setup_logging(data_dir)
    if args.command == "db":
        from mailmonitor.cli.db import cmd_db

        return cmd_db(args, target)
    try:
        open_db(target)
    except SchemaTooNew as exc:
        print(f"mailmonitor: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        where = f"in {data_dir}" if target.kind == "sqlite" else target.describe()
        raise UsageError(f"cannot open the database {where}: {first_line(exc)}") from None
    from mailmonitor.services.team.live import announce_changes

    if args.command != "run":  # `run` publishes and listens through its BackgroundWork
        announce_changes()  # a team database: the other copies' windows hear of what this changes
    from mailmonitor.services.team.members import register_this_member

    register_this_member()
    try:
        now = utcnow()
        if args.command == "check":
            return cmd_check(args)
        if args.command == "run":
            return cmd_run_headless(data_dir)
        from mailmonitor.services.campaigns.lifecycle import run_housekeeping

        run_housekeeping(now)
        if args.command == "accounts":
            return cmd_accounts(args, now)
        if args.command == "campaigns":
            return cmd_campaigns(args, now)
        if args.command == "leads":
            return cmd_leads(args, now)
        if args.command == "notify":
            from mailmonitor.cli.notify import cmd_notify

            return cmd_notify(args, now, print_json)
        if args.command == "team":
            from mailmonitor.cli.team import cmd_team

            return cmd_team(args)
        if args.command == "suppress":
            from mailmonitor.cli.deliverability import cmd_suppress

            return cmd_suppress(args, now)
        if args.command == "deliverability":
            from mailmonitor.cli.deliverability import cmd_deliverability

            return cmd_deliverability(args, print_json)
        if args.command == "oauth":
            return cmd_oauth(args)
        raise UsageError(f"unknown command {args.command}")
    except InvalidInput as exc:
        raise UsageError(str(exc)) from None
    except (Failure, SecretStoreError) as exc:
        print(f"mailmonitor: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        log.exception("command failed")
        print(f"mailmonitor: {exc.strerror or exc} — nothing was changed", file=sys.stderr)
        return EXIT_FAILED
    except peewee.DatabaseError as exc:  # a full disk, a locked or damaged file
        from mailmonitor.logsetup import original_error

        cause = original_error(exc)
        log.error("database error: %s", cause, exc_info=exc)
        where = f"in {data_dir}" if target.kind == "sqlite" else target.describe()
        print(f"mailmonitor: the database {where} could not be written ({cause}) — nothing "
              "was changed", file=sys.stderr)
        return EXIT_FAILED
    finally:
        close_db()

