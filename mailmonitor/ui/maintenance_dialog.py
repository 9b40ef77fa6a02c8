"""Maintenance windows in the window (``services.monitoring.maintenance``): no alert and no
message for the mailboxes they cover, hatched on the timeline, left out of uptime.

- `MuteDialog`: the alerts list's Mute… — the card's mailboxes for 1 hour, until tomorrow
  09:00 or until a time of the rep's choice, with a note.
- `MaintenanceDialog`: Maintenance… (alerts list, a mailbox's menu) — the current and planned
  windows, each with End now, and a new one for a mailbox, a domain or everything.

Both are opened with `open()`; after a change the alerts are reconciled at once
(`UiContext.attention_changed`), so the list greys or un-greys the cards right away."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QDateTime, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDateTimeEdit,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.models import Account
from mailmonitor.services.alerts.cards import clock_words, mute_choices
from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.monitoring import maintenance
from mailmonitor.ui import format as fmt
from mailmonitor.ui import keyboard
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.widgets import ButtonRow, label, muted

CUSTOM = "Until…"
NOTE_HINT = "What is going on (optional), e.g. “provider maintenance, ticket 4711”"


def _utc(moment: QDateTime) -> datetime:
    return datetime.fromtimestamp(moment.toSecsSinceEpoch(), UTC).replace(tzinfo=None)


def _local(moment: datetime) -> QDateTime:
    return QDateTime.fromSecsSinceEpoch(int(moment.replace(tzinfo=UTC).timestamp()))


class UntilPicker(QWidget):
    """For 1 hour / Until tomorrow 09:00 / Until… a date and time on the rep's clock."""

    def __init__(self, now: datetime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choice = QComboBox()
        self.choice.setObjectName("muteUntilChoice")
        for choice in mute_choices(now):
            self.choice.addItem(choice.label, choice.until)
        self.choice.addItem(CUSTOM, None)
        self.custom = QDateTimeEdit(_local(now + timedelta(hours=2)))
        self.custom.setObjectName("muteUntil")
        self.custom.setCalendarPopup(True)
        self.custom.setDisplayFormat("ddd dd MMM yyyy HH:mm")
        self.custom.setMinimumDateTime(_local(now))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.choice)
        layout.addWidget(self.custom, 1)
        self.choice.currentIndexChanged.connect(lambda _i: self._sync())
        self._sync()

    def _sync(self) -> None:
        self.custom.setEnabled(self.choice.currentData() is None)

    def until(self) -> datetime:
        chosen = self.choice.currentData()
        return chosen if isinstance(chosen, datetime) else _utc(self.custom.dateTime())


class MuteDialog(keyboard.Dialog):
    """Signals:
        muted(): the window was stored (the alerts were reconciled).
    """

    muted = Signal()

    def __init__(self, ctx: UiContext, emails: Sequence[str], parent: QWidget | None = None,
                 also: Sequence[str] = ()) -> None:
        """`also`: the titles of other conditions that only name these mailboxes (muted
        with them)."""
        super().__init__(parent)
        self.ctx = ctx
        self.emails = list(emails)
        self.setObjectName("muteDialog")
        self.setWindowTitle("Mute alerts")
        self.setMinimumWidth(520)
        who = ", ".join(self.emails)
        intro = label(f"No alert and no message about <b>{fmt.esc(who)}</b> until the time "
                      "below. The alerts list keeps them, greyed; uptime leaves the time out.",
                      role="intro")
        intro.setTextFormat(Qt.TextFormat.RichText)
        self.also = muted("Also muted, about the same mailboxes: " + "; ".join(also))
        self.also.setVisible(bool(also))
        now = ctx.clock.now()
        self.until = UntilPicker(now)
        self.note = QLineEdit()
        self.note.setObjectName("muteNote")
        self.note.setPlaceholderText(NOTE_HINT)
        self.note.setMaxLength(maintenance.MAX_NOTE)
        self.error = label(role="error")
        self.error.hide()
        form = QFormLayout()
        form.addRow("Mute", self.until)
        form.addRow("Note", self.note)
        buttons = ButtonRow()
        buttons.addStretch(1)
        cancel = buttons.button("Cancel")
        self.mute_button = buttons.button("Mute", primary=True)
        self.mute_button.setObjectName("muteConfirm")
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(intro)
        layout.addWidget(self.also)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        cancel.clicked.connect(self.reject)
        self.mute_button.clicked.connect(self.apply)
        keyboard.install(self)

    def apply(self) -> None:
        now = self.ctx.clock.now()
        try:
            maintenance.add_window(self.emails, None, False, self.until.until().isoformat(),
                                   now, note=self.note.text())
        except InvalidInput as exc:
            self.error.setText(str(exc).replace("--until", "The end").replace("--note",
                                                                              "The note"))
            self.error.show()
            return
        self.ctx.attention_changed()
        self.muted.emit()
        self.accept()


SCOPE_MAILBOX, SCOPE_DOMAIN, SCOPE_ALL = "mailbox", "domain", "all"


class MaintenanceDialog(keyboard.Dialog):
    """Signals:
        changed(): a window was added or ended (the alerts were reconciled).
    """

    changed = Signal()

    def __init__(self, ctx: UiContext, email: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("maintenanceDialog")
        self.setWindowTitle("Maintenance")
        self.setMinimumWidth(640)
        now = ctx.clock.now()

        current = QGroupBox("Current and planned windows")
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("maintenanceWindows")
        self.table.setHorizontalHeaderLabels(["Mutes", "From", "Until", "Note", ""])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        for column in (0, 1, 2, 4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setMaximumHeight(180)
        self.empty = muted("No maintenance window: every alert and message goes out.")
        current_layout = QVBoxLayout(current)
        current_layout.addWidget(self.table)
        current_layout.addWidget(self.empty)
        self.end_buttons: dict[int, QPushButton] = {}

        new = QGroupBox("Mute")
        self.scope = QButtonGroup(self)
        self.mailbox_radio = QRadioButton("Mailbox")
        self.domain_radio = QRadioButton("Domain")
        self.all_radio = QRadioButton("Every mailbox")
        for radio, scope in ((self.mailbox_radio, SCOPE_MAILBOX), (self.domain_radio,
                                                                    SCOPE_DOMAIN),
                             (self.all_radio, SCOPE_ALL)):
            radio.setObjectName(f"scope_{scope}")
            self.scope.addButton(radio)
        emails = [e for (e,) in Account.select(Account.email).where(
            Account.removed_at.is_null()).order_by(Account.email).tuples()]
        self.mailbox = QComboBox()
        self.mailbox.setObjectName("maintenanceMailbox")
        self.mailbox.addItems(emails)
        self.domain = QComboBox()
        self.domain.setObjectName("maintenanceDomain")
        self.domain.addItems(sorted({e.rpartition("@")[2].lower() for e in emails}))
        if email is not None and email in emails:
            self.mailbox.setCurrentText(email)
            self.domain.setCurrentText(email.rpartition("@")[2].lower())
        self.mailbox_radio.setChecked(True)
        self.until = UntilPicker(now)
        self.note = QLineEdit()
        self.note.setObjectName("maintenanceNote")
        self.note.setPlaceholderText(NOTE_HINT)
        self.note.setMaxLength(maintenance.MAX_NOTE)
        form = QFormLayout(new)
        mailbox_row = QHBoxLayout()
        mailbox_row.addWidget(self.mailbox_radio)
        mailbox_row.addWidget(self.mailbox, 1)
        domain_row = QHBoxLayout()
        domain_row.addWidget(self.domain_radio)
        domain_row.addWidget(self.domain, 1)
        form.addRow(mailbox_row)
        form.addRow(domain_row)
        form.addRow(self.all_radio)
        form.addRow("Until", self.until)
        form.addRow("Note", self.note)
        self.error = label(role="error")
        self.error.hide()

        buttons = ButtonRow()
        buttons.addStretch(1)
        close = buttons.button("Close")
        self.add_button = buttons.button("Mute", primary=True)
        self.add_button.setObjectName("addMaintenance")
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(current)
        layout.addWidget(new)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        close.clicked.connect(self.reject)
        self.add_button.clicked.connect(self.add)
        self.mailbox.currentIndexChanged.connect(lambda _i: self.mailbox_radio.setChecked(True))
        self.domain.currentIndexChanged.connect(lambda _i: self.domain_radio.setChecked(True))
        self.refresh()
        keyboard.install(self)

    def chosen_scope(self) -> str:
        if self.domain_radio.isChecked():
            return SCOPE_DOMAIN
        return SCOPE_ALL if self.all_radio.isChecked() else SCOPE_MAILBOX

    def refresh(self) -> None:
        now = self.ctx.clock.now()
        found = maintenance.windows(now)
        self.end_buttons.clear()
        self.table.setRowCount(len(found))
        for row, window in enumerate(found):
            cells = [window.what,
                     "now" if window.starts_at <= now else clock_words(window.starts_at, now),
                     clock_words(window.ends_at, now), window.note]
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
            end = QPushButton("End now" if window.starts_at <= now else "Cancel it")
            end.setObjectName(f"endMaintenance{window.id}")
            end.clicked.connect(lambda _c=False, w=window.id: self.end(w))
            self.table.setCellWidget(row, 4, end)
            self.end_buttons[window.id] = end
        self.table.setVisible(bool(found))
        self.empty.setVisible(not found)
        keyboard.no_auto_default(self)

    def add(self) -> None:
        now = self.ctx.clock.now()
        scope = self.chosen_scope()
        try:
            maintenance.add_window(
                [self.mailbox.currentText()] if scope == SCOPE_MAILBOX else [],
                self.domain.currentText() if scope == SCOPE_DOMAIN else None,
                scope == SCOPE_ALL, self.until.until().isoformat(), now, note=self.note.text())
        except InvalidInput as exc:
            self.error.setText(str(exc).replace("--until", "The end").replace(
                "--note", "The note").replace("--domain", "The domain"))
            self.error.show()
            return
        self.error.hide()
        self.note.clear()
        self.mark_clean()  # added: nothing left to lose on Esc
        self._changed()

    def end(self, window_id: int) -> None:
        # It may have ended meanwhile (another copy, or its time came).
        with contextlib.suppress(InvalidInput):
            maintenance.remove_window(window_id, self.ctx.clock.now())
        self._changed()

    def _changed(self) -> None:
        self.ctx.attention_changed()
        self.refresh()
        self.changed.emit()
