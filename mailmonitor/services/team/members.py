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
- A member can be renamed (`rename_member`): what they own, their alert channels and their
  tray's marks move to the new name in one transaction; a name another member has is refused
  and changes nothing. Renaming this copy's own member also saves the name in team.json, so the
  copy registers under it from then on.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import peewee as pw

from mailmonitor.models import (
    Account,
    Alert,
    AlertSeen,
    Campaign,
    NotifyChannel,
    TeamMember,
    db,
    is_postgres,
    set_this_member,
    this_member,
)
from mailmonitor.models.team import clean_member_name
from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.team import local


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


@dataclass(frozen=True)
class Renamed:
    old: str
    new: str
    mailboxes: int  # what moved to the new name (removed mailboxes not counted)
    campaigns: int
    note: str = ""  # something the rep must still do ("" when nothing)

    @property
    def text(self) -> str:
        moved = (f"{self.mailboxes} mailbox{'es' if self.mailboxes != 1 else ''} and "
                 f"{self.campaigns} campaign{'s' if self.campaigns != 1 else ''} moved along")
        return f"{self.old} is {self.new} now ({moved})." + (f" {self.note}" if self.note else "")


def name_set_outside() -> bool:
    """This copy's member name comes from MAILMONITOR_MEMBER (then team.json's is not read)."""
    return bool(os.environ.get(local.MEMBER_ENV))


def rename_member(old: str, new: str) -> Renamed:
    """Rename member `old` to `new` (checked by `valid_name`). The mailboxes, campaigns and alert
    channels they own, and the alerts their tray showed, move to the new name in the same
    transaction. A name another member has (whatever the case) is refused and nothing changes;
    a change of case only is allowed. This copy's own member also gets the new name in
    team.json (written inside the transaction: if it cannot be saved, nothing changes)."""
    member = find_member(old)
    if member is None:
        raise InvalidInput(f"no member {old.strip()[:70]!r} (see `mailmonitor team members`)")
    name = valid_name(new)
    was = str(member.name)
    other = find_member(name)
    if other is not None and other.id != member.id:
        raise InvalidInput(f"{other.name} is already a member: choose another name "
                           "(nothing was changed)")
    if name == was:
        raise InvalidInput(f"{was} is already the name: nothing to change")
    mine = was == this_member()
    folder = local.data_dir() if mine and not name_set_outside() else None
    before = local.read(folder).get("member") if folder is not None else None
    try:
        with db.atomic():
            TeamMember.update(name=name).where(TeamMember.id == member.id).execute()
            accounts = list(Account.select(Account.id, Account.status, Account.removed_at)
                            .where(Account.owner == was).tuples())
            Account.update(owner=name).where(Account.owner == was).execute()
            campaigns = [i for (i,) in Campaign.select(Campaign.id).where(
                Campaign.owner == was).tuples()]
            Campaign.update(owner=name).where(Campaign.owner == was).execute()
            NotifyChannel.update(owner=name).where(NotifyChannel.owner == was).execute()
            # Marks under the new name (left by some earlier member of that name) give way.
            AlertSeen.delete().where((AlertSeen.member == was) & AlertSeen.alert.in_(
                AlertSeen.select(AlertSeen.alert).where(AlertSeen.member == name))).execute()
            AlertSeen.update(member=name).where(AlertSeen.member == was).execute()
            if folder is not None:
                _save_name(folder, name)
    except pw.IntegrityError:  # another copy took the name meanwhile
        _restore_name(folder, before)
        raise InvalidInput(f"{name} is already a member: choose another name (nothing was "
                           "changed)") from None
    except BaseException:
        _restore_name(folder, before)
        raise
    note = ""
    if mine:
        set_this_member(name)
        if name_set_outside():
            note = (f"This copy's name comes from {local.MEMBER_ENV}: set it to {name}, or "
                    f"{was} comes back as a new member at the next start.")
    from mailmonitor.events import ACCOUNT_CHANGED, CAMPAIGN_CHANGED, bus

    for account_id, status, _removed in accounts:  # the owner is part of each row shown
        bus.emit(ACCOUNT_CHANGED, account_id, status, status)
    for campaign_id in campaigns:
        bus.emit(CAMPAIGN_CHANGED, campaign_id)
    return Renamed(was, name, sum(1 for *_r, removed in accounts if removed is None),
                   len(campaigns), note)


def _save_name(folder: Path, name: str) -> None:
    try:
        local.write(folder, member=name)
    except OSError as exc:
        raise InvalidInput(f"the new name could not be saved in {local.FILENAME} "
                           f"({exc.strerror or exc}): nothing was changed") from None


def _restore_name(folder: Path | None, before: str | None) -> None:
    """team.json as it was (the transaction that renamed the member did not commit)."""
    if folder is not None:
        with contextlib.suppress(OSError):
            local.write(folder, member=before)


def rename_this_member(new: str) -> Renamed:
    """This copy's member takes the name `new` (Settings → Team): see `rename_member`."""
    register_this_member()
    return rename_member(this_member(), new)


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
