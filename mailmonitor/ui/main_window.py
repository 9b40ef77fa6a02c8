"""The main window: toolbar, the mailboxes and campaigns tables, the in-window banners and the
status bar summary. It wires the bridge's signals to per-row model updates and opens dialogs;
every decision is a service call."""

from __future__ import annotations

import logging
import sys
from typing import Any, TypeGuard, TypeVar

import shiboken6
from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPoint,
    QProcess,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QColor,
    QFont,
    QIcon,
    QKeySequence,
    QPainter,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.models import Campaign, Lead
from mailmonitor.services.alerts.notifications import Notification
from mailmonitor.services.auth.secrets import keyring_status
from mailmonitor.services.campaigns.setup import lead_counts
from mailmonitor.services.monitoring.reasons import Status, label_for
from mailmonitor.services.reconnect.flow import Page, ReconnectFlow
from mailmonitor.ui import format as fmt
from mailmonitor.ui.account_detail import AccountDetailDialog
from mailmonitor.ui.add_account import AddAccountDialog
from mailmonitor.ui.alerts import AlertsDialog, open_alert_count
from mailmonitor.ui.campaign_view import CampaignView, ReallocateDialog
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.icons import action_icon, app_icon, status_icon, tinted_icon
from mailmonitor.ui.menu_bar import build_menu_bar
from mailmonitor.ui.models import (
    AccountsModel,
    CampaignsModel,
    Role,
    StatusFilterProxy,
)
from mailmonitor.ui.new_campaign import NewCampaignDialog
from mailmonitor.ui.palette import worst_status
from mailmonitor.ui.reconnect_wizard import ReconnectWizard
from mailmonitor.ui.settings import SettingsDialog
from mailmonitor.ui.tray import TrayController
from mailmonitor.ui.welcome import WelcomePage, needs_welcome
from mailmonitor.ui.widgets import Banner, ProgressDelegate

log = logging.getLogger(__name__)
W = TypeVar("W", bound=QWidget)

STATUS_FILTERS: list[tuple[str, frozenset[str] | None]] = [
    ("All mailboxes", None),
    ("Needs attention", frozenset({Status.DISCONNECTED.value})),
    ("Retrying", frozenset({Status.WARNING.value})),
    ("Connected", frozenset({Status.CONNECTED.value})),
    ("Checking", frozenset({Status.CHECKING.value})),
    ("Offline", frozenset({Status.OFFLINE.value})),
    ("Stopped", frozenset({Status.STOPPED.value})),
]



def showing(dialog: W | None) -> TypeGuard[W]:
    """Open on screen (False once closed, also after Qt deleted it: WA_DeleteOnClose)."""
    return dialog is not None and shiboken6.isValid(dialog) and dialog.isVisible()


def badge_icon(base: QIcon, count: int) -> QIcon:
    """The bell with a red count in its corner (no badge at zero)."""
    if count <= 0:
        return base
    size = 48
    pixmap = base.pixmap(size, size)
    pixmap = QPixmap(pixmap)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    ratio = pixmap.devicePixelRatio()
    width = pixmap.width() / ratio
    diameter = width * 0.58
    rect = QRectF(width - diameter, 0, diameter, diameter)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#d32f2f"))
    painter.drawEllipse(rect)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(diameter * (0.62 if count < 10 else 0.48)))
    painter.setFont(font)
    painter.setPen(QColor("#ffffff"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(count) if count < 100 else "99+")
    painter.end()
    return QIcon(pixmap)


class MainWindow(QMainWindow):
    """Signals:
        quitRequested(): the rep wants mailmonitor to stop (Quit, or closing without a tray).
    """

    quitRequested = Signal()

    def __init__(self, ctx: UiContext, use_tray: bool | None = None,
                 title_suffix: str = "") -> None:
        super().__init__()
        self.ctx = ctx
        self.setObjectName("mainWindow")
        self.setWindowTitle("mailmonitor" + title_suffix)
        self.setWindowIcon(app_icon())
        self.resize(1100, 720)
        self.account_dialogs: dict[int, AccountDetailDialog] = {}
        self.wizards: dict[int, ReconnectWizard] = {}
        self.alerts_dialog: AlertsDialog | None = None
        self.add_dialog: AddAccountDialog | None = None
        self.new_campaign_dialog: NewCampaignDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.reallocate_dialog: ReallocateDialog | None = None
        self._told_about_tray = False
        self._sweeping = False

        self.accounts_model = AccountsModel(ctx.clock, self)
        self.accounts_proxy = StatusFilterProxy(self)
        self.accounts_proxy.setSourceModel(self.accounts_model)
        self.campaigns_model = CampaignsModel(self, with_lead_counts=False)
        self.campaigns_proxy = StatusFilterProxy(self)
        self.campaigns_proxy.setSourceModel(self.campaigns_model)

        self._build_actions()
        self.help_actions: dict[str, QAction] = {}
        build_menu_bar(self)
        self._build_toolbar()
        self._build_central()
        self._build_status_bar()

        self.tray = TrayController(ctx, lambda: dict(self.accounts_model.counts), self,
                                   use_tray=use_tray, parent=self,
                                   needing=self._mailboxes_needing_you)
        self.tray.openRequested.connect(self.bring_to_front)
        self.tray.checkAllRequested.connect(self.check_all)
        self.tray.wizardRequested.connect(lambda a: self.open_wizard(a, Page.CONNECTION))
        self.tray.alertsRequested.connect(self.open_alerts)
        self.tray.quitRequested.connect(self.quitRequested.emit)
        self.pause_all.triggered.connect(self._sync_pause_action)

        self._summary_timer = QTimer(self)
        self._summary_timer.setSingleShot(True)
        self._summary_timer.setInterval(60)
        self._summary_timer.timeout.connect(self.update_summary)
        self._alerts_timer = QTimer(self)
        self._alerts_timer.setSingleShot(True)
        self._alerts_timer.setInterval(60)
        self._alerts_timer.timeout.connect(self.update_alert_badge)
        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(30_000)
        self._clock_timer.timeout.connect(self.accounts_model.tick)
        self._clock_timer.start()

        bridge = ctx.bridge
        bridge.accountsBatch.connect(self._accounts_changed)
        bridge.checkStarted.connect(lambda a: self.accounts_model.set_checking(a, True))
        bridge.checkFinished.connect(lambda a: self.accounts_model.set_checking(a, False))
        bridge.campaignsBatch.connect(self._campaigns_changed)
        bridge.leadsBatch.connect(self.campaigns_model.refresh_leads)
        bridge.alertsChanged.connect(self._alerts_timer.start)
        self.accounts_model.countsChanged.connect(self._summary_timer.start)

        self.update_summary()
        self.update_alert_badge()
        # After the window is up: lead counts of every campaign (a scan of all leads, in a
        # worker) and the first look for alerts to notify.
        self.ctx.spawn(self._load_lead_counts(), "lead counts")
        QTimer.singleShot(0, self.tray.poll_notifications)

    # --- construction -------------------------------------------------------------------------

    def _action(self, text: str, slot: Any, shortcut: str | QKeySequence.StandardKey | None,
                icon: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if icon:
            action.setIcon(action_icon(icon))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            keys = QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)
            tip = f"{tip or text} ({keys})" if keys else tip
        if tip:
            action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.add_account = self._action("Add mailbox", self.open_add_account, "Ctrl+N", "add",
                                        "Add a mailbox")
        self.new_campaign_action = self._action("New campaign", self.open_new_campaign,
                                                "Ctrl+Shift+N", "campaign",
                                                "Create a campaign")
        self.check_all_action = self._action("Check all now", self.check_all, "Ctrl+R",
                                             "check", "Test every mailbox now")
        self.alerts_action = self._action("Alerts", self.open_alerts, "Ctrl+Shift+A", "alerts",
                                          "Open alerts")
        self.settings_action = self._action("Settings", self.open_settings, "Ctrl+,",
                                            "settings", "Settings")
        self.pause_all = QAction("Pause all sending", self)
        self.pause_all.setToolTip("Pause every active campaign; Resume continues them")
        self.pause_all.triggered.connect(lambda _c=False: self.tray.toggle_sending())
        self.reconnect_action = self._action("Reconnect", self.reconnect_selected,
                                             "Ctrl+Shift+R", tip="Reconnect the selected "
                                             "mailbox")
        self.test_action = self._action("Test Connection", self.test_selected, "Ctrl+T",
                                        tip="Test the selected mailbox now")
        self.details_action = self._action("Details", self.open_selected, None)
        self.quit_action = self._action("Quit", self.quitRequested.emit, "Ctrl+Q")
        self.find_action = self._action("Find", self._focus_search, "Ctrl+F")
        self._action("Mailboxes", lambda: self.tabs.setCurrentIndex(0), "Ctrl+1")
        self._action("Campaigns", lambda: self.tabs.setCurrentIndex(1), "Ctrl+2")

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setIconSize(QSize(22, 22))
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.addAction(self.add_account)
        bar.addAction(self.new_campaign_action)
        bar.addAction(self.check_all_action)
        bar.addAction(self.alerts_action)
        bar.addSeparator()
        bar.addAction(self.pause_all)
        spacer = QWidget()
        spacer.setSizePolicy(spacer.sizePolicy().horizontalPolicy().Expanding,
                             spacer.sizePolicy().verticalPolicy())
        bar.addWidget(spacer)
        bar.addAction(self.settings_action)
        self.addToolBar(bar)
        self.toolbar = bar

    def _build_central(self) -> None:
        self.notice = Banner("info")
        self.notice.setObjectName("noticeBanner")
        self.notice.hide()
        self.attention = Banner("error")
        self.attention.setObjectName("attentionBanner")
        self.attention.hide()

        # Mailboxes tab
        self.status_filter = QComboBox()
        self.status_filter.setObjectName("statusFilter")
        for label, statuses in STATUS_FILTERS:
            self.status_filter.addItem(label, statuses)
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Filter by address or provider (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show"))
        filters.addWidget(self.status_filter)
        filters.addWidget(self.search, 1)
        self.accounts_view = QTableView()
        self.accounts_view.setObjectName("accountsTable")
        self._setup_table(self.accounts_view, self.accounts_proxy)
        header = self.accounts_view.horizontalHeader()
        header.setStretchLastSection(False)
        header.resizeSection(AccountsModel.STATUS, 140)
        header.setSectionResizeMode(AccountsModel.ADDRESS, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(AccountsModel.PROVIDER, 200)
        header.resizeSection(AccountsModel.REASON, 220)
        header.resizeSection(AccountsModel.CHECKED, 120)
        header.resizeSection(AccountsModel.LATENCY, 90)
        self.accounts_view.doubleClicked.connect(lambda _i: self.open_selected())
        self.accounts_view.activated.connect(lambda _i: self.open_selected())
        self.accounts_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.accounts_view.customContextMenuRequested.connect(self._account_menu)
        accounts_tab = QWidget()
        accounts_layout = QVBoxLayout(accounts_tab)
        accounts_layout.setContentsMargins(8, 8, 8, 8)
        accounts_layout.addLayout(filters)
        accounts_layout.addWidget(self.accounts_view, 1)
        self.status_filter.currentIndexChanged.connect(
            lambda _i: self.accounts_proxy.set_statuses(self.status_filter.currentData()))
        self.search.textChanged.connect(self.accounts_proxy.setFilterFixedString)

        # Campaigns tab
        self.campaigns_view = QTableView()
        self.campaigns_view.setObjectName("campaignsTable")
        self._setup_table(self.campaigns_view, self.campaigns_proxy)
        self.campaigns_view.setItemDelegateForColumn(CampaignsModel.PROGRESS,
                                                     ProgressDelegate(self.campaigns_view))
        header = self.campaigns_view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(CampaignsModel.NAME, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(CampaignsModel.STATUS, 230)
        header.resizeSection(CampaignsModel.MAILBOXES, 150)
        header.resizeSection(CampaignsModel.LEADS, 380)
        header.resizeSection(CampaignsModel.PROGRESS, 150)
        self.campaign_view = CampaignView(
            self.ctx, None, mailbox_email=self._mailbox_email)
        self.campaign_view.reconnectRequested.connect(
            lambda a: self.open_wizard(a, Page.SELECT_CAMPAIGN,
                                       self.campaign_view.campaign_id))
        self.campaigns_view.selectionModel().currentRowChanged.connect(self._campaign_selected)
        self.campaign_splitter = QSplitter(Qt.Orientation.Vertical)
        self.campaign_splitter.addWidget(self.campaigns_view)
        self.campaign_splitter.addWidget(self.campaign_view)
        self.campaign_splitter.setSizes([220, 420])
        campaigns_tab = QWidget()
        campaigns_layout = QVBoxLayout(campaigns_tab)
        campaigns_layout.setContentsMargins(8, 8, 8, 8)
        self.new_campaign_button = QPushButton(action_icon("campaign"), "New campaign…")
        self.new_campaign_button.setObjectName("newCampaignButton")
        self.new_campaign_button.setToolTip(self.new_campaign_action.toolTip())
        self.new_campaign_button.clicked.connect(lambda _c=False: self.open_new_campaign())
        campaigns_bar = QHBoxLayout()
        campaigns_bar.addStretch(1)
        campaigns_bar.addWidget(self.new_campaign_button)
        campaigns_layout.addLayout(campaigns_bar)
        campaigns_layout.addWidget(self.campaign_splitter, 1)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(accounts_tab, "Mailboxes")
        self.tabs.addTab(campaigns_tab, "Campaigns")

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(8, 6, 8, 0)
        layout.setSpacing(6)
        layout.addWidget(self.notice)
        layout.addWidget(self.attention)
        layout.addWidget(self.tabs, 1)
        self.content = content

        # First run: a welcome page until the first mailbox exists. The keyring is asked off
        # the GUI thread (a locked Secret Service can take a while to answer).
        self.welcome = WelcomePage(check_now=False)
        self.welcome.addMailboxRequested.connect(self.open_add_account)
        self.welcome.demoRequested.connect(self.open_demo)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(content)
        self.setCentralWidget(self.stack)
        self.welcome.keyringStatusChanged.connect(self._keyring_known)
        if needs_welcome():
            self.stack.setCurrentWidget(self.welcome)
        else:
            self.stack.setCurrentWidget(content)
        # Always: without a keyring no mailbox can be added (its password has nowhere to go).
        self.ctx.spawn(self._check_keyring(), "keyring check")
        if self.campaigns_proxy.rowCount():
            self.campaigns_view.selectRow(0)

    def _setup_table(self, view: QTableView, model: Any) -> None:
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

    def _build_status_bar(self) -> None:
        self.summary_icon = QLabel()
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        box = QWidget()
        layout = QHBoxLayout(box)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.setSpacing(6)
        layout.addWidget(self.summary_icon)
        layout.addWidget(self.summary)
        # Permanent: messages ("Settings saved") appear beside it, never over it.
        self.statusBar().addPermanentWidget(box)

    # --- bridge handlers ----------------------------------------------------------------------

    def _accounts_changed(self, account_ids: list[int]) -> None:
        self.accounts_model.refresh_accounts(account_ids)
        self.campaigns_model.accounts_changed(account_ids, self._status_of)

    def _mailboxes_needing_you(self) -> list[tuple[int, str, str]]:
        rows = [r for r in (self.accounts_model.row_for(i) for i in
                            self.accounts_model.ids_with_status(Status.DISCONNECTED.value))
                if r is not None]
        return [(r.id, r.email, label_for(r.status, r.reason))
                for r in sorted(rows, key=lambda r: r.email)]

    def _status_of(self, account_id: int) -> tuple[str, str | None] | None:
        row = self.accounts_model.row_for(account_id)
        return (row.status, row.reason) if row is not None else None

    def _campaigns_changed(self, campaign_ids: list[int]) -> None:
        for campaign_id in campaign_ids:
            self.campaigns_model.refresh_campaign(campaign_id, leads=False)

    def _mailbox_email(self, account_id: int) -> str:
        row = self.accounts_model.row_for(account_id)
        if row is not None:
            return row.email
        from mailmonitor.models import Account

        account = Account.get_or_none(Account.id == account_id)
        return account.email if account else "?"

    async def _load_lead_counts(self) -> None:
        stamps = self.campaigns_model.lead_stamps()
        counts = await self.ctx.blocking(lead_counts)
        self.campaigns_model.set_lead_counts(counts, stamps)

    def _campaign_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        campaign_id = current.data(Role.ID) if current.isValid() else None
        if campaign_id != self.campaign_view.campaign_id:
            self.campaign_view.set_campaign(campaign_id)

    # --- summary, banner, badge -----------------------------------------------------------------

    def update_summary(self) -> None:
        counts = dict(self.accounts_model.counts)
        self.summary.setText(fmt.status_summary(counts))
        worst = worst_status(s for s, n in counts.items() if n)
        self.summary_icon.setPixmap(status_icon(worst).pixmap(16, 16) if counts else QPixmap())
        self.tray.refresh()
        self._update_attention()

    def _update_attention(self) -> None:
        ids = self.accounts_model.ids_with_status(Status.DISCONNECTED.value)
        self.attention.clear_actions()
        if not ids:
            self.attention.hide()
            return
        rows = [r for r in (self.accounts_model.row_for(i) for i in ids) if r is not None]
        rows.sort(key=lambda r: r.email)
        named = ", ".join(
            f"<b>{fmt.esc(r.email)}</b> ({fmt.esc(label_for(r.status, r.reason))})"
            for r in rows[:3]) + (f" and {len(rows) - 3} more" if len(rows) > 3 else "")
        head = ("1 mailbox needs you" if len(rows) == 1
                else f"{len(rows)} mailboxes need you")
        self.attention.set_message(
            f"{head}: {named}. Its leads wait and continue where they left off after you "
            "reconnect." if len(rows) == 1 else
            f"{head}: {named}. Their leads wait and continue where they left off after you "
            "reconnect.")
        first = rows[0].id
        self.attention.add_action("Reconnect" if len(rows) == 1 else
                                  f"Reconnect {rows[0].email}",
                                  lambda: self.open_wizard(first, Page.CONNECTION), primary=True)
        self.attention.add_action("Show alerts", self.open_alerts)
        self.attention.show()

    def update_alert_badge(self) -> None:
        count = open_alert_count()
        self.alerts_action.setText(f"Alerts ({count})" if count else "Alerts")
        self.alerts_action.setIcon(badge_icon(action_icon("alerts"), count))

    def show_notification(self, notification: Notification) -> None:
        """The in-window fallback for desktop notifications (no tray)."""
        self.notice.clear_actions()
        self.notice.set_severity("warning")
        self.notice.set_message(f"<b>{fmt.esc(notification.title)}</b><br>"
                                + fmt.esc(notification.message).replace("\n", "<br>"))
        if notification.account_id is not None:
            account_id = notification.account_id
            self.notice.add_action("Reconnect", lambda: self._notice_reconnect(account_id),
                                   primary=True)
        else:
            self.notice.add_action("Show alerts", self._notice_alerts, primary=True)
        self.notice.add_action("Dismiss", self.notice.hide)
        self.notice.show()

    def _notice_reconnect(self, account_id: int) -> None:
        self.notice.hide()
        self.open_wizard(account_id, Page.CONNECTION)

    def _notice_alerts(self) -> None:
        self.notice.hide()
        self.open_alerts()

    def _sync_pause_action(self) -> None:
        self.pause_all.setText(self.tray.pause_action.text())

    # --- selection helpers ------------------------------------------------------------------------

    def selected_account_id(self) -> int | None:
        index = self.accounts_view.currentIndex()
        return int(index.data(Role.ID)) if index.isValid() else None

    def select_account(self, account_id: int) -> None:
        source = self.accounts_model.index_of(account_id)
        index = self.accounts_proxy.mapFromSource(source)
        if index.isValid():
            self.accounts_view.setCurrentIndex(index)

    def select_campaign(self, campaign_id: int) -> None:
        source = self.campaigns_model.index_of(campaign_id)
        index = self.campaigns_proxy.mapFromSource(source)
        if index.isValid():
            self.campaigns_view.setCurrentIndex(index)
            self.campaigns_view.scrollTo(index)

    def _focus_search(self) -> None:
        self.tabs.setCurrentIndex(0)
        self.search.setFocus()
        self.search.selectAll()

    def _account_menu(self, pos: QPoint) -> None:
        if self.selected_account_id() is None:
            return
        menu = QMenu(self)
        menu.addAction(self.details_action)
        menu.addAction(self.test_action)
        menu.addAction(self.reconnect_action)
        menu.popup(self.accounts_view.viewport().mapToGlobal(pos))

    # --- actions ------------------------------------------------------------------------------

    def check_all(self) -> None:
        if self.ctx.monitor is None or self._sweeping:
            return
        self._sweeping = True
        self.check_all_action.setEnabled(False)
        self.statusBar().showMessage("Checking every mailbox…")
        self.ctx.spawn(self._sweep(), "check all")

    async def _sweep(self) -> None:
        assert self.ctx.monitor is not None
        try:
            checks = await self.ctx.monitor.sweep(trigger="manual")
            done = fmt.count(len(checks or []), "mailbox", "mailboxes")
            self.statusBar().showMessage(f"Checked {done}", 5000)
        finally:
            self._sweeping = False
            self.check_all_action.setEnabled(True)

    def test_selected(self) -> None:
        account_id = self.selected_account_id()
        if account_id is not None and self.ctx.monitor is not None:
            self.ctx.spawn(self.ctx.monitor.check_account(account_id, "manual"), "test")

    def reconnect_selected(self) -> None:
        account_id = self.selected_account_id()
        if account_id is not None:
            self.open_wizard(account_id, Page.CONNECTION)

    def open_selected(self) -> None:
        account_id = self.selected_account_id()
        if account_id is not None:
            self.open_account(account_id)

    def open_account(self, account_id: int) -> AccountDetailDialog:
        dialog = self.account_dialogs.get(account_id)
        if dialog is None:
            dialog = AccountDetailDialog(self.ctx, account_id, self)
            dialog.reconnectRequested.connect(lambda a: self.open_wizard(a, Page.CONNECTION))
            dialog.removed.connect(lambda a: self._accounts_changed([a]))
            dialog.finished.connect(lambda _r, a=account_id: self.account_dialogs.pop(a, None))
            self.account_dialogs[account_id] = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def open_wizard(self, account_id: int, at: Page = Page.CONNECTION,
                    campaign_id: int | None = None) -> ReconnectWizard:
        wizard = self.wizards.get(account_id)
        if showing(wizard):
            wizard.raise_()
            wizard.activateWindow()
            return wizard
        flow = ReconnectFlow.start(account_id, at=at, campaign_id=campaign_id)
        wizard = ReconnectWizard(self.ctx, flow, self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.reconnected.connect(self._reconnected)
        wizard.finished.connect(lambda _r, a=account_id: self.wizards.pop(a, None))
        self.wizards[account_id] = wizard
        wizard.open()
        return wizard

    def _reconnected(self, account_id: int) -> None:
        wizard = self.wizards.get(account_id)
        text = wizard.confirmation if wizard is not None else ""
        if not text:
            row = self.accounts_model.row_for(account_id)
            text = f"{row.email if row else 'The mailbox'} reconnected."
        self.statusBar().showMessage(text, 15000)
        self.notice.clear_actions()
        self.notice.set_severity("ok")
        self.notice.set_message(f"<b>{fmt.esc(text)}</b> Leads continue where they left off.")
        self.notice.add_action("Dismiss", self.notice.hide)
        self.notice.show()

    def open_alerts(self) -> AlertsDialog:
        if self.alerts_dialog is None:
            dialog = AlertsDialog(self.ctx, self)
            dialog.reconnectRequested.connect(lambda a: self.open_wizard(a, Page.CONNECTION))
            dialog.reallocateRequested.connect(self.open_reallocate)
            self.alerts_dialog = dialog
        self.alerts_dialog.refresh()
        self.alerts_dialog.show()
        self.alerts_dialog.raise_()
        return self.alerts_dialog

    def open_reallocate(self, campaign_id: int) -> ReallocateDialog:
        dialog = ReallocateDialog(self.ctx, campaign_id, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.reallocate_dialog = dialog
        dialog.open()
        return dialog

    def open_add_account(self) -> AddAccountDialog:
        if not showing(self.add_dialog):
            dialog = AddAccountDialog(self.ctx, self)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.added.connect(self._account_added)
            dialog.signInSettingsRequested.connect(self.open_sign_in_settings)
            self.add_dialog = dialog
            dialog.open()
        return self.add_dialog

    def open_new_campaign(self) -> NewCampaignDialog:
        if not showing(self.new_campaign_dialog):
            dialog = NewCampaignDialog(self.ctx, self)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.created.connect(self._campaign_created)
            self.new_campaign_dialog = dialog
            dialog.open()
        return self.new_campaign_dialog

    def _campaign_created(self, campaign_id: int) -> None:
        self.stack.setCurrentWidget(self.content)
        self.campaigns_model.refresh_campaign(campaign_id)
        self.tabs.setCurrentIndex(1)
        self.select_campaign(campaign_id)
        campaign = Campaign.get_or_none(Campaign.id == campaign_id)
        if campaign is not None:
            leads = Lead.select().where(Lead.campaign == campaign_id).count()
            self.statusBar().showMessage(
                f"Campaign “{campaign.name}” created with {fmt.count(leads, 'lead')}.", 8000)

    async def _check_keyring(self) -> None:
        ok, detail = await self.ctx.blocking(keyring_status)
        self.welcome.set_keyring_status(ok, detail)
        self._keyring_known(ok, detail)

    def _keyring_known(self, ok: bool, detail: str) -> None:
        self.add_account.setEnabled(ok)
        self.add_account.setToolTip(
            "Add a mailbox (Ctrl+N)" if ok else
            f"No system keyring, so no password can be stored: {detail}. Install GNOME "
            "Keyring or KWallet, then use “Check again” on the welcome page.")

    def open_demo(self) -> None:
        """The demo runs as its own app, on a throwaway folder: the rep's data is never mixed
        with demo data."""
        args = ["demo"] if getattr(sys, "frozen", False) else ["-m", "mailmonitor", "demo"]
        if not QProcess.startDetached(sys.executable, args):
            self.statusBar().showMessage("The demo could not be started.", 8000)

    def _account_added(self, account_id: int) -> None:
        self.stack.setCurrentWidget(self.content)
        self.accounts_model.refresh_account(account_id)
        self.tabs.setCurrentIndex(0)
        self.select_account(account_id)
        self.statusBar().showMessage("Mailbox added and connected.", 8000)

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self, self.ctx)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(lambda: self.statusBar().showMessage("Settings saved.", 5000))
        self.settings_dialog = dialog
        dialog.open()
        return dialog

    def open_sign_in_settings(self) -> SettingsDialog:
        dialog = self.open_settings()
        dialog.tabs.setCurrentWidget(dialog.sign_in)
        return dialog

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState((self.windowState() & ~Qt.WindowState.WindowMinimized)
                            | Qt.WindowState.WindowActive)
        self.raise_()
        self.activateWindow()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "tray"):
            self._apply_theme()
        super().changeEvent(event)

    def _apply_theme(self) -> None:
        """Light or dark: status colours and icons come from the palette-aware table again."""
        tinted_icon.cache_clear()
        for action, name in ((self.add_account, "add"), (self.check_all_action, "check"),
                             (self.settings_action, "settings"),
                             (self.new_campaign_action, "campaign")):
            action.setIcon(action_icon(name))
        self.new_campaign_button.setIcon(action_icon("campaign"))
        self.update_alert_badge()
        self.accounts_model.clear_caches()
        self.campaigns_view.viewport().update()
        self.campaign_view.refresh()
        self.update_summary()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.tray.available:
            # With a tray, closing hides: monitoring goes on, the tray says so once.
            event.ignore()
            self.hide()
            if not self._told_about_tray and self.tray.tray is not None:
                self._told_about_tray = True
                self.tray.tray.showMessage("mailmonitor keeps watching",
                                           "Your mailboxes are still monitored. Quit from the "
                                           "tray menu.", app_icon(), 6000)
            return
        event.accept()
        self.quitRequested.emit()
