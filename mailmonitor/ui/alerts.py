"""All open alerts, each with its action (Reconnect → wizard, Re-allocate, Dismiss). Resolved
alerts disappear by themselves: the list follows `alertsChanged`."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.models import Account, Alert
from mailmonitor.services.alerts import registry as alert_service
from mailmonitor.services.monitoring.reasons import Status
from mailmonitor.ui import format as fmt
from mailmonitor.ui import keyboard
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.icons import status_icon
from mailmonitor.ui.widgets import SEVERITY_STATUS, discard

MAX_CARDS = 200  # more than this is a wall nobody reads; the count says how many there are

RECONNECT_KINDS = ("account_disconnected", "account_reminder", "grace_ending", "leads_halted")
REALLOCATE_KINDS = ("leads_halted", "campaign_paused")


def open_alert_count() -> int:
    return int(Alert.select().where(Alert.resolved_at.is_null()).count())



class AlertCard(QFrame):
    def __init__(self, alert: Alert, now_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.alert_id = alert.id
        self.setObjectName("alertCard")
        self.setProperty("severity", alert.severity)
        icon = QLabel()
        icon.setPixmap(status_icon(SEVERITY_STATUS.get(alert.severity, "checking"))
                       .pixmap(20, 20))
        title = QLabel(f"<b>{fmt.esc(alert.title)}</b>")
        title.setWordWrap(True)
        message = QLabel(fmt.esc(alert.message))
        message.setWordWrap(True)
        message.setVisible(bool(alert.message))
        when = QLabel(now_text)
        when.setObjectName("muted")
        self.buttons = QHBoxLayout()
        self.buttons.addStretch(1)
        self.action_buttons: dict[str, QPushButton] = {}
        text = QVBoxLayout()
        text.setSpacing(3)
        text.addWidget(title)
        text.addWidget(message)
        text.addWidget(when)
        text.addLayout(self.buttons)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(text, 1)

    def add_button(self, text: str, name: str, primary: bool = False) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setProperty("primary", primary)
        self.buttons.addWidget(button)
        self.action_buttons[name] = button
        return button


class AlertsDialog(QDialog):
    """Signals:
        reconnectRequested(int): open the reconnect wizard for this account.
        reallocateRequested(int): open the re-allocate dialog for this campaign.
    """

    reconnectRequested = Signal(int)
    reallocateRequested = Signal(int)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("alertsDialog")
        self.setWindowTitle("Alerts")
        self.resize(620, 520)
        self.header = QLabel()
        self.header.setObjectName("heading")
        self.cards: list[AlertCard] = []
        self.more = QLabel()
        self.more.setObjectName("muted")
        self.list = QWidget()
        self.list_layout = QVBoxLayout(self.list)
        self.list_layout.setSpacing(8)
        self.list_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.list)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(scroll, 1)
        layout.addLayout(bottom)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(ctx.coalesce_ms)
        self._refresh_timer.timeout.connect(self.refresh)
        ctx.bridge.alertsChanged.connect(self._refresh_timer.start)
        ctx.bridge.accountsBatch.connect(lambda _ids: self._refresh_timer.start())
        self.refresh()
        keyboard.install(self)

    def refresh(self) -> None:
        for card in self.cards:
            discard(card)
        self.cards = []
        open_alerts = alert_service.open_alerts()
        total = len(open_alerts)
        self.header.setText("Nothing needs you right now." if not total
                            else f"{fmt.count(total, 'open alert')}")
        now = self.ctx.clock.now()
        broken = {a.id for a in Account.select(Account.id).where(
            Account.status.in_((Status.DISCONNECTED.value, Status.STOPPED.value))
            & Account.removed_at.is_null())}
        for position, alert in enumerate(open_alerts[:MAX_CARDS]):
            card = AlertCard(alert, fmt.relative_time(alert.updated_at, now))
            if alert.kind in RECONNECT_KINDS and alert.account_id in broken:
                button = card.add_button("Reconnect", "reconnect", primary=True)
                button.clicked.connect(
                    lambda _c=False, a=alert.account_id: self.reconnectRequested.emit(a))
            if alert.kind in REALLOCATE_KINDS and alert.campaign_id is not None:
                button = card.add_button("Re-allocate…", "reallocate")
                button.clicked.connect(
                    lambda _c=False, c=alert.campaign_id: self.reallocateRequested.emit(c))
            if alert.kind == "send_unknown" and alert.account_id is not None:
                went = card.add_button("They went out", "went_out")
                went.setToolTip("You found them in the Sent folder: they stay counted")
                went.clicked.connect(
                    lambda _c=False, a=alert.account_id: self.settle_unknown(a, True))
                again = card.add_button("Send again", "send_again")
                again.setToolTip("Not in the Sent folder: each goes out again from its step")
                again.clicked.connect(
                    lambda _c=False, a=alert.account_id: self.settle_unknown(a, False))
            dismiss = card.add_button("Dismiss", "dismiss")
            dismiss.clicked.connect(lambda _c=False, key=alert.key: self.dismiss(key))
            self.list_layout.insertWidget(position, card)
            self.cards.append(card)
        self.more.setText(f"…and {total - MAX_CARDS} more" if total > MAX_CARDS else "")
        self.more.setVisible(total > MAX_CARDS)
        self.list_layout.insertWidget(len(self.cards), self.more)

    def settle_unknown(self, account_id: int, delivered: bool) -> None:
        from mailmonitor.services.sending.reconcile import resolve_unknown_sends

        account = Account.get_or_none(Account.id == account_id)
        if account is not None:
            resolve_unknown_sends(account, delivered, self.ctx.clock.now())
        self.refresh()

    def dismiss(self, key: str) -> None:
        alert_service.resolve_alert(key, self.ctx.clock.now())
        self.refresh()
