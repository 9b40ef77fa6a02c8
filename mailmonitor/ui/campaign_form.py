"""What the New campaign and Edit campaign dialogs share: the checklist of mailboxes a campaign
sends from, and the two-column form (name, mailboxes, sending window and one more box on the
left; the steps on the right; the error banner and the buttons below)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.models import Account
from mailmonitor.services.common.reasons import label_for
from mailmonitor.ui.icons import status_icon


class MailboxChecklist(QListWidget):
    """Mailboxes with their status words, each ticked or not; the rep ticks, nothing is
    selected. An item's data (UserRole) is the mailbox's email."""

    def __init__(self, object_name: str, minimum_height: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setMinimumHeight(minimum_height)

    def add_mailbox(self, account: Account, ticked: bool, usable: bool = True,
                    tooltip: str = "") -> QListWidgetItem:
        """One row; an unusable mailbox shows but cannot be ticked or unticked."""
        item = QListWidgetItem(status_icon(account.status),
                               f"{account.email} — {label_for(account.status, account.reason)}")
        item.setData(Qt.ItemDataRole.UserRole, account.email)
        flags = Qt.ItemFlag.ItemIsUserCheckable
        if usable:
            flags |= Qt.ItemFlag.ItemIsEnabled
        item.setFlags(flags)
        item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
        if tooltip:
            item.setToolTip(tooltip)
        self.addItem(item)
        return item

    def set_mailboxes(self, emails: list[str]) -> None:
        for row in range(self.count()):
            item = self.item(row)
            item.setCheckState(Qt.CheckState.Checked
                               if item.data(Qt.ItemDataRole.UserRole) in emails
                               else Qt.CheckState.Unchecked)

    def selected_mailboxes(self) -> list[str]:
        items = (self.item(row) for row in range(self.count()))
        return [str(item.data(Qt.ItemDataRole.UserRole)) for item in items
                if item.checkState() == Qt.CheckState.Checked]

    def focus_first_unticked(self) -> None:
        """Focus on the list, at the first mailbox that can still be ticked."""
        self.setFocus()
        for row in range(self.count()):
            item = self.item(row)
            if item.checkState() != Qt.CheckState.Checked and \
                    item.flags() & Qt.ItemFlag.ItemIsEnabled:
                self.setCurrentRow(row)
                break


def lay_out_campaign_form(dialog: QDialog, *, name: QLineEdit, mailboxes: Sequence[QWidget],
                          window_editor: QWidget, extra: QGroupBox, steps: Sequence[QWidget],
                          error: QWidget, buttons: QLayout) -> None:
    """The dialog's layout. `mailboxes`: the checklist (it takes the room) and its notes, in
    "Send from"; `extra`: the box under "Sending window"; `steps`: the "Steps" box's widgets."""
    basics = QFormLayout()
    basics.setContentsMargins(0, 0, 0, 0)
    basics.addRow("Name", name)
    mailboxes_box = QGroupBox("Send from")
    mailboxes_layout = QVBoxLayout(mailboxes_box)
    for index, widget in enumerate(mailboxes):
        mailboxes_layout.addWidget(widget, 1 if index == 0 else 0)
    window_box = QGroupBox("Sending window")
    window_layout = QVBoxLayout(window_box)
    window_layout.addWidget(window_editor)
    left = QVBoxLayout()
    left.setSpacing(10)
    left.addLayout(basics)
    left.addWidget(mailboxes_box, 1)
    left.addWidget(window_box)
    left.addWidget(extra)
    steps_box = QGroupBox("Steps")
    steps_layout = QVBoxLayout(steps_box)
    for widget in steps:
        steps_layout.addWidget(widget)
    columns = QHBoxLayout()
    columns.setSpacing(12)
    columns.addLayout(left, 5)
    columns.addWidget(steps_box, 6)

    layout = QVBoxLayout(dialog)
    layout.setSpacing(10)
    layout.addLayout(columns, 1)
    layout.addWidget(error)
    layout.addLayout(buttons)
