"""What every table model of the window shares: the custom roles and a table of rows kept in a
list, found by their record id."""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Generic, Protocol, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()


class Role(IntEnum):
    ID = Qt.ItemDataRole.UserRole + 1
    STATUS = Qt.ItemDataRole.UserRole + 2  # the status shown (checking while a check runs)
    REASON = Qt.ItemDataRole.UserRole + 3
    SORT = Qt.ItemDataRole.UserRole + 4  # a value that sorts naturally
    PROGRESS = Qt.ItemDataRole.UserRole + 5  # 0.0 – 1.0
    OWNER = Qt.ItemDataRole.UserRole + 6  # the team member who owns the row ("" for nobody)


class Row(Protocol):
    id: int


RowT = TypeVar("RowT", bound=Row)


class RowsModel(QAbstractTableModel, Generic[RowT]):
    """A table of rows kept in a list: the part every table shares. Models whose rows change
    one at a time keep `_row_of` (record id → position) for `row_for` and `index_of`; the
    windowed leads model does not (its rows are only ever read by position)."""

    HEADERS: tuple[str, ...] = ()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[RowT] = []
        self._row_of: dict[int, int] = {}

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        if role == Role.ID:
            return r.id
        return self.cell(r, index.column(), role)

    def cell(self, r: RowT, column: int, role: int) -> Any:
        """What a row shows in a column for a role (None: nothing)."""
        return None

    def row(self, row: int) -> RowT:
        return self._rows[row]

    def row_for(self, record_id: int) -> RowT | None:
        index = self._row_of.get(record_id)
        return None if index is None else self._rows[index]

    def index_of(self, record_id: int, column: int = 0) -> QModelIndex:
        row = self._row_of.get(record_id)
        return QModelIndex() if row is None else self.index(row, column)

    def _row_changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))
