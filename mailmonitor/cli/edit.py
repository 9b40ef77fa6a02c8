"""`mailmonitor accounts edit` and `mailmonitor campaigns edit` (issue 11; spec §7 contract).

Unknown address or campaign and malformed values: exit 3 with one line, nothing changed.
`accounts edit … --test` stores nothing unless the new settings connect (exit 1, one line).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mailmonitor.cli import EXIT_OK, Failure, Parser, UsageError, read_password_stdin


def add_parsers(acc: Any, camp: Any, common: Parser) -> None:
    """The two sub-commands' options (called by cli.build_parser)."""
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

    cedit = camp.add_parser("edit", parents=[common], help="change a campaign")
    cedit.add_argument("name", metavar="NAME", help="the campaign")
    cedit.add_argument("--add-mailbox", action="append", default=[], metavar="EMAIL",
                       help="send from this mailbox too (repeatable)")
    cedit.add_argument("--remove-mailbox", action="append", default=[], metavar="EMAIL",
                       help="stop sending from this mailbox; its new leads move (repeatable)")
    cedit.add_argument("--rename", metavar="NEW", help="a new name")
    cedit.add_argument("--steps", metavar="STEPS.json",
                       help="new steps; sent steps keep their place, new text applies from now")
    cedit.add_argument("--window", metavar="W",
                       help='sending window: always, or "mon-fri 09:00-17:00 Europe/Berlin"')
    cedit.add_argument("--auto-reallocate", metavar="MINUTES|off",
                       help="move a broken mailbox's leads after this wait, or off")
    from mailmonitor.cli.team import add_owner_options

    add_owner_options(edit, cedit)

def cmd_accounts_edit(args: argparse.Namespace, now: Any) -> int:
    from mailmonitor.models import Account, account_by_email
    from mailmonitor.services.accounts import editing
    from mailmonitor.services.accounts.validation import (
        InvalidInput,
        normalize_email,
        parse_warmup,
    )
    from mailmonitor.services.monitoring.account_state import record_check
    from mailmonitor.services.monitoring.checker import run_check
    from mailmonitor.services.monitoring.reasons import label_for
    from mailmonitor.services.monitoring.status_rules import Outcome, combine

    email = normalize_email(args.email)
    account = account_by_email(email)
    if account is None:
        raise InvalidInput(f"no account {email}")
    warmup_off = (args.warmup or "").strip().lower() == "off"
    rotation_days, rotation_default = (editing.rotation_option(args.password_rotation_days)
                                       if args.password_rotation_days is not None
                                       else (None, False))
    edit = editing.AccountEdit(
        name=args.name, imap_host=args.imap_host, imap_port=args.imap_port,
        imap_security=args.imap_security, smtp_host=args.smtp_host, smtp_port=args.smtp_port,
        smtp_security=args.smtp_security, username=args.username, ca_file=args.ca_file,
        daily_limit=args.daily_limit, min_gap_seconds=args.min_gap,
        warmup=parse_warmup(args.warmup) if args.warmup and not warmup_off else None,
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


def cmd_campaigns_edit(args: argparse.Namespace, now: Any) -> int:
    from mailmonitor.services.accounts.validation import parse_window
    from mailmonitor.services.campaigns import editing, setup

    campaign = setup.find_campaign(args.name)
    edit = editing.CampaignEdit(add_mailboxes=list(args.add_mailbox),
                                remove_mailboxes=list(args.remove_mailbox), rename=args.rename)
    if args.steps is not None:
        edit.steps = setup.parse_steps(Path(args.steps))
    if args.window is not None:
        edit.window, edit.set_window = parse_window(args.window), True
    if args.auto_reallocate is not None:
        edit.auto_reallocate_minutes = editing.parse_auto_reallocate(args.auto_reallocate)
        edit.set_auto_reallocate = True
    from mailmonitor.services.team.members import owner_name, set_owner

    owner = owner_name(args.owner) if args.owner is not None else None
    if edit.is_empty() and owner is None:
        raise UsageError("nothing to change: give at least one option (see `mailmonitor "
                         "campaigns edit --help`)")
    name = campaign.name
    if not edit.is_empty():
        # The command itself is the rep's confirmation for changing a sent step's text.
        report = editing.edit_campaign(campaign, edit, now, confirm_sent_steps=True)
        print(describe(campaign.name, report))
    if owner is not None:
        set_owner(campaign, owner)
        print(f"Updated {name!r}: owner is {owner}")
    return EXIT_OK


def describe(name: str, report: Any) -> str:
    parts = []
    if report.added:
        parts.append("added " + ", ".join(report.added))
    if report.removed:
        parts.append("removed " + ", ".join(report.removed))
    if report.renamed_to:
        parts.append(f"renamed to {report.renamed_to!r}")
    if report.steps_changed or report.steps_added or report.steps_removed:
        bits = []
        if report.steps_changed:
            bits.append("changed " + ", ".join(str(n) for n in report.steps_changed))
        if report.steps_added:
            bits.append(f"{report.steps_added} added")
        if report.steps_removed:
            bits.append(f"{report.steps_removed} removed")
        parts.append("steps " + ", ".join(bits))
    if report.window_changed:
        parts.append("sending window changed")
    if report.auto_reallocate_changed:
        parts.append("automatic re-allocation changed")
    text = f"Updated {name!r}: " + ("; ".join(parts) if parts else "nothing changed")
    if report.sent_steps_changed:
        text += (f". Step {', '.join(str(n) for n in report.sent_steps_changed)} was already "
                 "sent: the new text applies only to emails sent from now on")
    if report.moved_leads:
        text += f". {report.moved_leads} leads moved to the campaign's other mailboxes"
    if report.completed_leads:
        text += f". {report.completed_leads} leads had every remaining step and are completed"
    if report.waiting_leads:
        current = report.renamed_to or name
        text += (f". {report.waiting_leads} leads wait for a mailbox: "
                 f"`mailmonitor campaigns reallocate {current!r}` moves them")
    return text
