"""Sorting and filtering of a table: by each column's natural value, by status and by text."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSortFilterProxyModel, Qt

from mailmonitor.ui.models.base import Index, Role


class StatusFilterProxy(QSortFilterProxyModel):
    """Sorting by each column's natural value (Role.SORT: plain numbers and strings that Qt
    compares itself, so a re-sort after a status change calls no Python), a filter by status,
    a filter by owner and a text filter."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(Role.SORT)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)
        self._statuses: frozenset[str] | None = None
        # The owner filter (ui/owner_filter.py): which Role.OWNER values pass (None: all).
        # The owner is part of each row, so an owner change re-filters that row, no query.
        self._owners: Callable[[str], bool] | None = None

    def set_statuses(self, statuses: frozenset[str] | None) -> None:
        self._change(lambda: setattr(self, "_statuses", statuses))

    def set_owners(self, shows: Callable[[str], bool] | None) -> None:
        """Only rows whose owner `shows` accepts (None: every row)."""
        if shows is not self._owners:
            self._change(lambda: setattr(self, "_owners", shows))

    def _change(self, apply: Callable[[], None]) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt ≥ 6.9; invalidateFilter is deprecated
            self.beginFilterChange()
            apply()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            apply()
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        if self._owners is not None and \
                not self._owners(model.index(source_row, 0, source_parent).data(Role.OWNER) or ""):
            return False
        if self._statuses is not None:
            status = model.index(source_row, 0, source_parent).data(Role.STATUS)
            if status not in self._statuses:
                return False
        return super().filterAcceptsRow(source_row, source_parent)
