"""The main window's banners: the one condition that needs the rep most (`AttentionBanner`),
the strip that confirms what the rep just did (`NoticeBanner`: "cleo reconnected; leads
continue"), the line that says the team database is out of reach (`TeamDatabaseBanner`), and
the one that holds everything when the database cannot be written
(`StorageBanner`). Conditions have exactly one banner: desktop notifications without a tray go
to the status bar, never to a second banner saying the same thing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QPushButton, QWidget

from mailmonitor.services.alerts.cards import Card, needing
from mailmonitor.services.team.reachability import Outage
from mailmonitor.ui.alert_card import mailbox_menu, main_actions
from mailmonitor.ui.format import esc
from mailmonitor.ui.widgets import Banner
from mailmonitor.wording import count

# A condition's severity → the banner's colour.
BANNER_SEVERITY = {"critical": "error", "warning": "warning", "info": "info"}


def add_condition_buttons(banner: Banner, card: Card,
                          act: Callable[[Card, str, int | None], None],
                          primary: bool = True) -> None:
    """The condition's main action on a banner, as on its card (Reconnect… with a menu to pick
    the mailbox when it names several)."""
    for spec in main_actions(card):
        # A button with a menu only opens it: its entries act.
        button = banner.add_action(spec.text, _nothing if spec.picks_mailbox else
                                   partial(act, card, spec.action, spec.target),
                                   primary=primary)
        button.setObjectName(spec.action)
        button.setToolTip(spec.tip)
        if spec.picks_mailbox:
            mailbox_menu(button, card, lambda a, t: act(card, a, t))
        primary = False


def _nothing() -> None:
    pass


class AttentionBanner(Banner):
    """The top condition that is not muted: its title, the time left to its deadline, its
    main action, and Show alerts (N) when there is more than one. Hidden when nothing needs
    the rep.

    Signals:
        actionRequested(object, str, object): the card, the action and its target id.
        alertsRequested(): Show alerts pressed.
    """

    actionRequested = Signal(object, str, object)
    alertsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("error", parent)
        self.setObjectName("attentionBanner")
        self.card: Card | None = None
        self._shown: tuple[object, ...] | None = None
        self.hide()

    def show_conditions(self, cards: Sequence[Card], now: datetime) -> None:
        loud = needing(cards)
        if not loud:
            self.card, self._shown = None, None
            self.clear_actions()
            self.hide()
            return
        top = loud[0]
        self.card = top
        deadline = top.deadline_text(now)
        self.setToolTip(top.message)
        self.set_message(f"<b>{esc(top.title)}</b>"
                         + (f"<br><span style='font-weight:600'>{esc(deadline)}</span>"
                            if deadline else ""))
        shown = (top.signature, len(loud))
        if shown != self._shown:  # the same buttons stay (and keep the focus)
            self._shown = shown
            self.clear_actions()
            self.set_severity(BANNER_SEVERITY.get(top.severity, "warning"))
            add_condition_buttons(self, top, self._act)
            if len(loud) > 1:
                more = self.add_action(f"Show alerts ({len(loud)})", self.alertsRequested.emit,
                                       primary=not top.action)
                more.setObjectName("showAlerts")
            elif not top.action:
                self.add_action("Show alert", self.alertsRequested.emit, primary=True)
        self.show()

    def _act(self, card: Card, action: str, target: int | None) -> None:
        self.actionRequested.emit(card, action, target)


UNDO_SECONDS = 10  # how long Undo is offered after a re-allocation or a removal


class NoticeBanner(Banner):
    """What the rep just did, confirmed ("cleo@… reconnected; 1 campaign resumed"), with
    Dismiss, and Undo for a few seconds where the change can be reversed ("Moved 12 leads…")."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("ok", parent)
        self.setObjectName("noticeBanner")
        self.undo_button: QPushButton | None = None
        self._undo: Callable[[], str] | None = None
        self.undo_timer = QTimer(self)
        self.undo_timer.setSingleShot(True)
        self.undo_timer.timeout.connect(self._undo_expired)
        self.hide()

    def confirm(self, html: str, undo: Callable[[], str] | None = None,
                seconds: int = UNDO_SECONDS) -> None:
        self.clear_actions()
        self.undo_timer.stop()
        self.set_severity("ok")
        self.set_message(html)
        self._undo = undo
        self.undo_button = None
        if undo is not None:
            self.undo_button = self.add_action("Undo", self.undo, primary=True)
            self.undo_button.setObjectName("undo")
            self.undo_button.setToolTip(f"Puts it back as it was (for {seconds} seconds)")
            self.undo_timer.start(seconds * 1000)
        self.add_action("Dismiss", self.hide)
        self.show()

    def undo(self) -> None:
        action, self._undo = self._undo, None
        if action is None:
            return
        self.undo_timer.stop()
        self.confirm(f"<b>{esc(action())}</b>")

    def _undo_expired(self) -> None:
        self._undo = None
        if self.undo_button is not None:
            self.undo_button.hide()  # the moment passed: what was done stays
            self.undo_button = None


class SendingPausedBanner(Banner):
    """Pause all sending holds every campaign until the rep resumes: said as long as it lasts.

    Signals:
        resumeRequested(): Resume sending pressed.
    """

    resumeRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("warning", parent)
        self.setObjectName("sendingPausedBanner")
        self.add_action("Resume sending", self.resumeRequested.emit, primary=True)
        self.hide()

    def show_paused(self, campaigns: int) -> None:
        if campaigns <= 0:
            self.hide()
            return
        self.set_message(f"<b>Sending is paused:</b> you paused {count(campaigns, 'campaign')} "
                         "with Pause all sending. Nothing goes out until you resume; every "
                         "lead keeps its place.")
        self.show()


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


class TeamDatabaseBanner(Banner):
    """The team database cannot be reached: one line ("Team database unreachable since 14:02 —
    sending held"), gone when it is back. Not an alert: the copy reconnects by itself and
    nothing is lost meanwhile; there is nothing for the rep to do, so it has no button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("warning", parent)
        self.setObjectName("teamDatabaseBanner")
        self.outage: Outage | None = None
        self.hide()

    def show_outage(self, outage: Outage | None) -> None:
        self.outage = outage
        if outage is None:
            self.hide()
            return
        self.set_message(f"<b>{esc(outage.text)}</b>")
        self.setToolTip(f"Last error: {outage.error}. mailmonitor reconnects by itself; "
                        "what waits is sent once the database is back.")
        self.show()
