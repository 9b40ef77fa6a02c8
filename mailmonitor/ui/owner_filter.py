"""The Mine / Everyone choice of the Mailboxes and Campaigns tabs on a team database (issue 15).
"Mine" is the default; every member can see everything with one click. On a personal SQLite
database the box is hidden (everything is the rep's). The rule is services/team/members.py
(`shows`); each row carries its owner (Role.OWNER), so filtering asks the database nothing and
a row whose owner changes moves in or out of "Mine" as soon as it is refreshed."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QComboBox, QWidget

from mailmonitor.services.team import members
from mailmonitor.ui.models import StatusFilterProxy


def shows_mine(owner: str) -> bool:
    return members.shows(owner, members.OwnerFilter.MINE)


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
        self.currentIndexChanged.connect(lambda _i: self.refresh())
        self.refresh()

    @property
    def scope(self) -> str | None:
        """What the tab shows, in words: "Mine" or "Everyone" (None: no filter, a personal
        database)."""
        return self.currentText() if members.filter_available() else None

    def shows(self) -> Callable[[str], bool] | None:
        """Which owners the tab shows (None: every row)."""
        mine = members.filter_available() and self.currentData() == members.OwnerFilter.MINE
        return shows_mine if mine else None

    def refresh(self) -> None:
        self.proxy.set_owners(self.shows())
