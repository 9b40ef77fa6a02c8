"""The alerts list: one card per open condition, in the attention model's order (deadlines
first, then broken mailboxes that hold leads, …, muted last), rendered from the window's
`AttentionFeed`. A condition cannot be dismissed — it goes when its cause goes — but its
mailboxes can be muted for a while (Mute…: a maintenance window). Cards whose words did not
change stay the same widgets in place, and the scroll position is kept: nothing jumps.

Keyboard: Enter does the main action of the card that has the focus (the top card's when none
has), Esc closes, Tab moves through the cards' buttons."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.services.alerts.cards import Card, needing, things_need_you
from mailmonitor.ui import keyboard
from mailmonitor.ui.alert_card import AlertCard
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.maintenance_dialog import MaintenanceDialog, MuteDialog
from mailmonitor.ui.widgets import discard

MAX_CARDS = 200  # more than this is a wall nobody reads; the count says how many there are
WIDTH, HEIGHT = 760, 640  # fits a 1366×768 screen (728 px usable) with room to spare
SCREEN_MARGIN = 40


def header_text(cards: list[Card]) -> str:
    """'3 things need you' (open, not muted), '· 1 muted' when some are."""
    loud = len(needing(cards))
    quiet = len(cards) - loud
    text = things_need_you(loud) if loud or not quiet else "Nothing needs you right now"
    return text + (f" · {quiet:,} muted" if quiet else "")


class AlertsDialog(keyboard.Dialog):
    """Signals:
        actionRequested(object, str, object): a card's action — the card, the action
            (`services.alerts.attention` names, or "send_again") and its target id (an
            account or campaign; None: the card's own).
    """

    actionRequested = Signal(object, str, object)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("alertsDialog")
        self.setWindowTitle("Alerts")
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
        self.scroll_area = scroll
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.list)
        self.maintenance_button = QPushButton("Maintenance…")
        self.maintenance_button.setObjectName("openMaintenance")
        self.maintenance_button.setToolTip("Mute a mailbox, a domain or everything for a while; "
                                           "see and end the current windows")
        self.maintenance_button.clicked.connect(lambda _c=False: self.open_maintenance())
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(self.maintenance_button)
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(scroll, 1)
        layout.addLayout(bottom)
        self.mute_dialog: MuteDialog | None = None
        self.maintenance_dialog: MaintenanceDialog | None = None
        self._fit_screen()
        ctx.attention.changed.connect(self.refresh)
        self.refresh()
        keyboard.install(self)

    def _fit_screen(self) -> None:
        screen = self.screen()
        height = HEIGHT
        if screen is not None:
            height = min(HEIGHT, screen.availableGeometry().height() - SCREEN_MARGIN)
            self.setMaximumHeight(screen.availableGeometry().height())
        self.resize(WIDTH, height)

    def refresh(self) -> None:
        """One card per open condition, in the model's order. A card whose words did not
        change stays as it is (its times tick on)."""
        found = self.ctx.attention.current()
        total = len(found)
        self.header.setText(header_text(found))
        now = self.ctx.clock.now()
        bar = self.scroll_area.verticalScrollBar()
        position = bar.value()
        old = {card.key: card for card in self.cards}
        cards: list[AlertCard] = []
        for card in found[:MAX_CARDS]:
            widget = old.pop(card.key, None)
            if widget is not None and widget.card.signature == card.signature:
                widget.card = card
                widget.update_times(now)
            else:
                if widget is not None:
                    discard(widget)
                widget = self._card(card, now)
            cards.append(widget)
        for widget in old.values():
            discard(widget)
        for index, widget in enumerate(cards):
            self.list_layout.insertWidget(index, widget)  # moves, or adds
        self.cards = cards
        self.more.setText(f"…and {total - MAX_CARDS:,} more" if total > MAX_CARDS else "")
        self.more.setVisible(total > MAX_CARDS)
        self.list_layout.insertWidget(len(self.cards), self.more)
        # The top card's main action is the dialog's default: where the focus starts.
        top = next((c for c in cards if not c.card.muted and c.primary is not None), None)
        for widget in cards:
            if widget.primary is not None:
                widget.primary.setDefault(widget is top)
        bar.setValue(position)
        if self.isVisible():
            keyboard.keep_focus_safe(self)

    def _card(self, card: Card, now: datetime) -> AlertCard:
        widget = AlertCard(card, now)
        widget.actionRequested.connect(
            lambda action, target, w=widget: self.actionRequested.emit(w.card, action, target))
        widget.muteRequested.connect(lambda w=widget: self.open_mute(w.card))
        widget.maintenanceRequested.connect(
            lambda w=widget: self.open_maintenance(w.card.emails[0] if w.card.emails else None))
        keyboard.no_auto_default(widget)
        return widget

    def card_for(self, key: str) -> AlertCard | None:
        return next((c for c in self.cards if c.key == key), None)

    def open_mute(self, card: Card) -> MuteDialog:
        """Mute the card's mailboxes; the dialog names the other conditions that go quiet with
        them (a maintenance window covers mailboxes, not one condition)."""
        emails = {e.lower() for e in card.emails}
        also = [c.title for c in self.ctx.attention.current()
                if c.key != card.key and not c.muted and c.emails
                and {e.lower() for e in c.emails} <= emails]
        dialog = MuteDialog(self.ctx, card.emails, self, also=also)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.mute_dialog = dialog
        dialog.open()
        return dialog

    def open_maintenance(self, email: str | None = None) -> MaintenanceDialog:
        dialog = MaintenanceDialog(self.ctx, email, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.maintenance_dialog = dialog
        dialog.open()
        return dialog

    def focused_card(self) -> AlertCard | None:
        focus = self.focusWidget()
        return next((c for c in self.cards if focus is not None and c.isAncestorOf(focus)),
                    None)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter: the main action of the focused card, else of the top card that needs the
        rep; with nothing to do, Enter closes like Esc."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                event.modifiers() in (Qt.KeyboardModifier.NoModifier,
                                      Qt.KeyboardModifier.KeypadModifier):
            card = self.focused_card() or next(
                (c for c in self.cards if not c.card.muted and c.primary is not None), None)
            if card is None or not card.press_primary():
                self.close()
            event.accept()
            return
        super().keyPressEvent(event)
