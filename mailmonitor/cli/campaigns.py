"""`mailmonitor campaigns create|list|pause|resume|reallocate|edit`: campaigns (issue 11 for
`edit`; spec §7 contract).

`edit`: an unknown campaign and malformed values exit 3 with one line, nothing changed."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mailmonitor.cli.common import (
    EXIT_OK,
    Command,
    Failure,
    Parser,
    Subparsers,
    UsageError,
    print_json,
)
from mailmonitor.services.common import bounds
from mailmonitor.services.common.vocabulary import WAITING_FOR_A_MAILBOX, campaign_words
from mailmonitor.wording import count, verb


def add_parser(sub: Subparsers, common: Parser) -> dict[str, Command]:
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
    cedit.add_argument("--owner", metavar="MEMBER",
                       help="the team member who owns the campaign")
    return {"campaigns": cmd_campaigns}


def cmd_campaigns(args: argparse.Namespace, now: Any) -> int:
    from mailmonitor.models import Campaign
    from mailmonitor.services.campaigns import rules, setup
    from mailmonitor.services.campaigns.reallocation import reallocate
    from mailmonitor.services.common.validation import parse_window

    if args.action == "create":
        steps = setup.parse_steps(Path(bounds.required("steps_file", args.steps)))
        window = parse_window(bounds.required("window", args.window))
        campaign = setup.create_campaign(args.name, args.mailbox, steps, window, now)
        print(f"Created campaign {campaign.name!r} with {count(len(steps), 'step')}"
              + ("" if setup.can_send(campaign) else f"; {WAITING_FOR_A_MAILBOX}"))
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
            for row in rows:  # the window's words (services/common/vocabulary.py)
                status = campaign_words(row["status"], row["pause_reason"])
                print(f"{row['name']:30} {status:30} {row['mailboxes_connected']} of "
                      f"{count(row['mailboxes_total'], 'mailbox', 'mailboxes')} connected  "
                      f"{count(row['leads_total'], 'lead')}")
        return EXIT_OK
    if args.action == "edit":
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
            print(plan.words())
    except rules.CampaignError as exc:
        hint = (f" (mailmonitor campaigns edit {campaign.name!r} --add-mailbox EMAIL)"
                if args.action == "reallocate" else "")
        raise Failure(f"{exc}{hint}") from None
    return EXIT_OK


def cmd_campaigns_edit(args: argparse.Namespace, now: Any) -> int:
    from mailmonitor.services.campaigns import editing, setup
    from mailmonitor.services.common.validation import parse_window

    campaign = setup.find_campaign(args.name)
    edit = editing.CampaignEdit(add_mailboxes=list(args.add_mailbox),
                                remove_mailboxes=list(args.remove_mailbox), rename=args.rename)
    if args.steps is not None:
        edit.steps = setup.parse_steps(Path(bounds.required("steps_file", args.steps)))
    if args.window is not None:
        edit.window = parse_window(bounds.required("window", args.window))
        edit.set_window = True
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
            bits.append(f"{report.steps_added:,} added")
        if report.steps_removed:
            bits.append(f"{report.steps_removed:,} removed")
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
        text += (f". {count(report.moved_leads, 'lead')} moved to the campaign's other "
                 "mailboxes")
    if report.completed_leads:
        n = report.completed_leads
        text += (f". {count(n, 'lead')} had every remaining step and "
                 f"{verb(n, 'is', 'are')} completed")
    if report.waiting_leads:
        current = report.renamed_to or name
        n = report.waiting_leads
        text += (f". {count(n, 'lead')} {verb(n, 'waits', 'wait')} for a mailbox: "
                 f"`mailmonitor campaigns reallocate {current!r}` moves "
                 + verb(n, "it", "them"))
    return text
