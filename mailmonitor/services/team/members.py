"""Members, owners and who sees and hears of what (issue 15, team view).

Rules (Qt-free; the window, the tray, the command line and the alert channels use them):
- On a team database (PostgreSQL) every member sees every mailbox and campaign; the window's
  Mailboxes and Campaigns tabs start on "Mine" (what this member owns) with "Everyone" one
  click away. On a personal SQLite database there is no filter: everything is the rep's.
- An alert reaches (is notified to, on the tray and on the member's channels) the owner of its
  mailbox or campaign and every admin. A non-admin still *sees* others' alerts in the Alerts
  list (every member sees everything), but is not notified of them.
- A member name is what `models.team.this_member()` says for this copy (the `member` of
  team.json in the data folder, else the computer's user name). The first member on a database
  is its admin; an admin is never removed while they are the last one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import peewee as pw

from mailmonitor.models import Account, Alert, Campaign, TeamMember, db, is_postgres, this_member
from mailmonitor.models.team import clean_member_name
from mailmonitor.services.accounts.validation import InvalidInput


class OwnerFilter(StrEnum):
    MINE = "mine"
    EVERYONE = "everyone"


@dataclass(frozen=True)
class MemberInfo:
    name: str
    admin: bool
    mailboxes: int
    campaigns: int


def is_team_database() -> bool:
    return is_postgres(db.obj)


def filter_available() -> bool:
    """The Mine / Everyone choice is offered only on a team database."""
    return is_team_database()


def default_filter() -> OwnerFilter:
    return OwnerFilter.MINE if filter_available() else OwnerFilter.EVERYONE


def shows(owner: str | None, mode: OwnerFilter | str, member: str | None = None) -> bool:
    """Does a row owned by `owner` pass the filter `mode` for `member` (default: this copy's)?"""
    if OwnerFilter(mode) is OwnerFilter.EVERYONE or not filter_available():
        return True
    return (owner or "") == (member or this_member())


def valid_name(raw: str) -> str:
    name = clean_member_name(raw)
    if not name:
        raise InvalidInput(f"{raw.strip()[:70]!r} cannot be a member name: use letters, digits, "
                           "spaces, . @ ' - (at most 64 characters)")
    return name


def register_this_member() -> TeamMember:
    """This copy's member exists on the database (created on first use; the first member is
    the admin). Safe when several copies start at once."""
    name = this_member()
    found: TeamMember | None = TeamMember.get_or_none(TeamMember.name == name)
    if found is not None:
        return found
    with db.atomic():
        first = not TeamMember.select().exists()
        TeamMember.insert(name=name, admin=first).on_conflict_ignore().execute()
    member: TeamMember = TeamMember.get(TeamMember.name == name)
    return member


def find_member(name: str) -> TeamMember | None:
    found: TeamMember | None = TeamMember.get_or_none(
        pw.fn.LOWER(TeamMember.name) == clean_member_name(name).lower())
    return found


def members() -> list[MemberInfo]:
    boxes = dict(Account.select(Account.owner, pw.fn.COUNT(Account.id)).where(
        Account.removed_at.is_null()).group_by(Account.owner).tuples())
    camps = dict(Campaign.select(Campaign.owner, pw.fn.COUNT(Campaign.id)).group_by(
        Campaign.owner).tuples())
    return [MemberInfo(m.name, bool(m.admin), int(boxes.get(m.name, 0)),
                       int(camps.get(m.name, 0)))
            for m in TeamMember.select().order_by(pw.fn.LOWER(TeamMember.name))]


def add_member(raw: str, *, admin: bool = False) -> TeamMember:
    name = valid_name(raw)
    if find_member(name) is not None:
        raise InvalidInput(f"{name} is already a member")
    member: TeamMember = TeamMember.create(name=name, admin=admin)
    return member


def set_admin(raw: str, admin: bool) -> TeamMember:
    member = find_member(raw)
    if member is None:
        raise InvalidInput(f"no member {raw.strip()[:70]!r} (see `mailmonitor team members`)")
    with db.atomic():
        if not admin and member.admin:
            others = TeamMember.select().where(TeamMember.admin, TeamMember.id != member.id)
            if not others.exists():
                raise InvalidInput(f"{member.name} is the last admin: make another member "
                                   "admin first")
        member.admin = admin
        member.save()
    return member


def owner_name(raw: str) -> str:
    """The member an `--owner` names (a known member, whatever the case)."""
    member = find_member(raw)
    if member is None:
        raise InvalidInput(f"no member {raw.strip()[:70]!r}: add them first with "
                           "`mailmonitor team add-member NAME`")
    return str(member.name)


def set_owner(row: Account | Campaign, raw: str) -> str:
    name = owner_name(raw)
    type(row).update(owner=name).where(type(row).id == row.id).execute()
    row.owner = name
    from mailmonitor.events import ACCOUNT_CHANGED, CAMPAIGN_CHANGED, bus

    if isinstance(row, Account):
        bus.emit(ACCOUNT_CHANGED, row.id, row.status, row.status)
    else:
        bus.emit(CAMPAIGN_CHANGED, row.id)
    return name


def is_admin(member: str | None = None) -> bool:
    name = member or this_member()
    if not is_team_database():
        return True  # a personal database: everything is the rep's
    found = TeamMember.get_or_none(TeamMember.name == name)
    return bool(found is not None and found.admin)


def alert_owners(alert: Alert) -> set[str]:
    """The members who own what an alert is about (its mailbox's and its campaign's owners)."""
    owners: set[str] = set()
    if alert.account_id:
        owners.update(o for (o,) in Account.select(Account.owner).where(
            Account.id == alert.account_id).tuples())
    if alert.campaign_id:
        owners.update(o for (o,) in Campaign.select(Campaign.owner).where(
            Campaign.id == alert.campaign_id).tuples())
    return owners


def admins() -> set[str]:
    return {m for (m,) in TeamMember.select(TeamMember.name).where(TeamMember.admin).tuples()}


def reaches(alert: Alert, member: str | None = None, *, admin_names: set[str] | None = None
            ) -> bool:
    """Is `member` (default: this copy's) notified of this alert? Always on a personal
    database; on a team database the owner and the admins are (an alert about nothing in
    particular reaches everyone)."""
    if not is_team_database():
        return True
    name = member or this_member()
    if name in (admins() if admin_names is None else admin_names):
        return True
    owners = alert_owners(alert)
    return not owners or name in owners


def owned_ids(kind: str, mode: OwnerFilter | str, member: str | None = None
              ) -> frozenset[int] | None:
    """The ids of the mailboxes (`kind` "account") or campaigns ("campaign") the filter `mode`
    shows, or None when it shows every row (Everyone, or a personal database)."""
    if OwnerFilter(mode) is OwnerFilter.EVERYONE or not filter_available():
        return None
    table: type[Account] | type[Campaign] = Account if kind == "account" else Campaign
    name = member or this_member()
    return frozenset(i for (i,) in table.select(table.id).where(table.owner == name).tuples())
