"""Settings → Team's members (issue 15): this copy's own member name, changed with "Change
name…" (what the rep owns follows it: `members.rename_this_member`), and on a team database the
list of members with who is an admin (an admin ticks or unticks it: `members.set_admin`). Both
writes run in a worker thread; a refusal (a taken name, the last admin) is said in one line and
changes nothing."""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.models import this_member
from mailmonitor.models.database import first_line
from mailmonitor.models.team import MAX_MEMBER_NAME
from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.team import local, members
from mailmonitor.ui import keyboard
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.format import count, esc
from mailmonitor.ui.widgets import ButtonRow, label, muted, repolish

NAME, ADMIN, MAILBOXES, CAMPAIGNS = range(4)
VISIBLE_ROWS = 6


class RenameDialog(keyboard.Dialog):
    """Change this copy's member name. Enter renames, Esc cancels.

    Signals:
        renamed(object): the rename is stored (a `members.Renamed`).
    """

    renamed = Signal(object)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.busy = False
        self.setObjectName("renameMemberDialog")
        self.setWindowTitle("Change your member name")
        self.setMinimumWidth(460)
        current = this_member()
        owned = next((m for m in members.members() if m.name == current), None)
        self.name = QLineEdit(current)
        self.name.setObjectName("newMemberName")
        self.name.setAccessibleName("Your member name")
        self.name.setMaxLength(MAX_MEMBER_NAME)
        self.name.selectAll()
        what = (f"The {count(owned.mailboxes, 'mailbox', 'mailboxes')} and "
                f"{count(owned.campaigns, 'campaign')} you own move" if owned else
                "What you own moves")
        note = muted(f"{what} to the new name, and so do your alert channels. This computer's "
                     "mailmonitor uses the new name from now on; on your other computers, "
                     "change it there too.")
        self.error = label("", "error")
        self.error.hide()
        buttons = ButtonRow()
        buttons.addStretch(1)
        self.cancel_button = buttons.button("Cancel")
        self.rename_button = buttons.button("Rename", primary=True)
        self.rename_button.setObjectName("rename")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Your name in the team"))
        layout.addWidget(self.name)
        layout.addWidget(note)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.cancel_button.clicked.connect(self.reject)
        self.rename_button.clicked.connect(lambda _c=False: self.rename())
        keyboard.install(self)
        self.name.setFocus()

    def rename(self) -> Any:
        if self.busy:
            return None
        self.busy = True
        self.rename_button.setEnabled(False)
        self.show_error("")
        return self.ctx.spawn(self._rename(self.name.text()), "rename this member")

    async def _rename(self, new: str) -> None:
        try:
            renamed = await self.ctx.blocking(members.rename_this_member, new)
        except Exception as exc:  # refused (InvalidInput), or the database went away
            if shiboken6.isValid(self):
                self.busy = False
                self.rename_button.setEnabled(True)
                self.show_error(str(exc) if isinstance(exc, InvalidInput) else
                                f"Not renamed: {first_line(exc)}")
                self.name.setFocus()
                self.name.selectAll()
            return
        if shiboken6.isValid(self):  # (its parent may have closed meanwhile)
            self.busy = False
            self.renamed.emit(renamed)
            self.accept()

    def show_error(self, text: str) -> None:
        self.error.setText(esc(text))
        self.error.setVisible(bool(text))

    def reject(self) -> None:
        if self.busy:  # a rename is being stored: it finishes in a moment
            return
        super().reject()


class MembersSection(QWidget):
    """The rep's member name with "Change name…", and on a team database the members table."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.team = members.is_team_database()
        self.rename_dialog: RenameDialog | None = None
        self.result_text = ""
        self._filling = False
        self.me = QLabel()
        self.me.setObjectName("memberName")
        self.rename_button = QPushButton("Change name…")
        self.rename_button.setObjectName("renameMe")
        self.rename_button.setAutoDefault(False)
        self.rename_button.clicked.connect(lambda _c=False: self.open_rename())
        if members.name_set_outside():
            self.rename_button.setEnabled(False)
            self.rename_button.setToolTip(f"{local.MEMBER_ENV} sets this computer's member name: "
                                          "change it there")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.me, 1)
        row.addWidget(self.rename_button)
        self.name_row = QWidget()
        self.name_row.setLayout(row)

        self.table = QTableWidget(0, 4)
        self.table.setObjectName("teamMembers")
        self.table.setAccessibleName("Team members")
        self.table.setHorizontalHeaderLabels(["Member", "Admin", "Mailboxes", "Campaigns"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setTabKeyNavigation(False)  # Tab moves on; arrows and Space work inside
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        for column, width in ((ADMIN, 70), (MAILBOXES, 90), (CAMPAIGNS, 90)):
            header.resizeSection(column, width)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for column in (MAILBOXES, CAMPAIGNS):
            item = self.table.horizontalHeaderItem(column)
            if item is not None:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.table.itemChanged.connect(self._item_changed)
        self.admin_note = muted()
        self.result = QLabel()
        self.result.setObjectName("membersResult")
        self.result.setWordWrap(True)
        self.result.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.heading = label("Members", "subheading")
        for widget in (self.heading, self.table, self.admin_note):
            layout.addWidget(widget)
            widget.setVisible(self.team)
        layout.addWidget(self.result)
        self.setVisible(self.team)  # a personal database: only a rename's result shows here
        self.refresh()

    # --- showing ---
    def refresh(self) -> None:
        name = this_member()
        where = ("set by " + local.MEMBER_ENV) if members.name_set_outside() else \
            "what you add is yours"
        self.me.setText(f"<b>{esc(name)}</b> <span style='color: palette(mid)'>"
                        f"({where})</span>")
        if self.team:
            self._fill(name)

    def _fill(self, me: str) -> None:
        rows = members.members()
        admin = members.is_admin()
        current = self.table.currentIndex()
        self._filling = True
        try:
            self.table.setRowCount(len(rows))
            for i, m in enumerate(rows):
                who = QTableWidgetItem(m.name + (" (you)" if m.name == me else ""))
                who.setData(Qt.ItemDataRole.UserRole, m.name)
                tick = QTableWidgetItem()
                flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                if admin:
                    flags |= Qt.ItemFlag.ItemIsUserCheckable
                tick.setFlags(flags)
                tick.setCheckState(Qt.CheckState.Checked if m.admin else Qt.CheckState.Unchecked)
                tick.setData(Qt.ItemDataRole.AccessibleTextRole,
                             f"{m.name}: {'admin' if m.admin else 'not an admin'}")
                cells = [who, tick, QTableWidgetItem(f"{m.mailboxes:,}"),
                         QTableWidgetItem(f"{m.campaigns:,}")]
                for column, item in enumerate(cells):
                    if column in (MAILBOXES, CAMPAIGNS):
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                              | Qt.AlignmentFlag.AlignVCenter)
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    self.table.setItem(i, column, item)
        finally:
            self._filling = False
        # Space ticks "Admin" on the current row: the current cell starts in that column
        # (nothing is selected until the rep moves there).
        row = current.row() if current.isValid() and current.row() < len(rows) else 0
        if rows:
            self.table.selectionModel().setCurrentIndex(
                self.table.model().index(row, ADMIN),
                QItemSelectionModel.SelectionFlag.NoUpdate if not current.isValid() else
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)
        shown = min(max(len(rows), 1), VISIBLE_ROWS)
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height()
                                  + shown * 26 + 2 * self.table.frameWidth() + 2)
        self.admin_note.setText(
            "Admins hear of every alert; the others of their own mailboxes and campaigns. "
            + ("Tick Admin (Space) to make a member one." if admin else
               "Only an admin can change who is one."))

    def show_result(self, text: str, ok: bool) -> None:
        self.result_text = text
        self.result.setText(esc(("✔ " if ok else "✖ ") + text))
        self.result.setProperty("state", "ok" if ok else "error")
        repolish(self.result)
        self.result.show()
        self.show()

    # --- renaming yourself ---
    def open_rename(self) -> RenameDialog:
        dialog = RenameDialog(self.ctx, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.renamed.connect(self._renamed)
        self.rename_dialog = dialog
        dialog.open()
        return dialog

    def _renamed(self, renamed: members.Renamed) -> None:
        self.refresh()
        self.show_result(renamed.text, ok=True)
        self.rename_button.setFocus()

    # --- admins ---
    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != ADMIN:
            return
        who = self.table.item(item.row(), NAME)
        if who is None:
            return
        name = str(who.data(Qt.ItemDataRole.UserRole))
        self.ctx.spawn(self._set_admin(name, item.checkState() == Qt.CheckState.Checked),
                       "set admin")

    async def _set_admin(self, name: str, admin: bool) -> None:
        try:
            await self.ctx.blocking(members.set_admin, name, admin)
        except Exception as exc:  # refused (InvalidInput), or the database went away
            if not shiboken6.isValid(self):
                return
            why = str(exc) if isinstance(exc, InvalidInput) else first_line(exc)
            self.show_result(f"{why} (nothing was changed).", ok=False)
        else:
            if not shiboken6.isValid(self):
                return
            self.show_result(f"{name} is " + ("an admin now." if admin else
                                              "no longer an admin."), ok=True)
        self._fill(this_member())  # as stored (a refusal unticks what was ticked)
