"""The campaigns table: status, sending mailboxes (with their health) and lead counts per
campaign. Lead counts are a scan of the leads table, so the window loads them in a worker and
refreshes a campaign's counts only when its leads changed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Qt

from mailmonitor.models import Account, Campaign, CampaignMailbox
from mailmonitor.services.campaigns.rules import BROKEN_STATUSES
from mailmonitor.services.campaigns.setup import lead_counts
from mailmonitor.services.common.reasons import Status, label_for
from mailmonitor.services.common.vocabulary import campaign_words
from mailmonitor.services.team.members import is_team_database
from mailmonitor.ui import format as fmt
from mailmonitor.ui.icons import campaign_icon, campaign_look_key, status_icon
from mailmonitor.ui.models.base import ROOT, Role, RowsModel
from mailmonitor.ui.models.owner_cell import owner_cell
from mailmonitor.ui.palette import CAMPAIGN_LOOKS, LEAD_STATE_LABELS, status_color


@dataclass
class Member:
    account_id: int
    email: str
    status: str
    reason: str | None


@dataclass
class CampaignRow:
    id: int
    name: str
    status: str
    pause_reason: str | None
    members: list[Member] = field(default_factory=list)
    leads: Counter[str] = field(default_factory=Counter)
    leads_stamp: int = 0  # bumped whenever the counts are re-read
    owner: str = ""  # the team member who owns it (team database: the Owner column)

    @property
    def connected(self) -> int:
        return sum(1 for m in self.members if m.status == Status.CONNECTED.value)

    @property
    def broken(self) -> list[Member]:
        return [m for m in self.members if m.status in BROKEN_STATUSES]

    @property
    def total_leads(self) -> int:
        return sum(self.leads.values())

    @property
    def progress(self) -> float:
        total = self.total_leads
        done = sum(self.leads[s] for s in ("replied", "bounced", "completed", "campaign_stopped"))
        return done / total if total else 0.0

    @property
    def status_text(self) -> str:
        return campaign_words(self.status, self.pause_reason)


def load_members(campaign_ids: list[int] | None = None) -> dict[int, list[Member]]:
    """Sending mailboxes per campaign, in one query."""
    query = (CampaignMailbox.select(CampaignMailbox.campaign, Account.id, Account.email,
                                    Account.status, Account.reason)
             .join(Account).where(CampaignMailbox.active & Account.removed_at.is_null())
             .order_by(CampaignMailbox.id))
    if campaign_ids is not None:
        query = query.where(CampaignMailbox.campaign.in_(campaign_ids))
    members: dict[int, list[Member]] = {}
    for campaign_id, account_id, email, status, reason in query.tuples():
        members.setdefault(int(campaign_id), []).append(Member(account_id, email, status, reason))
    return members


def leads_text(leads: Counter[str]) -> str:
    total = sum(leads.values())
    if not total:
        return "No leads"
    parts = [fmt.count(total, "lead")]
    waiting = leads["halted"] + leads["unassigned"]
    if waiting:
        parts.append(f"{waiting:,} waiting")
    if leads["active"]:
        parts.append(f"{leads['active']:,} in sequence")
    if leads["replied"]:
        parts.append(f"{leads['replied']:,} replied")
    return " · ".join(parts)


class CampaignsModel(RowsModel[CampaignRow]):
    """One row per campaign. The Owner column (last, so the other columns keep their numbers)
    says something only on a team database (`owners_shown`)."""

    NAME, STATUS, MAILBOXES, LEADS, PROGRESS, OWNER = range(6)
    HEADERS = ("Campaign", "Status", "Mailboxes", "Leads", "Progress", "Owner")

    def __init__(self, parent: QObject | None = None, with_lead_counts: bool = True) -> None:
        super().__init__(parent)
        self._campaigns_of_account: dict[int, set[int]] = {}
        self.owners_shown = is_team_database()
        self.load(with_lead_counts)

    def cell(self, r: CampaignRow, column: int, role: int) -> Any:
        if role == Role.STATUS:
            return r.status
        if role == Role.PROGRESS:
            return r.progress
        if role == Role.OWNER:
            return r.owner
        if column == self.OWNER:
            return self._owner_cell(r, role)
        if column == self.NAME:
            if role in (Qt.ItemDataRole.DisplayRole, Role.SORT):
                return r.name
        elif column == self.STATUS:
            if role == Qt.ItemDataRole.DisplayRole:
                return r.status_text
            if role == Qt.ItemDataRole.DecorationRole:
                return campaign_icon(r.status, pause_reason=r.pause_reason)
            if role == Qt.ItemDataRole.ForegroundRole:
                return CAMPAIGN_LOOKS.get(campaign_look_key(r.status, r.pause_reason),
                                          CAMPAIGN_LOOKS["draft"]).color()
            if role == Role.SORT:
                return r.status_text
        elif column == self.MAILBOXES:
            if role == Qt.ItemDataRole.DisplayRole:
                return f"{r.connected} of {len(r.members)} connected"
            if role == Qt.ItemDataRole.ForegroundRole and r.broken:
                return status_color(Status.DISCONNECTED.value)
            if role == Qt.ItemDataRole.DecorationRole and r.broken:
                return status_icon(Status.DISCONNECTED.value)
            if role == Qt.ItemDataRole.ToolTipRole:
                return "<br>".join(
                    f"{fmt.esc(m.email)}: {label_for(m.status, m.reason)}" for m in r.members
                ) or "No mailbox"
            if role == Role.SORT:
                return len(r.broken) * 10_000 - r.connected
        elif column == self.LEADS:
            if role == Qt.ItemDataRole.DisplayRole:
                return leads_text(r.leads)
            if role == Qt.ItemDataRole.ToolTipRole:
                return "<br>".join(f"{LEAD_STATE_LABELS.get(s, s)}: {n:,}"
                                   for s, n in sorted(r.leads.items()) if n) or "No leads"
            if role == Role.SORT:
                return r.total_leads
        elif column == self.PROGRESS:
            if role == Qt.ItemDataRole.DisplayRole:
                return f"{r.progress:.0%}"
            if role == Role.SORT:
                return r.progress
        return None

    def _owner_cell(self, r: CampaignRow, role: int) -> Any:
        if not self.owners_shown:  # a personal database: nothing to show (nor to search)
            return None
        return owner_cell(r.owner, r.name.casefold(), role)

    def load(self, with_lead_counts: bool = True) -> None:
        """All campaigns. Counting every lead is a scan of the leads table (200,000 rows take
        ~0.2 s): the window asks for it without counts and fills them in from a worker."""
        self.beginResetModel()
        campaigns = list(Campaign.select(Campaign.id, Campaign.name, Campaign.status,
                                         Campaign.pause_reason, Campaign.owner)
                         .order_by(Campaign.name).tuples())
        counts = lead_counts() if with_lead_counts else {}
        members = load_members()
        self._rows = [CampaignRow(cid, name, status, reason, members.get(cid, []),
                                  counts.get(cid, Counter()), owner=owner or "")
                      for cid, name, status, reason, owner in campaigns]
        self._reindex()
        self.endResetModel()

    def restyle(self) -> None:
        """The theme changed: views ask for colours and icons again."""
        if self._rows:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self._rows) - 1, self.columnCount() - 1))

    def lead_stamps(self) -> dict[int, int]:
        return {r.id: r.leads_stamp for r in self._rows}

    def set_lead_counts(self, counts: dict[int, Counter[str]],
                        stamps: dict[int, int] | None = None) -> None:
        """Counts computed elsewhere (a worker). Rows refreshed since `stamps` were taken keep
        their newer counts."""
        for r in self._rows:
            if stamps is not None and stamps.get(r.id) != r.leads_stamp:
                continue
            r.leads = counts.get(r.id, Counter())
        if self._rows:
            self.dataChanged.emit(self.index(0, self.LEADS),
                                  self.index(len(self._rows) - 1, self.PROGRESS))

    def _reindex(self) -> None:
        self._row_of = {r.id: i for i, r in enumerate(self._rows)}
        self._campaigns_of_account = {}
        for r in self._rows:
            for m in r.members:
                self._campaigns_of_account.setdefault(m.account_id, set()).add(r.id)

    def refresh_campaign(self, campaign_id: int, leads: bool = True) -> None:
        campaign = Campaign.get_or_none(Campaign.id == campaign_id)
        row = self._row_of.get(campaign_id)
        if campaign is None:
            if row is not None:
                self.beginRemoveRows(ROOT, row, row)
                self._rows.pop(row)
                self._reindex()
                self.endRemoveRows()
            return
        members = load_members([campaign_id]).get(campaign_id, [])
        if row is None:
            fresh = CampaignRow(campaign.id, campaign.name, campaign.status,
                                campaign.pause_reason, members,
                                lead_counts([campaign_id]).get(campaign_id, Counter()),
                                owner=campaign.owner or "")
            position = len(self._rows)
            self.beginInsertRows(ROOT, position, position)
            self._rows.append(fresh)
            self._reindex()
            self.endInsertRows()
            return
        current = self._rows[row]
        current.name, current.status = campaign.name, campaign.status
        current.pause_reason, current.members = campaign.pause_reason, members
        current.owner = campaign.owner or ""
        if leads:
            current.leads = lead_counts([campaign_id]).get(campaign_id, Counter())
            current.leads_stamp += 1
        self._reindex()
        self._row_changed(row)

    def refresh_leads(self, campaign_ids: int | Iterable[int]) -> None:
        """Lead counts of these campaigns, in one query."""
        ids = [campaign_ids] if isinstance(campaign_ids, int) else list(campaign_ids)
        ids = [c for c in ids if c in self._row_of]
        if not ids:
            return
        counts = lead_counts(ids)
        for campaign_id in ids:
            row = self._row_of[campaign_id]
            self._rows[row].leads = counts.get(campaign_id, Counter())
            self._rows[row].leads_stamp += 1
            self._row_changed(row)

    def accounts_changed(self, account_ids: Iterable[int],
                         status_of: Callable[[int], tuple[str, str | None] | None]) -> None:
        """Mailbox statuses show in their campaigns' 'Mailboxes' column; `status_of` gives an
        account's (status, reason) from the accounts model, so no query is needed."""
        touched: set[int] = set()
        membership: set[int] = set()
        for account_id in account_ids:
            campaigns = self._campaigns_of_account.get(account_id, ())
            known = status_of(account_id)
            if known is None or known[0] == Status.STOPPED.value:
                membership |= set(campaigns)  # removed or disconnected: it left them
                continue
            for campaign_id in campaigns:
                for member in self._rows[self._row_of[campaign_id]].members:
                    if member.account_id == account_id:
                        member.status, member.reason = known
                touched.add(campaign_id)
        for campaign_id in sorted(membership):
            self.refresh_campaign(campaign_id, leads=False)
        for campaign_id in sorted(touched - membership):
            self._row_changed(self._row_of[campaign_id])

    def account_changed(self, account_id: int) -> None:
        account = Account.get_or_none(Account.id == account_id)
        self.accounts_changed([account_id], lambda _id: (account.status, account.reason)
                              if account is not None else None)
