"""The Campaigns tab: every campaign with its mailboxes' health, lead counts and progress; the
selected one shows below (`CampaignView`: its banner, actions and leads)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.ui.campaign_view import CampaignView
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.icons import action_icon
from mailmonitor.ui.models import CampaignsModel, Role, StatusFilterProxy
from mailmonitor.ui.owner_filter import OwnerFilterBox
from mailmonitor.ui.tables import setup_table, show_owner_column
from mailmonitor.ui.widgets import ProgressDelegate


class CampaignsTab(QWidget):
    """Signals:
        newCampaignRequested(): the rep pressed “New campaign…”.
        reconnectRequested(int, object): reconnect this account, for this campaign (an id, or
            None when none is shown).
        actionRequested(object, str, object): another action of a condition's banner (the
            card, the action, its target id).
    """

    newCampaignRequested = Signal()
    reconnectRequested = Signal(int, object)
    actionRequested = Signal(object, str, object)

    def __init__(self, ctx: UiContext, model: CampaignsModel,
                 mailbox_email: Callable[[int], str], new_campaign_tip: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = StatusFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.view = QTableView()
        self.view.setObjectName("campaignsTable")
        setup_table(self.view, self.proxy)
        self.view.setItemDelegateForColumn(CampaignsModel.PROGRESS, ProgressDelegate(self.view))
        header = self.view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(CampaignsModel.NAME, QHeaderView.ResizeMode.Stretch)
        owners = model.owners_shown  # a team database: room for the Owner column
        header.resizeSection(CampaignsModel.STATUS, 210 if owners else 230)
        header.resizeSection(CampaignsModel.MAILBOXES, 150)
        header.resizeSection(CampaignsModel.LEADS, 280 if owners else 380)
        header.resizeSection(CampaignsModel.PROGRESS, 120 if owners else 150)
        show_owner_column(self.view, CampaignsModel.OWNER, CampaignsModel.NAME, owners,
                          width=120)
        self.campaign_view = CampaignView(ctx, None, mailbox_email=mailbox_email)
        self.campaign_view.reconnectRequested.connect(self._reconnect)
        self.campaign_view.actionRequested.connect(self.actionRequested.emit)
        self.view.selectionModel().currentRowChanged.connect(self._selected)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.campaign_view)
        self.splitter.setSizes([220, 420])
        self.new_campaign_button = QPushButton(action_icon("campaign"), "New campaign…")
        self.new_campaign_button.setObjectName("newCampaignButton")
        self.new_campaign_button.setToolTip(new_campaign_tip)
        self.new_campaign_button.clicked.connect(lambda _c=False: self.newCampaignRequested.emit())
        bar = QHBoxLayout()
        self.owner_filter = OwnerFilterBox(self.proxy, "campaign")
        bar.addWidget(self.owner_filter)
        bar.addStretch(1)
        bar.addWidget(self.new_campaign_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(bar)
        layout.addWidget(self.splitter, 1)
        if self.proxy.rowCount():
            self.view.selectRow(0)

    def select(self, campaign_id: int) -> None:
        index = self.proxy.mapFromSource(self.model.index_of(campaign_id))
        if index.isValid():
            self.view.setCurrentIndex(index)
            self.view.scrollTo(index)

    def restyle(self) -> None:
        """The theme changed: icons and colours again."""
        self.new_campaign_button.setIcon(action_icon("campaign"))
        self.model.restyle()
        self.campaign_view.refresh()

    def _selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        campaign_id = current.data(Role.ID) if current.isValid() else None
        if campaign_id != self.campaign_view.campaign_id:
            self.campaign_view.set_campaign(campaign_id)

    def _reconnect(self, account_id: int) -> None:
        self.reconnectRequested.emit(account_id, self.campaign_view.campaign_id)
