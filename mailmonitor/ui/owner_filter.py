"""The Mine / Everyone choice of the Mailboxes and Campaigns tabs on a team database (issue 15).
"Mine" is the default; every member can see everything with one click. On a personal SQLite
database the box is hidden (everything is the rep's). The rule is services/team/members.py."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QTimer
from PySide6.QtWidgets import QComboBox, QWidget

from mailmonitor.services.team import members
from mailmonitor.ui.models import StatusFilterProxy

REFRESH_MS = 150  # changes to the rows (owner edits, new rows) are folded into one query


class OwnerFilterBox(QComboBox):
    def __init__(self, proxy: StatusFilterProxy, kind: str, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.setObjectName("ownerFilter")
        self.setAccessibleName("Whose " + ("mailboxes" if kind == "account" else "campaigns"))
        self.proxy, self.kind = proxy, kind
        self.addItem("Mine", members.OwnerFilter.MINE)
        self.addItem("Everyone", members.OwnerFilter.EVERYONE)
        self.setCurrentIndex(self.findData(members.default_filter()))
        self.setVisible(members.filter_available())
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.currentIndexChanged.connect(lambda _i: self.refresh())
        source = proxy.sourceModel()
        if isinstance(source, QAbstractItemModel):
            for signal in (source.modelReset, source.rowsInserted, source.dataChanged):
                signal.connect(lambda *_a: self._timer.start())
        self.refresh()

    def refresh(self) -> None:
        self.proxy.set_ids(members.owned_ids(self.kind, self.currentData()))
