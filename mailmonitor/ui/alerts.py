"""The open alerts as cards, one per broken mailbox with its campaigns nested
(`services.alerts.grouping`), each with only the actions that can succeed now
(`services.alerts.actions`): Reconnect → wizard or Resume sending on the card, Re-allocate… or
Add a mailbox to this campaign… per campaign, Dismiss. Resolved alerts disappear by themselves:
the list follows `alertsChanged`."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QTimer, Signal
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
from mailmonitor.services.alerts.actions import ADD_MAILBOX, REALLOCATE, RECONNECT, RESUME_SENDING
from mailmonitor.services.alerts.grouping import AlertGroup, group_alerts
from mailmonitor.ui import format as fmt
from mailmonitor.ui import keyboard
from mailmonitor.ui.alert_card import AlertCard
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.widgets import discard

MAX_CARDS = 200  # more than this is a wall nobody reads; the count says how many there are


def open_alert_count() -> int:
    """What the badge counts: the cards of the alerts list (one per broken mailbox), not the
    alerts behind them."""
    if not Alert.select().where(Alert.resolved_at.is_null()).exists():
        return 0
    return len(group_alerts(alert_service.open_alerts()))


class AlertsDialog(QDialog):
    """Signals:
        reconnectRequested(int): open the reconnect wizard for this account.
        reallocateRequested(int): open the re-allocate dialog for this campaign.
        addMailboxRequested(int): open this campaign's editor at its mailboxes.
    """

    reconnectRequested = Signal(int)
    reallocateRequested = Signal(int)
    addMailboxRequested = Signal(int)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("alertsDialog")
        self.setWindowTitle("Alerts")
        self.resize(620, 520)
        self.header = QLabel()
        self.header.setObjectName("heading")
        self.cards: list[AlertCard] = []
        self.groups: list[AlertGroup] = []
        self.more = QLabel()
        self.more.setObjectName("muted")
        self.list = QWidget()
        self.list_layout = QVBoxLayout(self.list)
        self.list_layout.setSpacing(8)
        self.list_layout.addStretch(1)
        scroll = QScrollArea()
        self.scroll_area = scroll
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
        """One card per broken mailbox (campaigns nested), most severe first. Cards whose words
        did not change stay as they are, and the scroll position is kept: nothing jumps."""
        open_alerts = alert_service.open_alerts()
        groups = group_alerts(open_alerts)
        self.groups = groups
        total = len(groups)
        self.header.setText("Nothing needs you right now." if not total else
                            f"{fmt.count(total, 'thing needs', 'things need')} you"
                            if any(g.severity != "info" for g in groups) else
                            fmt.count(total, "note"))
        now = self.ctx.clock.now()
        bar = self.scroll_area.verticalScrollBar()
        position = bar.value()
        old = {card.key: card for card in self.cards}
        cards: list[AlertCard] = []
        for group in groups[:MAX_CARDS]:
            card = old.pop(group.key, None)
            if card is not None and card.group.signature == group.signature:
                card.group = group
                card.when.setText(fmt.relative_time(group.updated_at, now))
            else:
                if card is not None:
                    discard(card)
                card = self._card(group, fmt.relative_time(group.updated_at, now))
            cards.append(card)
        for card in old.values():
            discard(card)
        for position_in_list, card in enumerate(cards):
            self.list_layout.insertWidget(position_in_list, card)  # moves, or adds
        self.cards = cards
        self.more.setText(f"…and {total - MAX_CARDS} more" if total > MAX_CARDS else "")
        self.more.setVisible(total > MAX_CARDS)
        self.list_layout.insertWidget(len(self.cards), self.more)
        bar.setValue(position)

    def _card(self, group: AlertGroup, when: str) -> AlertCard:
        card = AlertCard(group, when)
        buttons = card.action_buttons
        # The buttons are those `actions.actions_for` allows (see `grouping`); each goes to
        # the account or campaign it was decided for.
        fixes = {RECONNECT: self.reconnectRequested.emit, RESUME_SENDING: self.resume}
        for name, fix in fixes.items():
            if name in buttons and name in group.targets:
                buttons[name].clicked.connect(
                    lambda _c=False, f=fix, a=group.targets[name]: f(a))
        if "went_out" in buttons and group.account_id is not None:
            buttons["went_out"].clicked.connect(
                lambda _c=False, a=group.account_id: self.settle_unknown(a, True))
            buttons["send_again"].clicked.connect(
                lambda _c=False, a=group.account_id: self.settle_unknown(a, False))
        buttons["dismiss"].clicked.connect(lambda _c=False, k=group.key: self.dismiss(k))
        per_campaign = {REALLOCATE: self.reallocateRequested.emit,
                        ADD_MAILBOX: self.addMailboxRequested.emit}
        for campaign_id, button in card.campaign_buttons.items():
            request = per_campaign[group.campaign_actions[campaign_id]]
            button.clicked.connect(lambda _c=False, r=request, c=campaign_id: r(c))
        keyboard.no_auto_default(card)
        return card

    def resume(self, account_id: int) -> None:
        from mailmonitor.services.deliverability.holds import NotHeld
        from mailmonitor.services.placement import overview

        with contextlib.suppress(NotHeld):  # resumed elsewhere meanwhile: just refresh
            overview.resume_sending(account_id, self.ctx.clock.now())
        self.refresh()

    def settle_unknown(self, account_id: int, delivered: bool) -> None:
        from mailmonitor.services.sending.reconcile import resolve_unknown_sends

        account = Account.get_or_none(Account.id == account_id)
        if account is not None:
            resolve_unknown_sends(account, delivered, self.ctx.clock.now())
        self.refresh()

    def dismiss(self, group_key: str) -> None:
        """Resolve every alert of the card; the other cards stay where they are."""
        group = next((g for g in self.groups if g.key == group_key), None)
        if group is None:
            return
        now = self.ctx.clock.now()
        for key in group.alert_keys:
            alert_service.resolve_alert(key, now)
        self.refresh()
