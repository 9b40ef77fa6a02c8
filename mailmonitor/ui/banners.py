"""The main window's banners: which mailboxes need the rep now (`AttentionBanner`), the
in-window fallback for desktop notifications when there is no tray (`NoticeBanner`), and the
one that holds everything when the database cannot be written (`StorageBanner`). They offer the
action that helps (Reconnect, Show alerts, Quit) as signals; the window acts on them."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from mailmonitor.services.alerts.notifications import Notification
from mailmonitor.services.common.reasons import label_for
from mailmonitor.ui.format import esc
from mailmonitor.ui.models import AccountRow
from mailmonitor.ui.widgets import Banner

NAMED = 3  # mailboxes named in the banner; the rest are counted


class AttentionBanner(Banner):
    """Signals:
        reconnectRequested(int): reconnect this account (the first one named).
        alertsRequested(): show the alerts.
    """

    reconnectRequested = Signal(int)
    alertsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("error", parent)
        self.setObjectName("attentionBanner")
        self.hide()

    def show_accounts(self, rows: Sequence[AccountRow]) -> None:
        """The disconnected mailboxes (hidden when there are none)."""
        self.clear_actions()
        if not rows:
            self.hide()
            return
        rows = sorted(rows, key=lambda r: r.email)
        named = ", ".join(
            f"<b>{esc(r.email)}</b> ({esc(label_for(r.status, r.reason))})"
            for r in rows[:NAMED]) + (f" and {len(rows) - NAMED} more"
                                      if len(rows) > NAMED else "")
        if len(rows) == 1:
            self.set_message(f"1 mailbox needs you: {named}. Its leads wait and continue where "
                             "they left off after you reconnect.")
        else:
            self.set_message(f"{len(rows)} mailboxes need you: {named}. Their leads wait and "
                             "continue where they left off after you reconnect.")
        first = rows[0].id
        self.add_action("Reconnect" if len(rows) == 1 else f"Reconnect {rows[0].email}",
                        lambda: self.reconnectRequested.emit(first), primary=True)
        self.add_action("Show alerts", self.alertsRequested.emit)
        self.show()


class NoticeBanner(Banner):
    """A notification shown in the window (no tray, or the tray cannot show messages).

    Signals:
        reconnectRequested(int): the notification was about this account; Reconnect pressed.
        alertsRequested(): Show alerts pressed.
    """

    reconnectRequested = Signal(int)
    alertsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("info", parent)
        self.setObjectName("noticeBanner")
        self.hide()

    def show_notification(self, notification: Notification) -> None:
        self.clear_actions()
        self.set_severity("warning")
        self.set_message(f"<b>{esc(notification.title)}</b><br>"
                         + esc(notification.message).replace("\n", "<br>"))
        if notification.account_id is not None:
            account_id = notification.account_id
            self.add_action("Reconnect", lambda: self._reconnect(account_id), primary=True)
        else:
            self.add_action("Show alerts", self._alerts, primary=True)
        self.add_action("Dismiss", self.hide)
        self.show()

    def _reconnect(self, account_id: int) -> None:
        self.hide()
        self.reconnectRequested.emit(account_id)

    def _alerts(self) -> None:
        self.hide()
        self.alertsRequested.emit()


class StorageBanner(Banner):
    """The database cannot be written (full disk, read-only data folder, damaged file):
    nothing can be recorded, so mailmonitor stopped checking and sending. It stays until
    mailmonitor is restarted (what was in flight is settled then); it cannot be dismissed.

    Signals:
        quitRequested(): Quit pressed (the rep frees space, then starts mailmonitor again).
    """

    quitRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("error", parent)
        self.setObjectName("storageBanner")
        self.hide()

    def show_problem(self, line: str) -> None:
        self.clear_actions()
        self.set_message("<b>Sending is held: mailmonitor cannot write its data.</b> "
                         + esc(line[:1].upper() + line[1:]) + ". Nothing is lost: what was "
                         "in flight is settled when mailmonitor starts again.")
        self.add_action("Quit mailmonitor", self.quitRequested.emit, primary=True)
        self.show()
