"""How the window's tables look and behave: one setup for the mailboxes and campaigns tables."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QSize, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView


def setup_table(view: QTableView, model: QAbstractItemModel) -> None:
    view.setModel(model)
    # The models load rows in a sensible order (what needs the rep first; campaigns by
    # name), so the proxy starts unsorted and rows stay where they are as statuses change
    # (no jumping rows, no full relayout per change). Clicking a header sorts.
    view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setAlternatingRowColors(True)
    view.setTabKeyNavigation(False)  # Tab moves on to the next control, not the next cell
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.setIconSize(QSize(16, 16))
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(26)
    header = view.horizontalHeader()
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


OWNER_WIDTH = 150


def show_owner_column(view: QTableView, owner: int, after: int, shown: bool,
                      width: int = OWNER_WIDTH) -> None:
    """The Owner column (the model's last, so other column numbers stay) is drawn right after
    `after` on a team database and hidden on a personal one, where everything is the rep's."""
    header = view.horizontalHeader()
    header.moveSection(header.visualIndex(owner), header.visualIndex(after) + 1)
    header.resizeSection(owner, width)
    view.setColumnHidden(owner, not shown)
