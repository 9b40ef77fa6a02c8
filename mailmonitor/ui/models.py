"""Qt item models over accounts, campaigns and leads.

Rows are plain snapshots read from the database. A change refreshes only its own row
(`dataChanged` for that row; never a model reset per status change), so a burst of status
changes keeps selections, sorting and scroll positions where they are. The leads model is
windowed (`canFetchMore`/`fetchMore`): a campaign with 200,000 leads loads one page at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import IntEnum
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from mailmonitor.clock import Clock, SystemClock
from mailmonitor.models import Account, Campaign, CampaignMailbox, Lead, Step
from mailmonitor.models.campaign import PAUSE_NO_MAILBOX
from mailmonitor.services.campaigns.rules import BROKEN_STATUSES
from mailmonitor.services.campaigns.setup import lead_counts
from mailmonitor.services.monitoring.reasons import REASONS, Status, label_for
from mailmonitor.ui import format as fmt
from mailmonitor.ui.icons import campaign_icon, campaign_look_key, status_icon
from mailmonitor.ui.palette import (
    CAMPAIGN_LOOKS,
    LEAD_STATE_LABELS,
    lead_state_color,
    look,
    status_color,
)

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()


class Role(IntEnum):
    ID = Qt.ItemDataRole.UserRole + 1
    STATUS = Qt.ItemDataRole.UserRole + 2  # the status shown (checking while a check runs)
    REASON = Qt.ItemDataRole.UserRole + 3
    SORT = Qt.ItemDataRole.UserRole + 4  # a value that sorts naturally
    PROGRESS = Qt.ItemDataRole.UserRole + 5  # 0.0 – 1.0


def _status_tooltip(status: str, reason: str | None, detail: str) -> str:
    info = REASONS.get(reason or "")
    if info is not None:
        text = f"<b>{info.label}</b><br>{info.explanation}<br><i>{info.action}</i>"
    elif status == Status.CONNECTED.value:
        text = "<b>Connected</b><br>The last check passed (IMAP and SMTP)."
    elif status == Status.CHECKING.value:
        text = "<b>Checking…</b><br>A connection test is running."
    elif status == Status.OFFLINE.value:
        text = ("<b>Offline</b><br>This computer has no network. Checks resume when it is "
                "back; nothing is counted against the mailbox.")
    elif status == Status.STOPPED.value:
        text = "<b>Stopped</b><br>You disconnected this mailbox: nothing is checked or sent."
    else:
        text = f"<b>{status}</b>"
    if detail and info is not None:
        text += f"<br><br>Server: <tt>{fmt.esc(detail[:300])}</tt>"
    return text



# --- accounts -----------------------------------------------------------------------------------

@dataclass
class AccountRow:
    id: int
    email: str
    name: str
    kind: str
    imap_host: str
    status: str
    reason: str | None
    detail: str
    checked_at: datetime | None
    latency_ms: int | None
    checking: bool = False
    # What the view asked for already (the view asks ~10 roles per cell on every paint).
    cache: dict[tuple[int, int], Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, a: Account) -> AccountRow:
        return cls(a.id, a.email, a.name, a.kind, a.imap_host, a.status, a.reason,
                   a.detail or "", a.checked_at, a.last_latency_ms)

    @property
    def shown_status(self) -> str:
        return Status.CHECKING.value if self.checking else self.status


ACCOUNT_FIELDS = (Account.id, Account.email, Account.name, Account.kind, Account.imap_host,
                  Account.status, Account.reason, Account.detail, Account.checked_at,
                  Account.last_latency_ms)


# Sorting by status puts what needs the rep first.
SORT_RANK = {Status.DISCONNECTED.value: 0, Status.WARNING.value: 1, Status.OFFLINE.value: 2,
             Status.CHECKING.value: 3, Status.STOPPED.value: 4, Status.CONNECTED.value: 5}


RowT = TypeVar("RowT")


class RowsModel(QAbstractTableModel, Generic[RowT]):
    """A table of rows kept in a list, found by their record id: the part both tables share."""

    HEADERS: tuple[str, ...] = ()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[RowT] = []
        self._row_of: dict[int, int] = {}

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def row(self, row: int) -> RowT:
        return self._rows[row]

    def row_for(self, record_id: int) -> RowT | None:
        index = self._row_of.get(record_id)
        return None if index is None else self._rows[index]

    def index_of(self, record_id: int, column: int = 0) -> QModelIndex:
        row = self._row_of.get(record_id)
        return QModelIndex() if row is None else self.index(row, column)


class AccountsModel(RowsModel[AccountRow]):
    """One row per mailbox (removed ones are hidden).

    Signals:
        countsChanged(): the number of mailboxes per shown status changed.
    """

    STATUS, ADDRESS, PROVIDER, REASON, CHECKED, LATENCY = range(6)
    HEADERS = ("Status", "Mailbox", "Provider", "Reason", "Last checked", "Latency")

    countsChanged = Signal()

    def __init__(self, clock: Clock | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self.clock = clock or SystemClock()
        self.counts: Counter[str] = Counter()
        self.load()

    # reading

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole and section == self.LATENCY:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def clear_caches(self) -> None:
        """The theme changed: colours and icons are looked up again."""
        for r in self._rows:
            r.cache.clear()
        if self._rows:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self._rows) - 1, self.columnCount() - 1))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        key = (index.column(), role)
        try:
            return r.cache[key]
        except KeyError:
            pass
        value = self._data(r, index.column(), role)
        if key != (self.CHECKED, Qt.ItemDataRole.DisplayRole):  # relative time moves on
            r.cache[key] = value
        return value

    def _data(self, r: AccountRow, column: int, role: int) -> Any:
        status = r.shown_status
        if role == Role.ID:
            return r.id
        if role == Role.STATUS:
            return status
        if role == Role.REASON:
            return r.reason
        if role == Qt.ItemDataRole.ToolTipRole:
            if column in (self.STATUS, self.REASON):
                return _status_tooltip(status, r.reason, r.detail)
            if column == self.CHECKED:
                return f"Last checked {fmt.local_time(r.checked_at)}"
            if column == self.ADDRESS and r.name:
                return f"{r.name} <{r.email}>"
            if column == self.PROVIDER:
                return r.imap_host
            return None
        if column == self.STATUS:
            if role == Qt.ItemDataRole.DisplayRole:
                return look(status).label
            if role == Qt.ItemDataRole.DecorationRole:
                return status_icon(status)
            if role == Qt.ItemDataRole.ForegroundRole:
                return status_color(status)
            if role == Role.SORT:  # a plain string: Qt compares it without calling Python
                return f"{SORT_RANK.get(status, 9)}|{r.email}"
            if role == Qt.ItemDataRole.AccessibleTextRole:
                return f"{look(status).label}: {label_for(r.status, r.reason)}"
        elif column == self.ADDRESS:
            if role in (Qt.ItemDataRole.DisplayRole, Role.SORT):
                return r.email
        elif column == self.PROVIDER:
            if role in (Qt.ItemDataRole.DisplayRole, Role.SORT):
                return fmt.provider_name(r.kind, r.imap_host)
        elif column == self.REASON:
            if role == Qt.ItemDataRole.DisplayRole:
                return REASONS[r.reason].label if r.reason in REASONS else "—"
            if role == Role.SORT:
                return REASONS[r.reason].label if r.reason in REASONS else ""
            if role == Qt.ItemDataRole.ForegroundRole and r.reason:
                return status_color(r.status)
        elif column == self.CHECKED:
            if role == Qt.ItemDataRole.DisplayRole:
                return fmt.relative_time(r.checked_at, self.clock.now())
            if role == Role.SORT:
                return r.checked_at.timestamp() if r.checked_at else 0.0
        elif column == self.LATENCY:
            if role == Qt.ItemDataRole.DisplayRole:
                return f"{r.latency_ms} ms" if r.latency_ms is not None else "—"
            if role == Role.SORT:
                return r.latency_ms if r.latency_ms is not None else -1
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    # loading and refreshing
    def load(self) -> None:
        """Everything, once (start-up). Later changes go through `refresh_account`."""
        self.beginResetModel()
        query = Account.select(*ACCOUNT_FIELDS).where(Account.removed_at.is_null())
        rows = [AccountRow(*values) for values in query.tuples()]
        # What needs the rep first, then by address (the views start in this order).
        self._rows = sorted(rows, key=lambda r: (SORT_RANK.get(r.status, 9), r.email))
        self._row_of = {r.id: i for i, r in enumerate(self._rows)}
        self.counts = Counter(r.shown_status for r in self._rows)
        self.endResetModel()
        self.countsChanged.emit()

    def refresh_account(self, account_id: int) -> None:
        self.refresh_accounts([account_id])

    def refresh_accounts(self, account_ids: Iterable[int]) -> None:
        """Re-read these accounts in one query: their rows change (or appear, or go away when
        removed); every other row is left alone."""
        wanted = sorted(set(account_ids))
        if not wanted:
            return
        fresh: dict[int, AccountRow] = {}
        for i in range(0, len(wanted), 500):
            query = Account.select(*ACCOUNT_FIELDS).where(
                Account.id.in_(wanted[i:i + 500]) & Account.removed_at.is_null())
            fresh.update({values[0]: AccountRow(*values) for values in query.tuples()})
        for account_id in wanted:
            row = self._row_of.get(account_id)
            new = fresh.get(account_id)
            if new is None:
                if row is not None:
                    self._remove(row)
            elif row is None:
                self._insert(new)
            else:
                new.checking = self._rows[row].checking
                self._replace(row, new)

    def _remove(self, row: int) -> None:
        self.beginRemoveRows(ROOT, row, row)
        old = self._rows.pop(row)
        self._row_of = {r.id: i for i, r in enumerate(self._rows)}
        self.endRemoveRows()
        self._count(old.shown_status, -1)

    def _insert(self, new: AccountRow) -> None:
        position = len(self._rows)
        self.beginInsertRows(ROOT, position, position)
        self._rows.append(new)
        self._row_of[new.id] = position
        self.endInsertRows()
        self._count(new.shown_status, +1)

    def set_checking(self, account_id: int, checking: bool) -> None:
        row = self._row_of.get(account_id)
        if row is None or self._rows[row].checking == checking:
            return
        self._replace(row, replace(self._rows[row], checking=checking, cache={}))

    def _replace(self, row: int, fresh: AccountRow) -> None:
        old = self._rows[row]
        self._rows[row] = fresh
        self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))
        if old.shown_status != fresh.shown_status:
            self._count(old.shown_status, -1, emit=False)
            self._count(fresh.shown_status, +1)

    def _count(self, status: str, delta: int, emit: bool = True) -> None:
        self.counts[status] += delta
        if self.counts[status] <= 0:
            del self.counts[status]
        if emit:
            self.countsChanged.emit()

    def tick(self) -> None:
        """Relative times move on: one range update of the 'Last checked' column."""
        if self._rows:
            self.dataChanged.emit(self.index(0, self.CHECKED),
                                  self.index(len(self._rows) - 1, self.CHECKED),
                                  [Qt.ItemDataRole.DisplayRole])

    def ids_with_status(self, *statuses: str) -> list[int]:
        return [r.id for r in self._rows if r.status in statuses]


class StatusFilterProxy(QSortFilterProxyModel):
    """Sorting by each column's natural value (Role.SORT: plain numbers and strings that Qt
    compares itself, so a re-sort after a status change calls no Python), a filter by status
    and a text filter."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(Role.SORT)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)
        self._statuses: frozenset[str] | None = None

    def set_statuses(self, statuses: frozenset[str] | None) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt ≥ 6.9; invalidateFilter is deprecated
            self.beginFilterChange()
            self._statuses = statuses
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._statuses = statuses
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        if self._statuses is not None:
            status = model.index(source_row, 0, source_parent).data(Role.STATUS)
            if status not in self._statuses:
                return False
        return super().filterAcceptsRow(source_row, source_parent)


# --- campaigns ----------------------------------------------------------------------------------

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
        label = CAMPAIGN_LOOKS.get(self.status, CAMPAIGN_LOOKS["draft"]).label
        if self.status == "paused":
            return f"{label}: no mailbox can send" if self.pause_reason == PAUSE_NO_MAILBOX \
                else f"{label} by you"
        return label


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
    NAME, STATUS, MAILBOXES, LEADS, PROGRESS = range(5)
    HEADERS = ("Campaign", "Status", "Mailboxes", "Leads", "Progress")

    def __init__(self, parent: Any = None, with_lead_counts: bool = True) -> None:
        super().__init__(parent)
        self._campaigns_of_account: dict[int, set[int]] = {}
        self.load(with_lead_counts)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        column = index.column()
        if role == Role.ID:
            return r.id
        if role == Role.STATUS:
            return r.status
        if role == Role.PROGRESS:
            return r.progress
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
                return f"{r.connected} / {len(r.members)} connected"
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

    def load(self, with_lead_counts: bool = True) -> None:
        """All campaigns. Counting every lead is a scan of the leads table (200,000 rows take
        ~0.2 s): the window asks for it without counts and fills them in from a worker."""
        self.beginResetModel()
        campaigns = list(Campaign.select(Campaign.id, Campaign.name, Campaign.status,
                                         Campaign.pause_reason).order_by(Campaign.name).tuples())
        counts = lead_counts() if with_lead_counts else {}
        members = load_members()
        self._rows = [CampaignRow(cid, name, status, reason, members.get(cid, []),
                                  counts.get(cid, Counter()))
                      for cid, name, status, reason in campaigns]
        self._reindex()
        self.endResetModel()

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

    def _changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))

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
                                lead_counts([campaign_id]).get(campaign_id, Counter()))
            position = len(self._rows)
            self.beginInsertRows(ROOT, position, position)
            self._rows.append(fresh)
            self._reindex()
            self.endInsertRows()
            return
        current = self._rows[row]
        current.name, current.status = campaign.name, campaign.status
        current.pause_reason, current.members = campaign.pause_reason, members
        if leads:
            current.leads = lead_counts([campaign_id]).get(campaign_id, Counter())
            current.leads_stamp += 1
        self._reindex()
        self._changed(row)

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
            self._changed(row)

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
                membership.update(campaigns)  # removed or disconnected: it left them
                continue
            for campaign_id in campaigns:
                for member in self._rows[self._row_of[campaign_id]].members:
                    if member.account_id == account_id:
                        member.status, member.reason = known
                touched.add(campaign_id)
        for campaign_id in sorted(membership):
            self.refresh_campaign(campaign_id, leads=False)
        for campaign_id in sorted(touched - membership):
            self._changed(self._row_of[campaign_id])

    def account_changed(self, account_id: int) -> None:
        account = Account.get_or_none(Account.id == account_id)
        self.accounts_changed([account_id], lambda _id: (account.status, account.reason)
                              if account is not None else None)


# --- leads --------------------------------------------------------------------------------------

@dataclass
class LeadRow:
    id: int
    email: str
    fields: dict[str, Any]
    mailbox_id: int | None
    cursor: int
    state: str
    messages_sent: int
    next_due_at: datetime | None


class LeadsModel(QAbstractTableModel):
    """The leads of one campaign, fetched a page at a time (ordered by id)."""

    EMAIL, NAME, MAILBOX, STEP, STATE, SENT, NEXT_DUE = range(7)
    HEADERS = ("Lead", "Name", "Mailbox", "Step", "State", "Sent", "Next email")
    PAGE = 500

    def __init__(self, campaign_id: int | None = None, clock: Clock | None = None,
                 mailbox_email: Callable[[int], str] | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self.clock = clock or SystemClock()
        self.campaign_id = campaign_id
        self.state_filter: tuple[str, ...] | None = None
        self._rows: list[LeadRow] = []
        self._total = 0
        self._steps = 0
        self._emails: dict[int, str] = {}
        self._mailbox_email = mailbox_email
        self.reload()

    # windowed loading
    def _query(self) -> Any:
        query = Lead.select(Lead.id, Lead.email, Lead.fields, Lead.mailbox, Lead.cursor,
                            Lead.state, Lead.messages_sent, Lead.next_due_at).where(
            Lead.campaign == self.campaign_id)
        if self.state_filter:
            query = query.where(Lead.state.in_(self.state_filter))
        return query

    def total(self) -> int:
        return self._total

    def set_campaign(self, campaign_id: int | None) -> None:
        self.campaign_id = campaign_id
        self.reload()

    def set_state_filter(self, states: tuple[str, ...] | None) -> None:
        self.state_filter = states
        self.reload()

    def reload(self) -> None:
        self.beginResetModel()
        self._rows = []
        if self.campaign_id is None:
            self._total = self._steps = 0
        else:
            self._total = int(self._query().count())
            self._steps = int(Step.select().where(Step.campaign == self.campaign_id).count())
            self._append_page()
        self.endResetModel()

    def _page(self, after_id: int, limit: int) -> list[LeadRow]:
        query = self._query().where(Lead.id > after_id).order_by(Lead.id).limit(limit)
        return [LeadRow(*values) for values in query.tuples()]

    def _append_page(self) -> int:
        after = self._rows[-1].id if self._rows else 0
        page = self._page(after, self.PAGE)
        self._rows.extend(page)
        return len(page)

    def canFetchMore(self, parent: Index = ROOT) -> bool:
        return not parent.isValid() and len(self._rows) < self._total

    def fetchMore(self, parent: Index = ROOT) -> None:
        if parent.isValid():
            return
        after = self._rows[-1].id if self._rows else 0
        page = self._page(after, self.PAGE)
        if not page:
            self._total = len(self._rows)
            return
        start = len(self._rows)
        self.beginInsertRows(ROOT, start, start + len(page) - 1)
        self._rows.extend(page)
        self.endInsertRows()

    def refresh_loaded(self) -> None:
        """Leads changed (halted, resumed, re-allocated): re-read the rows already loaded and
        update them in place, so the rep's scroll position stays."""
        if self.campaign_id is None:
            return
        if self.state_filter:
            self.reload()  # rows may have left the filter
            return
        self._total = int(self._query().count())
        if not self._rows:
            self.reload()
            return
        last = self._rows[-1].id
        fresh = {r.id: r for r in self._page(0, len(self._rows) + self.PAGE) if r.id <= last}
        self._rows = [fresh.get(r.id, r) for r in self._rows]
        self.dataChanged.emit(self.index(0, 0),
                              self.index(len(self._rows) - 1, self.columnCount() - 1))

    # reading
    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def row(self, row: int) -> LeadRow:
        return self._rows[row]

    def _mailbox(self, account_id: int | None) -> str:
        if account_id is None:
            return "—"
        if account_id not in self._emails:
            if self._mailbox_email is not None:
                self._emails[account_id] = self._mailbox_email(account_id)
            else:
                account = Account.get_or_none(Account.id == account_id)
                self._emails[account_id] = account.email if account else "?"
        return self._emails[account_id]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        column = index.column()
        if role == Role.ID:
            return r.id
        if role == Role.STATUS:
            return r.state
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.EMAIL:
                return r.email
            if column == self.NAME:
                fields = r.fields or {}
                name = " ".join(str(fields[k]) for k in ("first_name", "last_name")
                                if fields.get(k))
                company = fields.get("company")
                return f"{name} ({company})" if name and company else (name or company or "")
            if column == self.MAILBOX:
                return self._mailbox(r.mailbox_id)
            if column == self.STEP:
                shown = min(r.cursor + 1, self._steps) if self._steps else r.cursor + 1
                return f"{shown} / {self._steps}" if self._steps else str(shown)
            if column == self.STATE:
                return LEAD_STATE_LABELS.get(r.state, r.state)
            if column == self.SENT:
                return str(r.messages_sent)
            if column == self.NEXT_DUE:
                if r.state not in ("pending", "active") or r.next_due_at is None:
                    return "—"
                return fmt.local_time(r.next_due_at)[:16]
        if role == Qt.ItemDataRole.ForegroundRole and column == self.STATE:
            color: QColor | None = lead_state_color(r.state)
            return color
        if role == Qt.ItemDataRole.ToolTipRole and column == self.STATE and r.state == "halted":
            return ("Its mailbox cannot send. The lead keeps its place in the sequence and "
                    "continues after Reconnect or Re-allocate.")
        return None
