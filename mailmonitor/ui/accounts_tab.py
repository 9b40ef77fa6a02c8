"""The Mailboxes tab: every mailbox with its status, filtered by status or text, sorted by any
column; double-click or Enter opens its detail, the context menu tests or reconnects it."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.services.common.reasons import Status
from mailmonitor.ui.models import AccountsModel, Role, StatusFilterProxy
from mailmonitor.ui.owner_filter import OwnerFilterBox
from mailmonitor.ui.tables import setup_table, show_owner_column

STATUS_FILTERS: list[tuple[str, frozenset[str] | None]] = [
    ("All mailboxes", None),
    ("Needs attention", frozenset({Status.DISCONNECTED.value})),
    ("Retrying", frozenset({Status.WARNING.value})),
    ("Connected", frozenset({Status.CONNECTED.value})),
    ("Checking", frozenset({Status.CHECKING.value})),
    ("Offline", frozenset({Status.OFFLINE.value})),
    ("Stopped", frozenset({Status.STOPPED.value})),
]


class AccountsTab(QWidget):
    """Signals:
        openRequested(int): the rep wants the detail of this account.
    """

    openRequested = Signal(int)

    def __init__(self, model: AccountsModel, menu_actions: Sequence[QAction] = (),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.menu_actions = list(menu_actions)
        self.proxy = StatusFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.status_filter = QComboBox()
        self.status_filter.setObjectName("statusFilter")
        for label, statuses in STATUS_FILTERS:
            self.status_filter.addItem(label, statuses)
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Filter by address, provider or owner (Ctrl+F)"
                                       if model.owners_shown else
                                       "Filter by address or provider (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show"))
        filters.addWidget(self.status_filter)
        self.owner_filter = OwnerFilterBox(self.proxy, "account")
        filters.addWidget(self.owner_filter)
        filters.addWidget(self.search, 1)
        self.view = QTableView()
        self.view.setObjectName("accountsTable")
        setup_table(self.view, self.proxy)
        header = self.view.horizontalHeader()
        header.setStretchLastSection(False)
        header.resizeSection(AccountsModel.STATUS, 140)
        header.setSectionResizeMode(AccountsModel.ADDRESS, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(AccountsModel.PROVIDER, 200)
        header.resizeSection(AccountsModel.REASON, 220)
        header.resizeSection(AccountsModel.CHECKED, 120)
        header.resizeSection(AccountsModel.LATENCY, 90)
        show_owner_column(self.view, AccountsModel.OWNER, AccountsModel.ADDRESS,
                          model.owners_shown)
        self.view.doubleClicked.connect(lambda _i: self._open_selected())
        self.view.activated.connect(lambda _i: self._open_selected())
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(filters)
        layout.addWidget(self.view, 1)
        self.status_filter.currentIndexChanged.connect(
            lambda _i: self.proxy.set_statuses(self.status_filter.currentData()))
        self.search.textChanged.connect(self.proxy.setFilterFixedString)

    def selected_id(self) -> int | None:
        index = self.view.currentIndex()
        return int(index.data(Role.ID)) if index.isValid() else None

    def select(self, account_id: int) -> None:
        index = self.proxy.mapFromSource(self.model.index_of(account_id))
        if index.isValid():
            self.view.setCurrentIndex(index)

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _open_selected(self) -> None:
        account_id = self.selected_id()
        if account_id is not None:
            self.openRequested.emit(account_id)

    def _menu(self, pos: QPoint) -> None:
        if self.selected_id() is None or not self.menu_actions:
            return
        menu = QMenu(self)
        for action in self.menu_actions:
            menu.addAction(action)
        menu.popup(self.view.viewport().mapToGlobal(pos))
