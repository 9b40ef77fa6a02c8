"""The mailboxes table: one row per mailbox (removed ones are hidden), refreshed one row at a
time as statuses change, so a burst of changes keeps selections, sorting and scroll positions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from mailmonitor.clock import Clock, SystemClock
from mailmonitor.models import Account
from mailmonitor.services.common.reasons import REASONS, Status, label_for
from mailmonitor.services.common.vocabulary import WHY_STOPPED, reason_words
from mailmonitor.services.monitoring.sending_limits import resume_words
from mailmonitor.services.team.leases import serving_texts
from mailmonitor.services.team.members import is_team_database
from mailmonitor.ui import format as fmt
from mailmonitor.ui.icons import status_icon
from mailmonitor.ui.models.base import ROOT, Index, Role, RowsModel
from mailmonitor.ui.models.owner_cell import owner_cell
from mailmonitor.ui.palette import look, status_color


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
        text = f"<b>Stopped</b><br>{WHY_STOPPED}: nothing is checked or sent."
    else:
        text = f"<b>{status}</b>"
    if detail and info is not None:
        text += f"<br><br>Server: <tt>{fmt.esc(detail[:300])}</tt>"
    return text


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
    send_limit_until: datetime | None = None  # "Sending limit reached — resumes at HH:MM"
    owner: str = ""  # the team member who owns it (team database: the Owner column)
    checking: bool = False
    served: str | None = None  # team database: "served by MACHINE" or that no copy can send
    # What the view asked for already (the view asks ~10 roles per cell on every paint).
    cache: dict[tuple[int, int], Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, a: Account) -> AccountRow:
        return cls(a.id, a.email, a.name, a.kind, a.imap_host, a.status, a.reason,
                   a.detail or "", a.checked_at, a.last_latency_ms, a.send_limit_until,
                   a.owner or "")

    @property
    def shown_status(self) -> str:
        return Status.CHECKING.value if self.checking else self.status


ACCOUNT_FIELDS = (Account.id, Account.email, Account.name, Account.kind, Account.imap_host,
                  Account.status, Account.reason, Account.detail, Account.checked_at,
                  Account.last_latency_ms, Account.send_limit_until, Account.owner)


def note_serving(rows: list[AccountRow], now: datetime) -> None:
    """Team database: which running copy serves each mailbox (services/team/leases.py)."""
    texts = serving_texts([r.id for r in rows], now)
    for r in rows:
        r.served = texts.get(r.id)


# Sorting by status puts what needs the rep first.
SORT_RANK = {Status.DISCONNECTED.value: 0, Status.WARNING.value: 1, Status.OFFLINE.value: 2,
             Status.CHECKING.value: 3, Status.STOPPED.value: 4, Status.CONNECTED.value: 5}


class AccountsModel(RowsModel[AccountRow]):
    """One row per mailbox (removed ones are hidden). The Owner column (last, so the other
    columns keep their numbers) says something only on a team database (`owners_shown`); on a
    personal one everything is the rep's and the tab hides it.

    Signals:
        countsChanged(): the number of mailboxes per shown status changed, or a mailbox's owner
            did (what "Mine" counts).
    """

    STATUS, ADDRESS, PROVIDER, REASON, CHECKED, LATENCY, OWNER = range(7)
    HEADERS = ("Status", "Mailbox", "Provider", "Reason", "Last checked", "Latency", "Owner")

    countsChanged = Signal()

    def __init__(self, clock: Clock | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.clock = clock or SystemClock()
        self.counts: Counter[str] = Counter()
        self.owners_shown = is_team_database()
        self.load()

    # reading

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and section == self.LATENCY
                and role == Qt.ItemDataRole.TextAlignmentRole):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return super().headerData(section, orientation, role)

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
        if role == Role.OWNER:
            return r.owner
        if column == self.OWNER:
            return self._owner_data(r, role)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column in (self.STATUS, self.REASON):
                tip = _status_tooltip(status, r.reason, r.detail)
                return tip + (f"<br><br>{fmt.esc(r.served.capitalize())}" if r.served else "")
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
                if r.reason not in REASONS and r.served and not r.served.startswith("served"):
                    return r.served.capitalize()  # no running copy can send for it
                if r.reason == "sending_limit" and r.send_limit_until is not None:
                    return resume_words(r.send_limit_until)
                return reason_words(r.status, r.reason)  # a stopped one says why
            if role == Role.SORT:
                return REASONS[r.reason].label if r.reason in REASONS else ""
            if role == Qt.ItemDataRole.ForegroundRole and (r.reason
                                                           or r.status == Status.STOPPED):
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

    def _owner_data(self, r: AccountRow, role: int) -> Any:
        if not self.owners_shown:  # a personal database: nothing to show (nor to search)
            return None
        return owner_cell(r.owner, r.email, role)

    def counts_for(self, shows: Callable[[str], bool] | None) -> Counter[str]:
        """Mailboxes per shown status among the rows whose owner `shows` accepts (None: all,
        the running `counts`). No query: the owner is part of each row."""
        if shows is None:
            return Counter(self.counts)
        return Counter(r.shown_status for r in self._rows if shows(r.owner))

    # loading and refreshing
    def load(self) -> None:
        """Everything, once (start-up). Later changes go through `refresh_account`."""
        self.beginResetModel()
        query = Account.select(*ACCOUNT_FIELDS).where(Account.removed_at.is_null())
        rows = [AccountRow(*values) for values in query.tuples()]
        note_serving(rows, self.clock.now())
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
            fresh |= {values[0]: AccountRow(*values) for values in query.tuples()}
        note_serving(list(fresh.values()), self.clock.now())
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
        self._row_changed(row)
        if old.shown_status != fresh.shown_status:
            self._count(old.shown_status, -1, emit=False)
            self._count(fresh.shown_status, +1)
        elif old.owner != fresh.owner:
            self.countsChanged.emit()

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
