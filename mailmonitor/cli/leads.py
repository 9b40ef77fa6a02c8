"""`mailmonitor leads import|list`: the leads of a campaign."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mailmonitor.cli.common import EXIT_OK, Command, Parser, Subparsers, print_json
from mailmonitor.wording import count


def add_parser(sub: Subparsers, common: Parser) -> dict[str, Command]:
    leads = sub.add_parser("leads", parents=[common], help="leads of a campaign")
    ld = leads.add_subparsers(dest="action", required=True, parser_class=Parser,
                              metavar="ACTION")
    limp = ld.add_parser("import", parents=[common], help="add leads from a CSV")
    limp.add_argument("name", metavar="NAME", help="the campaign")
    limp.add_argument("file", metavar="FILE.csv", help="a header row with an email column")
    llist = ld.add_parser("list", parents=[common], help="each lead's mailbox, step and state")
    llist.add_argument("name", metavar="NAME", help="the campaign")
    llist.add_argument("--json", action="store_true", help="print JSON")
    return {"leads": cmd_leads}


def cmd_leads(args: argparse.Namespace, now: Any) -> int:
    from mailmonitor.models import Account, Lead
    from mailmonitor.services.campaigns import setup

    campaign = setup.find_campaign(args.name)
    if args.action == "import":
        refused: list[str] = []
        added, updated = setup.import_leads(campaign, Path(args.file), now, refused)
        print(f"Imported {count(added, 'lead')} into {campaign.name!r}"
              + (f"; {updated:,} already there kept their place (fields updated)" if updated
                 else "") + refused_note(refused))
        return EXIT_OK
    emails = dict(Account.select(Account.id, Account.email).tuples())
    rows = [setup.lead_summary(lead, emails.get(lead.mailbox_id))
            for lead in Lead.select().where(Lead.campaign == campaign).order_by(Lead.id)]
    if args.json:
        print_json(rows)
    elif not rows:
        print(f"No leads in {campaign.name!r} yet: import them with `mailmonitor leads import "
              f"{_quoted(campaign.name)} FILE.csv`")
    else:
        from mailmonitor.models import Step
        from mailmonitor.services.common.vocabulary import lead_words, step_words

        steps = Step.select().where(Step.campaign == campaign).count()
        for row in rows:  # the window's words: "Step 2 of 3", "In sequence"
            print(f"{row['email']:40} {row['mailbox'] or '—':32} "
                  f"{step_words(row['cursor'], steps):12} {lead_words(row['state']):20} "
                  f"{row['messages_sent']:,} sent" + (f"  ! {row['flag']}" if row['flag']
                                                       else ""))
    return EXIT_OK


def refused_note(refused: list[str]) -> str:
    if not refused:
        return ""
    shown = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5
                                      else "")
    return f"; {len(refused):,} refused: they unsubscribed ({shown})"


def _quoted(name: str) -> str:
    return f'"{name}"' if any(c.isspace() for c in name) else name
