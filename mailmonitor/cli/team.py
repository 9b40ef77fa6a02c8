"""`mailmonitor team members|add-member|set-admin|rename-member` (issue 15, team view) and
`team senders` (issue 21: the running copies a sign-in can be handed over to). Bad input: exit 3
with one line, nothing changed. (The `--owner` option of `accounts edit` / `campaigns edit`
and `accounts hand-over` are in accounts.py.)"""

from __future__ import annotations

import argparse
from datetime import datetime

from mailmonitor.cli.common import EXIT_OK, Command, Parser, Subparsers, UsageError, print_json
from mailmonitor.wording import count


def add_parser(sub: Subparsers, common: Parser) -> dict[str, Command]:
    team = sub.add_parser("team", parents=[common], help="members of the team and admins")
    actions = team.add_subparsers(dest="action", required=True, parser_class=Parser,
                                  metavar="ACTION")
    lst = actions.add_parser("members", parents=[common],
                             help="every member, admin or not, and what they own")
    lst.add_argument("--json", action="store_true", help="print JSON")
    add = actions.add_parser("add-member", parents=[common], help="add a member by name")
    add.add_argument("name", metavar="NAME", help="the member's name (their MAILMONITOR_MEMBER "
                     "or computer user name)")
    add.add_argument("--admin", action="store_true", help="an admin: receives every alert")
    adm = actions.add_parser("set-admin", parents=[common],
                             help="make a member admin (on) or not (off)")
    adm.add_argument("name", metavar="NAME", help="the member")
    adm.add_argument("value", choices=["on", "off"], metavar="on|off",
                     help="on: an admin (every alert); off: their own alerts only")
    ren = actions.add_parser(
        "rename-member", parents=[common],
        help="rename a member: their mailboxes, campaigns and alert channels move to the new "
             "name in one step",
        description="Rename a member. Everything they own (mailboxes, campaigns, alert "
                    "channels) moves to the new name in one transaction. A name another member "
                    "has is refused and nothing changes. Renaming this copy's own member also "
                    "saves the name in team.json; copies elsewhere keep their name until it is "
                    "changed there (Settings → Team, or MAILMONITOR_MEMBER).")
    ren.add_argument("old", metavar="OLD", help="the member's current name (any case)")
    ren.add_argument("new", metavar="NEW", help="the new name: letters, digits, spaces, "
                     ". @ ' - (at most 64 characters)")
    senders = actions.add_parser(
        "senders", parents=[common],
        help="running copies on the team database that can receive a hand-over "
             "(mailmonitor accounts hand-over)")
    senders.add_argument("--json", action="store_true", help="print JSON")
    return {"team": cmd_team}


def cmd_senders(args: argparse.Namespace, now: datetime) -> int:
    """Machine, fingerprint, kind, the mailboxes its keyring can serve, last heartbeat."""
    from mailmonitor.services.team import handover
    from mailmonitor.services.team.leases import team_mode

    if not team_mode():
        raise UsageError("team senders needs a team database (--database postgresql://… or "
                         "MAILMONITOR_DATABASE_URL)")
    rows = [r.as_json() for r in handover.live_receivers(now)]
    if args.json:
        print_json(rows)
    elif not rows:
        print("No running copy on this database (start one with `mailmonitor run --headless`)")
    else:
        for row in rows:
            print(f"{row['machine']:24} {row['kind']:9} {row['fingerprint']}  "
                  f"{len(row['mailboxes'])} mailboxes  last seen {row['last_seen']}")
    return EXIT_OK


def cmd_team(args: argparse.Namespace, _now: datetime) -> int:
    from mailmonitor.models import this_member
    from mailmonitor.services.team import members as svc

    if args.action == "senders":
        return cmd_senders(args, _now)
    if args.action == "members":
        found = svc.members()
        me = this_member()
        if args.json:
            print_json([{"name": m.name, "admin": m.admin, "you": m.name == me,
                         "mailboxes": m.mailboxes, "campaigns": m.campaigns} for m in found])
        elif not found:
            print("No team members yet: the first copy that opens this database registers one")
        else:
            for m in found:
                tags = ", ".join(t for t, on in (("admin", m.admin), ("you", m.name == me)) if on)
                print(f"{m.name:30} {tags:12} {count(m.mailboxes, 'mailbox', 'mailboxes')}  "
                      f"{count(m.campaigns, 'campaign')}")
        return EXIT_OK
    if args.action == "add-member":
        member = svc.add_member(args.name, admin=args.admin)
        print(f"Added {member.name}" + (" (admin)" if member.admin else ""))
        return EXIT_OK
    if args.action == "set-admin":
        member = svc.set_admin(args.name, args.value == "on")
        print(f"{member.name} is " + ("an admin now" if member.admin else "no longer an admin"))
        return EXIT_OK
    if args.action == "rename-member":
        renamed = svc.rename_member(args.old, args.new)
        print(renamed.text)
        return EXIT_OK
    raise UsageError(f"unknown action {args.action}")
