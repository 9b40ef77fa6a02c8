"""The main window: toolbar, the mailboxes and campaigns tables, the in-window banners and the
status bar summary. It wires the bridge's signals to per-row model updates and opens dialogs;
every decision is a service call."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeGuard, TypeVar

import peewee as pw
import shiboken6
from PySide6.QtCore import (
    QEvent,
    QObject,
    QProcess,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QKeySequence,
    QPixmap,
)
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.events import bus
from mailmonitor.models import Account, Alert, Campaign, Lead
from mailmonitor.services.alerts.cards import Card, needing, summary_line
from mailmonitor.services.alerts.notifications import Notification
from mailmonitor.services.auth.secrets import SecretStoreError, keyring_status
from mailmonitor.services.campaigns.setup import can_send, lead_counts
from mailmonitor.services.common.vocabulary import WAITING_FOR_A_MAILBOX
from mailmonitor.services.reconnect.flow import Page, ReconnectFlow
from mailmonitor.services.team import handover, members
from mailmonitor.services.team.handover import Receiver
from mailmonitor.services.team.leases import team_mode
from mailmonitor.services.team.live import HANDOVER_WAITING
from mailmonitor.services.team.reachability import current_outage
from mailmonitor.ui import format as fmt
from mailmonitor.ui import keyboard
from mailmonitor.ui.account_detail import AccountDetailDialog
from mailmonitor.ui.accounts_tab import AccountsTab
from mailmonitor.ui.add_account import AddAccountDialog
from mailmonitor.ui.alerts import AlertsDialog
from mailmonitor.ui.banners import (
    AttentionBanner,
    NoticeBanner,
    SendingPausedBanner,
    StorageBanner,
    TeamDatabaseBanner,
)
from mailmonitor.ui.campaign_view import ReallocateDialog
from mailmonitor.ui.campaigns_tab import CampaignsTab
from mailmonitor.ui.condition_actions import perform
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.edit_campaign import open_edit_campaign
from mailmonitor.ui.hand_over import HandOverDialog, action_text, others
from mailmonitor.ui.icons import action_icon, app_icon, badge_icon, status_icon, tinted_icon
from mailmonitor.ui.maintenance_dialog import MaintenanceDialog
from mailmonitor.ui.menu_bar import WindowActions, build_menu_bar
from mailmonitor.ui.models import AccountsModel, CampaignsModel
from mailmonitor.ui.new_campaign import NewCampaignDialog
from mailmonitor.ui.owner_filter import shows_mine
from mailmonitor.ui.palette import worst_status
from mailmonitor.ui.reconnect_wizard import ReconnectWizard
from mailmonitor.ui.settings import SettingsDialog
from mailmonitor.ui.tray import TrayController
from mailmonitor.ui.welcome import WelcomePage, needs_welcome
from mailmonitor.ui.widgets import SEVERITY_STATUS

log = logging.getLogger(__name__)
W = TypeVar("W", bound=QWidget)
REACHABILITY_LOOK_MS = 15_000  # the fallback look at the team database's reachability
ATTENTION_LINE_WIDTH = 420  # the status bar's "N things need you — …", elided beyond


def showing(dialog: W | None) -> TypeGuard[W]:
    """Open on screen (False once closed, also after Qt deleted it: WA_DeleteOnClose)."""
    return dialog is not None and shiboken6.isValid(dialog) and dialog.isVisible()


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
        self.maintenance_dialog: MaintenanceDialog | None = None
        self._told_about_tray = False
        self.close_box: QMessageBox | None = None
        self._app_quitting = False  # set when the application's Quit event comes
        self._sweeping = False

        self.accounts_model = AccountsModel(ctx.clock, self)
        self.campaigns_model = CampaignsModel(self, with_lead_counts=False)

        self._build_actions()
        self.help_actions: dict[str, QAction] = self._build_menu()
        self._build_toolbar()
        self._build_central()
        self._build_status_bar()

        self._admin_seen: tuple[datetime, bool] | None = None
        self.tray = TrayController(ctx, self._tray_counts, self, use_tray=use_tray, parent=self,
                                   conditions=self._tray_conditions,
                                   scope=lambda: self._tray_scope()[1])
        app = QApplication.instance()
        if app is not None and not self.tray.available:
            # Only a window without a tray refuses a close (it asks first), and a refused close
            # cancels the application's Quit: watch for it. An application-wide filter sees
            # every event of the process, so it is installed only where it is needed.
            app.installEventFilter(self)
        self.tray.openRequested.connect(self.bring_to_front)
        self.tray.checkAllRequested.connect(self.check_all)
        self.tray.wizardRequested.connect(lambda a: self.open_wizard(a, Page.CONNECTION))
        self.tray.alertsRequested.connect(self.open_alerts)
        self.tray.actionRequested.connect(self.act)
        self.tray.quitRequested.connect(self.quitRequested.emit)
        self.pause_all.triggered.connect(lambda _c=False: self._sync_pause_action(True))
        self.tray.pause_action.triggered.connect(lambda _c=False: self._sync_pause_action(True))

        self._summary_timer = QTimer(self)
        self._summary_timer.setSingleShot(True)
        self._summary_timer.setInterval(60)
        self._summary_timer.timeout.connect(self.update_summary)
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
        bridge.storageFailed.connect(self.show_storage_problem)
        bridge.reachabilityChanged.connect(self.show_reachability)
        # The event says when it changes; a slow look as well, in case one was missed.
        self._reachability_timer = QTimer(self)
        self._reachability_timer.setInterval(REACHABILITY_LOOK_MS)
        self._reachability_timer.timeout.connect(self.show_reachability)
        self._reachability_timer.timeout.connect(self.look_for_receivers)
        self._reachability_timer.start()
        self.show_reachability()
        self.look_for_receivers()
        self.accounts_model.countsChanged.connect(self._summary_timer.start)
        self.accounts_tab.owner_filter.currentIndexChanged.connect(
            lambda _i: self.update_summary())
        # Every surface renders the attention model's conditions, read once per change.
        ctx.attention.changed.connect(self.render_attention)

        self.update_summary()
        ctx.attention.start()
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
        # Only on a team database with another running copy that can receive it (issue 21).
        self.hand_over_action = self._action("Hand over to…", self.hand_over_selected, None,
                                             tip="Hand the selected mailbox's sign-in over to "
                                             "another running copy, which sends for it then")
        self.hand_over_action.setVisible(False)
        self.hand_over_to: list[Receiver] = []  # other running copies (refreshed in a worker)
        self.hand_over_dialog: HandOverDialog | None = None
        self.maintenance_action = self._action(
            "Maintenance…", self.maintenance_selected, None,
            tip="Mute the selected mailbox (or its domain, or everything) for a while")
        self.quit_action = self._action("Quit", self.quitRequested.emit, "Ctrl+Q")
        self.find_action = self._action("Find", self._focus_search, "Ctrl+F")
        self._action("Mailboxes", lambda: self.tabs.setCurrentIndex(0), "Ctrl+1")
        self._action("Campaigns", lambda: self.tabs.setCurrentIndex(1), "Ctrl+2")

    def _build_menu(self) -> dict[str, QAction]:
        return build_menu_bar(self, WindowActions(
            add_account=self.add_account, new_campaign=self.new_campaign_action,
            settings=self.settings_action, quit=self.quit_action, alerts=self.alerts_action,
            check_all=self.check_all_action, find=self.find_action))

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
        self.notice = NoticeBanner()  # confirms what the rep did ("… reconnected"), with Undo
        self.ctx.notice = self.notice.confirm
        self.sending_paused = SendingPausedBanner()  # Pause all sending, until resumed
        self.sending_paused.resumeRequested.connect(self.pause_all.trigger)
        self.attention = AttentionBanner()  # the one banner for what needs the rep
        self.attention.actionRequested.connect(self.act)
        self.attention.alertsRequested.connect(self.open_alerts)
        self.storage = StorageBanner()
        self.storage.quitRequested.connect(self.quitRequested.emit)
        self.team_database = TeamDatabaseBanner()  # the team database is out of reach

        self.accounts_tab = AccountsTab(self.accounts_model, [
            self.details_action, self.test_action, self.reconnect_action,
            self.maintenance_action, self.hand_over_action])
        self.accounts_tab.openRequested.connect(self.open_account)
        self.campaigns_tab = CampaignsTab(self.ctx, self.campaigns_model, self._mailbox_email,
                                          self.new_campaign_action.toolTip())
        self.campaigns_tab.newCampaignRequested.connect(self.open_new_campaign)
        self.campaigns_tab.reconnectRequested.connect(
            lambda a, c: self.open_wizard(a, Page.SELECT_CAMPAIGN, c))
        self.campaigns_tab.actionRequested.connect(self.act)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.accounts_tab, "Mailboxes")
        self.tabs.addTab(self.campaigns_tab, "Campaigns")
        keyboard.tab_keys(self, self.tabs)  # Ctrl+Tab / Ctrl+PgDown, as in every dialog

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(8, 6, 8, 0)
        layout.setSpacing(6)
        layout.addWidget(self.notice)
        layout.addWidget(self.sending_paused)
        layout.addWidget(self.storage)
        layout.addWidget(self.team_database)
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

    def _build_status_bar(self) -> None:
        self.summary_icon = QLabel()
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        # What needs the rep: "2 things need you — <the top condition>".
        self.attention_icon = QLabel()
        self.attention_line = QLabel()
        self.attention_line.setObjectName("attentionLine")
        box = QWidget()
        layout = QHBoxLayout(box)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.setSpacing(6)
        layout.addWidget(self.attention_icon)
        layout.addWidget(self.attention_line)
        layout.addSpacing(12)
        layout.addWidget(self.summary_icon)
        layout.addWidget(self.summary)
        # Permanent: messages ("Settings saved") appear beside it, never over it.
        self.statusBar().addPermanentWidget(box)

    # --- bridge handlers ----------------------------------------------------------------------

    def _accounts_changed(self, account_ids: list[int]) -> None:
        self.accounts_model.refresh_accounts(account_ids)
        self.campaigns_model.accounts_changed(account_ids, self._status_of)

    def _tray_scope(self) -> tuple[Callable[[str], bool] | None, str | None]:
        """Whose mailboxes the tray speaks of: on a team database a member's own (their
        alerts reach them), an admin's every mailbox (every alert reaches them); on a personal
        database all of them, unnamed."""
        if not members.filter_available():
            return None, None
        if self._admin():
            return None, "Everyone"
        return shows_mine, "Mine"

    ADMIN_RECHECK = timedelta(minutes=1)  # another copy may make this member admin meanwhile

    def _admin(self) -> bool:
        """Is this copy's member an admin (asked again each minute, not on every refresh)?"""
        now = self.ctx.clock.now()
        if self._admin_seen is None or now - self._admin_seen[0] >= self.ADMIN_RECHECK:
            self._admin_seen = (now, members.is_admin())
        return self._admin_seen[1]

    def member_role_changed(self) -> None:
        """The Team page changed members: the tray asks again whose mailboxes it speaks of."""
        self._admin_seen = None
        self.tray.refresh()

    def _tray_counts(self) -> dict[str, int]:
        return dict(self.accounts_model.counts_for(self._tray_scope()[0]))

    def _tray_conditions(self) -> list[Card]:
        """The conditions the tray speaks of: on a team database those that reach this member
        (their own mailboxes' and campaigns'; an admin's: all), else all of them."""
        cards = self.ctx.attention.current()
        if not cards or self._tray_scope()[0] is None:
            return cards
        reaching = {a.id for a in Alert.select().where(
            Alert.id.in_([c.alert_id for c in cards])) if members.reaches(a)}
        return [c for c in cards if c.alert_id in reaching]

    def _status_of(self, account_id: int) -> tuple[str, str | None] | None:
        row = self.accounts_model.row_for(account_id)
        return (row.status, row.reason) if row is not None else None

    def _campaigns_changed(self, campaign_ids: list[int]) -> None:
        for campaign_id in campaign_ids:
            self.campaigns_model.refresh_campaign(campaign_id, leads=False)
        if self.tray.paused_by_us and set(campaign_ids) & set(self.tray.paused_by_us):
            self.tray.forget_resumed()  # the rep resumed some of them one by one
            self._sync_pause_action()

    def _mailbox_email(self, account_id: int) -> str:
        row = self.accounts_model.row_for(account_id)
        if row is not None:
            return row.email
        account = Account.get_or_none(Account.id == account_id)
        return str(account.email) if account else "?"

    async def _load_lead_counts(self) -> None:
        stamps = self.campaigns_model.lead_stamps()
        counts = await self.ctx.blocking(lead_counts)
        self.campaigns_model.set_lead_counts(counts, stamps)

    # --- summary, banner, badge -----------------------------------------------------------------

    def update_summary(self) -> None:
        """The status bar: mailboxes per status. On a team database it counts what the
        Mailboxes tab's Mine / Everyone filter shows, and says which."""
        box = self.accounts_tab.owner_filter
        counts = dict(self.accounts_model.counts_for(box.shows()))
        self.summary.setText(fmt.status_summary(counts, box.scope))
        worst = worst_status(s for s, n in counts.items() if n)
        self.summary_icon.setPixmap(status_icon(worst).pixmap(16, 16) if counts else QPixmap())
        self.tray.refresh()

    def render_attention(self) -> None:
        """The banner, the status bar's line, the Alerts badge and the tray: the same
        conditions in the same order (the alerts list follows the feed itself)."""
        cards = self.ctx.attention.current()
        now = self.ctx.clock.now()
        self.attention.show_conditions(cards, now)
        loud = needing(cards)
        line = summary_line(cards)
        metrics = self.attention_line.fontMetrics()
        self.attention_line.setText(metrics.elidedText(line, Qt.TextElideMode.ElideRight,
                                                       ATTENTION_LINE_WIDTH))
        self.attention_line.setToolTip(line if loud else "")
        self.attention_icon.setPixmap(
            status_icon(SEVERITY_STATUS.get(loud[0].severity, "checking")).pixmap(16, 16)
            if loud else QPixmap())
        self.update_alert_badge()
        self.tray.refresh()

    def update_alert_badge(self) -> None:
        """Alerts (N): the conditions that need the rep (muted ones are not counted)."""
        count = len(self.ctx.attention.needing)
        self.alerts_action.setText(f"Alerts ({count})" if count else "Alerts")
        self.alerts_action.setIcon(badge_icon(action_icon("alerts"), count))

    def show_storage_problem(self, line: str) -> None:
        """The database cannot be written: the background work stopped (nothing is checked or
        sent); the banner says so until mailmonitor is started again."""
        self.storage.show_problem(line)
        self.check_all_action.setEnabled(False)
        self.check_all_action.setToolTip("Checks are held until mailmonitor can write its "
                                         "data again")
        self.statusBar().showMessage("Sending is held: mailmonitor cannot write its data")

    def show_reachability(self) -> None:
        """The team database is out of reach (or back): the banner says since when. Read from
        the copy's link, never from the database (it is what is gone)."""
        self.team_database.show_outage(current_outage())

    def look_for_receivers(self) -> None:
        """Which other running copies could receive a hand-over (a worker asks the team
        database); the mailbox menu offers Hand over only when there is one."""
        if team_mode() and current_outage() is None:
            self.ctx.spawn(self._load_receivers(), "receivers")

    async def _load_receivers(self) -> None:
        def load() -> list[Receiver]:
            try:
                own = handover.load_identity(create=False)
            except SecretStoreError:
                own = None
            return others(handover.live_receivers(self.ctx.clock.now()),
                          own.fingerprint if own else None)

        try:
            found = await self.ctx.blocking(load)
        except pw.DatabaseError:
            found = []
        self.set_receivers(found)

    def set_receivers(self, receivers: list[Receiver]) -> None:
        self.hand_over_to = list(receivers)
        self.hand_over_action.setVisible(bool(receivers))
        if receivers:
            self.hand_over_action.setText(action_text(receivers))

    def hand_over_selected(self) -> None:
        account_id = self.selected_account_id()
        if account_id is not None:
            self.open_hand_over(account_id)

    def open_hand_over(self, account_id: int) -> HandOverDialog | None:
        if not self.hand_over_to:
            return None
        if showing(self.hand_over_dialog):
            self.hand_over_dialog.raise_()
            return self.hand_over_dialog
        dialog = HandOverDialog(self.ctx, self._mailbox_email(account_id), self.hand_over_to,
                                self, announce=lambda key: bus.emit(HANDOVER_WAITING, key))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.handedOver.connect(lambda line: self.notice.confirm(f"<b>{fmt.esc(line)}</b>"))
        self.hand_over_dialog = dialog
        dialog.open()
        return dialog

    def show_notification(self, notification: Notification) -> None:
        """The in-window fallback for desktop notifications (no tray): a line in the status
        bar. The banner already shows the top condition with its action; a second banner
        saying the same would only be noise."""
        self.statusBar().showMessage(notification.title, 15000)
        QApplication.alert(self)  # the taskbar entry asks for attention, as a desktop does

    def _sync_pause_action(self, toggled: bool = False) -> None:
        """Pause all sending says what it did: the button, and a banner until resumed."""
        self.pause_all.setText(self.tray.pause_action.text())
        self.sending_paused.show_paused(len(self.tray.paused_by_us))
        if toggled and not self.tray.paused_by_us:
            self.statusBar().showMessage(self.tray.last_toggle_words, 8000)

    # --- selection helpers ------------------------------------------------------------------------

    def selected_account_id(self) -> int | None:
        return self.accounts_tab.selected_id()

    def select_account(self, account_id: int) -> None:
        self.accounts_tab.select(account_id)

    def select_campaign(self, campaign_id: int) -> None:
        self.campaigns_tab.select(campaign_id)

    def _focus_search(self) -> None:
        self.tabs.setCurrentIndex(0)
        self.accounts_tab.focus_search()

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
        if account_id is not None:
            self.check_mailboxes([account_id])

    def check_mailboxes(self, account_ids: list[int]) -> None:
        """Test these mailboxes now (Test Connection, a condition's Check now)."""
        if self.ctx.monitor is None:
            return
        for account_id in account_ids:
            self.ctx.spawn(self.ctx.monitor.check_account(account_id, "manual"), "test")

    def maintenance_selected(self) -> None:
        account_id = self.selected_account_id()
        self.open_maintenance(self._mailbox_email(account_id) if account_id is not None
                              else None)

    def open_maintenance(self, email: str | None = None) -> MaintenanceDialog:
        """Mute a mailbox, a domain or everything for a while; see and end the windows."""
        dialog = MaintenanceDialog(self.ctx, email, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.maintenance_dialog = dialog
        dialog.open()
        return dialog

    def act(self, card: Card, action: str, target: int | None = None) -> None:
        """A condition's button, pressed on any surface (`condition_actions.perform`)."""
        perform(self, card, action, target)

    def show_campaign(self, campaign_id: int) -> None:
        self.stack.setCurrentWidget(self.content)
        self.tabs.setCurrentIndex(1)
        self.select_campaign(campaign_id)
        self.bring_to_front()

    def open_notifications(self) -> QWidget:
        from mailmonitor.ui.notifications_dialog import NotificationsDialog

        dialog = NotificationsDialog(self.ctx, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def switch_sign_in(self, account_id: int) -> QWidget | None:
        """A provider change's way out (the radar's card): switch the mailbox to its provider's
        browser sign-in; when the provider is not clear, the Edit mailbox dialog offers both."""
        from mailmonitor.ui.edit_account import open_edit_account
        from mailmonitor.ui.switch_sign_in import open_switch, suggested_kind

        account = Account.get_or_none(Account.id == account_id)
        if account is None or account.removed_at is not None:
            self.open_alerts()
            return None
        kind = suggested_kind(account)
        if kind is None or account.is_oauth:
            return open_edit_account(self.ctx, account_id, self)
        return open_switch(self.ctx, account_id, kind, self)

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
        self.notice.confirm(f"<b>{fmt.esc(text)}</b> Leads continue where they left off.")
        self.ctx.attention_changed()  # its card and the banner go now, not at the next tick

    def open_alerts(self) -> AlertsDialog:
        if self.alerts_dialog is None:
            dialog = AlertsDialog(self.ctx, self)
            dialog.actionRequested.connect(self.act)
            self.alerts_dialog = dialog
        self.ctx.attention.refresh()  # read now: every surface shows what the list shows
        self.alerts_dialog.show()
        self.alerts_dialog.raise_()
        return self.alerts_dialog

    def open_reallocate(self, campaign_id: int) -> ReallocateDialog:
        dialog = ReallocateDialog(self.ctx, campaign_id, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.addMailboxRequested.connect(self.add_mailbox_to)
        self.reallocate_dialog = dialog
        dialog.open()
        return dialog

    def add_mailbox_to(self, campaign_id: int) -> QWidget:
        """The campaign's editor at its mailboxes (nothing of it could take its leads)."""
        return open_edit_campaign(self.ctx, campaign_id, self, focus_mailboxes=True)

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
            waits = "" if can_send(campaign) else f"; {WAITING_FOR_A_MAILBOX}"
            self.statusBar().showMessage(
                f"Campaign “{campaign.name}” created with {fmt.count(leads, 'lead')}{waits}.",
                15000 if waits else 8000)

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

    def open_deliverability_settings(self) -> SettingsDialog:
        dialog = self.open_settings()
        dialog.tabs.setCurrentWidget(dialog.deliverability)
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
        self.update_alert_badge()
        self.accounts_model.clear_caches()
        self.campaigns_tab.restyle()
        self.update_summary()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Watches the application for its Quit event: see closeEvent."""
        if event.type() == QEvent.Type.Quit:
            self._app_quitting = True
        return False

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
        if self._app_quitting:
            # The application itself is quitting (the session ends, Quit from outside): Qt
            # closes every window first and a refused close would cancel the quit. Go.
            event.accept()
            self.quitRequested.emit()
            return
        # Without a tray, a closed window would stop monitoring without a word: ask.
        event.ignore()
        self.ask_keep_monitoring()

    def ask_keep_monitoring(self) -> QMessageBox:
        if showing(self.close_box):
            return self.close_box
        box = QMessageBox(QMessageBox.Icon.Question, "Keep monitoring?",
                          "Closing mailmonitor stops monitoring your mailboxes and sending "
                          "your campaigns.", QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("keepMonitoring")
        box.setInformativeText("This desktop has no tray to keep mailmonitor in. Minimize it "
                               "instead to keep it watching in the background.")
        keep = box.addButton("Keep monitoring (minimize)", QMessageBox.ButtonRole.AcceptRole)
        quit_button = box.addButton("Quit", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        box.setEscapeButton(cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(_result: int) -> None:
            if box.clickedButton() is keep:
                self.showMinimized()
            elif box.clickedButton() is quit_button:
                self.quitRequested.emit()

        box.finished.connect(answered)
        self.close_box = box
        box.open()
        return box
