"""The open conditions as cards, read once per change and shared by every surface of the window:
the alerts list, the banner, the campaign view's banners, the tray and the status bar all render
`AttentionFeed.cards` (``services.alerts.cards``: the attention model's conditions, in its
order). It reads them again when the bridge says the alerts changed (coalesced: a burst is one
read) and every half minute, so the time left to a deadline and a maintenance window that ended
are never stale, also in a window whose alerts another copy reconciles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QObject, QTimer, Signal

from mailmonitor.services.alerts.cards import Card, needing, open_cards
from mailmonitor.ui.bridge import EventBridge

TICK_MS = 30_000


class AttentionFeed(QObject):
    """Signals:
        changed(): `cards` were read again (also when they stayed the same: times tick on).
    """

    changed = Signal()

    def __init__(self, bridge: EventBridge, now: Callable[[], datetime], coalesce_ms: int,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.now = now
        self.cards: list[Card] = []
        self.loaded = False
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(coalesce_ms)
        self._soon.timeout.connect(self.refresh)
        bridge.alertsChanged.connect(self._soon.start)
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self.refresh)

    def start(self) -> None:
        """Read now, then follow the changes (the database must be open)."""
        self.refresh()
        self._tick.start()

    def refresh(self) -> None:
        self._soon.stop()
        self.cards = open_cards(self.now())
        self.loaded = True
        self.changed.emit()

    def current(self) -> list[Card]:
        """The cards (read first if nothing was read yet)."""
        if not self.loaded:
            self.refresh()
        return self.cards

    @property
    def needing(self) -> list[Card]:
        """The open conditions that are not muted, most urgent first."""
        return needing(self.current())

    def card(self, key: str) -> Card | None:
        return next((c for c in self.current() if c.key == key), None)
