"""The tray icon (shaped and coloured by the worst status), its tooltip and menu, and
notifications.

The tooltip and the menu render the attention model's conditions in its order, as the alerts
list does: the tooltip names the top ones, the menu offers each one's action (Reconnect, …).
Which conditions notify, how they are coalesced and how often is decided by the Qt-free
`services.alerts.notifications.NotificationPolicy`. Where there is no tray (always offscreen,
and on some desktops) notifications go to the window's status bar instead (the window's banner
already shows the top condition), and the window stays open."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from mailmonitor.models import Campaign
from mailmonitor.models.states import CampaignStatus, PauseReason
from mailmonitor.services.alerts import notifications as policy_service
from mailmonitor.services.alerts.attention import CHECK_SENT, RECONNECT
from mailmonitor.services.alerts.cards import ACTION_LABELS, Card, needing, things_need_you
from mailmonitor.services.alerts.notifications import Notification, NotificationPolicy
from mailmonitor.services.sending.control import pause_all_sending, resume_sending
from mailmonitor.ui import format as fmt
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.icons import app_icon, status_icon
from mailmonitor.ui.palette import worst_status
from mailmonitor.wording import count, verb


class NotificationSink(Protocol):
    def show_notification(self, notification: Notification) -> None: ...


MENU_CONDITIONS = 5  # conditions in the menu; the rest are counted
TOOLTIP_CONDITIONS = 3
MENU_TITLE = 70


def tray_available() -> bool:
    return bool(QSystemTrayIcon.isSystemTrayAvailable())


def tooltip_text(status_line: str, loud: list[Card]) -> str:
    """'mailmonitor — 4 connected · 1 needs attention', then what needs the rep, most urgent
    first."""
    lines = [f"mailmonitor — {status_line}"]
    if loud:
        lines.append(things_need_you(len(loud)) + ":")
        lines += [f"• {card.title}" for card in loud[:TOOLTIP_CONDITIONS]]
        if len(loud) > TOOLTIP_CONDITIONS:
            lines.append(f"…and {len(loud) - TOOLTIP_CONDITIONS} more")
    return "\n".join(lines)


class TrayController(QObject):
    """Signals:
        openRequested(): show the window.
        checkAllRequested(): Check all now.
        wizardRequested(int): a notification about one mailbox was clicked.
        alertsRequested(): a notification about several things (or "…more") was clicked.
        actionRequested(object, str, object): a condition's entry in the menu — the card, the
            action and its target id (None: the card's own).
        quitRequested(): Quit from the menu.
    """

    openRequested = Signal()
    checkAllRequested = Signal()
    wizardRequested = Signal(int)
    alertsRequested = Signal()
    actionRequested = Signal(object, str, object)
    quitRequested = Signal()

    def __init__(self, ctx: UiContext, counts: Callable[[], dict[str, int]],
                 fallback: NotificationSink, policy: NotificationPolicy | None = None,
                 use_tray: bool | None = None, parent: QObject | None = None,
                 conditions: Callable[[], list[Card]] | None = None,
                 scope: Callable[[], str | None] | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.counts = counts
        # Whose mailboxes `counts` and `conditions` speak of ("Mine", "Everyone"; None: unnamed)
        self.scope = scope or (lambda: None)
        # The open conditions that reach this rep, in the attention model's order
        self.conditions = conditions or (lambda: [])
        self.fallback = fallback
        self.policy = policy or NotificationPolicy(ctx.clock)
        self.paused_by_us: list[int] = []
        self.last_notification: Notification | None = None
        self.tray: QSystemTrayIcon | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.poll_notifications)
        self.pause_action = QAction("Pause all sending", self)
        self.last_toggle_words = ""  # what the last Pause all / Resume did, for the window
        self.pause_action.triggered.connect(self.toggle_sending)
        self.status_action = QAction("", self)
        self.status_action.setEnabled(False)  # a line of text, not a command
        self.condition_actions: list[QAction] = []
        self.menu = self._build_menu()
        if tray_available() if use_tray is None else use_tray:
            self._make_tray()
        # New alerts come in bursts (an outage breaks many mailboxes): look once it settled.
        self._poll_soon = QTimer(self)
        self._poll_soon.setSingleShot(True)
        self._poll_soon.setInterval(ctx.coalesce_ms * 5)
        self._poll_soon.timeout.connect(self.poll_notifications)
        ctx.bridge.alertsChanged.connect(self._poll_soon.start)
        self.refresh()

    @property
    def available(self) -> bool:
        return self.tray is not None

    def _build_menu(self) -> QMenu:
        """Status line, an entry per condition that needs the rep (its action), then the
        commands."""
        menu = QMenu()
        menu.setObjectName("trayMenu")
        menu.addAction(self.status_action)
        self._conditions_anchor = menu.addSeparator()
        menu.addAction("Open mailmonitor", self.openRequested.emit)
        menu.addAction("Check all now", self.checkAllRequested.emit)
        menu.addAction(self.pause_action)
        menu.addSeparator()
        menu.addAction("Quit", self.quitRequested.emit)
        return menu

    def _refresh_menu(self, counts: dict[str, int], loud: list[Card],
                      scope: str | None = None) -> None:
        self.status_action.setText(fmt.status_summary(counts, scope) if counts or scope
                                   else "No mailboxes yet")
        for action in self.condition_actions:
            self.menu.removeAction(action)
            action.deleteLater()
        self.condition_actions = []
        for card in loud[:MENU_CONDITIONS]:
            self._add_condition(card)
        if len(loud) > MENU_CONDITIONS:
            more = QAction(f"…and {len(loud) - MENU_CONDITIONS} more (Alerts)", self)
            more.triggered.connect(lambda _c=False: self.alertsRequested.emit())
            self.menu.insertAction(self._conditions_anchor, more)
            self.condition_actions.append(more)

    def _add_condition(self, card: Card) -> None:
        """'<title> — Reconnect': the condition's action; Reconnect of several mailboxes is a
        submenu to pick one; a condition without an action opens the alerts."""
        title = card.title if len(card.title) <= MENU_TITLE else card.title[:MENU_TITLE - 1] + "…"
        label = ACTION_LABELS.get(card.action or "") if card.action != CHECK_SENT else \
            "Check the Sent folder"
        action = QAction(f"{title} — {label}" if label else title, self)
        ids = card.account_ids
        if card.action == RECONNECT and len(ids) > 1:
            submenu = QMenu(self.menu)
            for mailbox in card.mailboxes:
                if mailbox.id is not None:
                    entry = submenu.addAction(f"Reconnect {mailbox.email}")
                    entry.triggered.connect(
                        lambda _c=False, c=card, a=mailbox.id: self.actionRequested.emit(
                            c, RECONNECT, a))
            action.setMenu(submenu)
        elif card.action and card.action != CHECK_SENT:
            action.triggered.connect(
                lambda _c=False, c=card: self.actionRequested.emit(c, c.action, None))
        else:  # two answers, or nothing to press: the card in the alerts list says more
            action.triggered.connect(lambda _c=False: self.alertsRequested.emit())
        self.menu.insertAction(self._conditions_anchor, action)
        self.condition_actions.append(action)

    def _make_tray(self) -> None:
        tray = QSystemTrayIcon(app_icon(), self)
        menu = self.menu
        tray.setContextMenu(menu)
        self._menu = menu
        tray.activated.connect(self._activated)
        tray.messageClicked.connect(self.notification_clicked)
        tray.show()
        self.tray = tray

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.openRequested.emit()

    def refresh(self) -> None:
        """The icon follows the mailboxes' statuses; the tooltip and the menu name the
        conditions that need the rep, in the attention model's order."""
        counts = self.counts()
        worst = worst_status(status for status, n in counts.items() if n)
        self.worst = worst
        scope = self.scope()
        loud = needing(self.conditions())
        self.tooltip = tooltip_text(fmt.status_summary(counts, scope), loud)
        self._refresh_menu(counts, loud, scope)
        if self.tray is not None:
            self.tray.setIcon(status_icon(worst) if counts else app_icon())
            self.tray.setToolTip(self.tooltip)

    # --- notifications ------------------------------------------------------------------------

    def poll_notifications(self) -> Notification | None:
        """Offer new alerts to the policy and show what it lets through now; if it holds some
        back (rate limit), come back when they are due."""
        if not policy_service.notifications_enabled():
            return None
        self.policy.offer(policy_service.new_notices())
        self.policy.withdraw(policy_service.still_open(n.alert_id for n in self.policy.pending))
        notification = self.policy.take()
        if notification is not None:
            self.last_notification = notification
            policy_service.mark_notified(notification.alert_ids)
            if self.tray is not None and QSystemTrayIcon.supportsMessages():
                icon = status_icon(policy_service.status_of_notification(notification.alert_ids))
                self.tray.showMessage(notification.title, notification.message, icon, 15000)
            else:
                self.fallback.show_notification(notification)
        due = self.policy.next_due()
        if due is not None:
            wait = max(0.0, (due - self.ctx.clock.now()).total_seconds())
            self._timer.start(int(wait * 1000) + 50)
        return notification

    def notification_clicked(self) -> None:
        notification = self.last_notification
        if notification is not None and notification.account_id is not None:
            self.wizardRequested.emit(notification.account_id)
        else:
            self.alertsRequested.emit()

    # --- Pause all sending / Resume -------------------------------------------------------------

    def toggle_sending(self, *_args: Any) -> None:
        now = self.ctx.clock.now()
        if self.paused_by_us:
            running = resume_sending(self.paused_by_us, now)
            self.last_toggle_words = f"Sending resumed: {count(running, 'campaign')} " \
                f"{verb(running, 'runs', 'run')} again."
            self.paused_by_us = []
            self.pause_action.setText("Pause all sending")
        else:
            self.paused_by_us = pause_all_sending(now)
            if self.paused_by_us:
                self.pause_action.setText("Resume sending")
            else:
                self.last_toggle_words = "No campaign is sending: there was nothing to pause."
        self.ctx.attention_changed()

    def forget_resumed(self) -> None:
        """Campaigns the rep resumed (or changed) one by one are no longer held by Pause all."""
        still = {c.id for c in Campaign.select(Campaign.id).where(
            Campaign.id.in_(self.paused_by_us) & (Campaign.status == CampaignStatus.PAUSED)
            & (Campaign.pause_reason == PauseReason.USER))}
        self.paused_by_us = [c for c in self.paused_by_us if c in still]
        if not self.paused_by_us:
            self.pause_action.setText("Pause all sending")

    def hide(self) -> None:
        if self.tray is not None:
            self.tray.hide()
