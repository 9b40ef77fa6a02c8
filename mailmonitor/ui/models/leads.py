"""The leads of one campaign, windowed (`canFetchMore`/`fetchMore`): a campaign with 200,000
leads loads one page at a time, and a change re-reads only the rows already loaded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor

from mailmonitor.clock import Clock, SystemClock
from mailmonitor.models import Account, Lead, Step
from mailmonitor.services.common.vocabulary import step_words
from mailmonitor.ui import format as fmt
from mailmonitor.ui.models.base import ROOT, Index, Role, RowsModel
from mailmonitor.ui.palette import LEAD_STATE_LABELS, lead_state_color


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


DUE_NOW = "Due now · waits its turn"


class LeadsModel(RowsModel[LeadRow]):
    """The leads of one campaign, fetched a page at a time (ordered by id)."""

    EMAIL, NAME, MAILBOX, STEP, STATE, SENT, NEXT_DUE = range(7)
    HEADERS = ("Lead", "Name", "Mailbox", "Sequence", "State", "Sent", "Next email")
    PAGE = 500

    def __init__(self, campaign_id: int | None = None, clock: Clock | None = None,
                 mailbox_email: Callable[[int], str] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.clock = clock or SystemClock()
        self.campaign_id = campaign_id
        self.state_filter: tuple[str, ...] | None = None
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

    def cell(self, r: LeadRow, column: int, role: int) -> Any:
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
                return step_words(r.cursor, self._steps)
            if column == self.STATE:
                return LEAD_STATE_LABELS.get(r.state, r.state)
            if column == self.SENT:
                return str(r.messages_sent)
            if column == self.NEXT_DUE:
                if r.state not in ("pending", "active") or r.next_due_at is None:
                    return "—"
                if r.next_due_at <= self.clock.now():  # a past time would read as a send
                    return DUE_NOW
                return fmt.local_time(r.next_due_at)[:16]
        if role == Qt.ItemDataRole.ForegroundRole and column == self.STATE:
            color: QColor | None = lead_state_color(r.state)
            return color
        if role == Qt.ItemDataRole.ToolTipRole and column == self.NEXT_DUE \
                and r.state in ("pending", "active") and r.next_due_at is not None \
                and r.next_due_at <= self.clock.now():
            return (f"Its email was due at {fmt.local_time(r.next_due_at)[:16]}. It goes out "
                    "when its turn comes: the mailbox keeps its sending speed and daily limit "
                    "and the campaign its sending window.")
        if role == Qt.ItemDataRole.ToolTipRole and column == self.STATE and r.state == "halted":
            return ("Its mailbox cannot send. The lead keeps its place in the sequence and "
                    "continues after Reconnect or Re-allocate.")
        return None
