"""One card of the alerts list: one open condition (`services.alerts.cards.Card`) — its
severity as colour, icon and word, its deadline at the top with the time left, what it is and
does in plain words, the mailboxes and campaigns it names, the server's raw answer under Details,
its main action and Mute…. A muted condition is greyed with "Muted until … (note)".

Signals carry what the rep asked for; the dialog (and the window behind it) acts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.services.alerts.attention import CHECK_SENT, RECONNECT
from mailmonitor.services.alerts.cards import (
    ACTION_LABELS,
    ACTION_TIPS,
    SEND_AGAIN_TIP,
    CampaignRef,
    Card,
)
from mailmonitor.ui import format as fmt
from mailmonitor.ui.guide import link_label, page_for_card
from mailmonitor.ui.icons import status_icon
from mailmonitor.ui.palette import status_color
from mailmonitor.ui.probe_progress import DetailsBox
from mailmonitor.ui.widgets import SEVERITY_STATUS

SEND_AGAIN = "send_again"  # the second answer of "check_sent"
MAILBOX_KINDS_WITH_COUNTS = ("mailbox_broken", "mailbox_retrying")


@dataclass(frozen=True)
class ButtonSpec:
    """One button of a condition's main action: its words, tooltip, action and target id
    (None: the card's own; for Reconnect of several mailboxes, a menu picks the target)."""

    text: str
    tip: str
    action: str
    target: int | None

    @property
    def picks_mailbox(self) -> bool:
        return self.action == RECONNECT and self.target is None


def main_actions(card: Card) -> list[ButtonSpec]:
    """The buttons of a condition's main action: Reconnect (Reconnect… with a menu when it
    names several mailboxes), "They went out" / "Send again" for emails that may not have
    gone out, else the action's own label. The card and the banners use the same."""
    if not card.action or card.action not in ACTION_LABELS:
        return []
    if card.action == CHECK_SENT:
        return [ButtonSpec(ACTION_LABELS[CHECK_SENT], ACTION_TIPS[CHECK_SENT], CHECK_SENT,
                           card.account_id),
                ButtonSpec("Send again", SEND_AGAIN_TIP, SEND_AGAIN, card.account_id)]
    if card.action == RECONNECT and len(card.account_ids) > 1:
        return [ButtonSpec("Reconnect…", "Pick the mailbox to reconnect", RECONNECT, None)]
    target = card.account_id if card.mailboxes else card.campaign_id
    return [ButtonSpec(ACTION_LABELS[card.action], ACTION_TIPS.get(card.action, ""),
                       card.action, target)]


def mailbox_menu(button: QPushButton, card: Card,
                 act: Callable[[str, int | None], None]) -> QMenu:
    """Reconnect… of a condition that names several mailboxes: pick one."""
    menu = QMenu(button)
    for mailbox in card.mailboxes:
        if mailbox.id is not None:
            entry = menu.addAction(mailbox.email)
            entry.triggered.connect(lambda _c=False, a=mailbox.id: act(RECONNECT, a))
    button.setMenu(menu)
    return menu


class AlertCard(QFrame):
    """Signals:
        actionRequested(str, object): an action and its target (an account or campaign id,
            or None for the card's own).
        muteRequested(): Mute… pressed (a maintenance window for the card's mailboxes).
        maintenanceRequested(): Maintenance… pressed on a muted card.
    """

    actionRequested = Signal(str, object)
    muteRequested = Signal()
    maintenanceRequested = Signal()

    def __init__(self, card: Card, now: datetime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.card = card
        self.key = card.key
        self.setObjectName("alertCard")
        self.setProperty("severity", card.severity)
        self.setProperty("muted", card.muted)
        look = SEVERITY_STATUS.get(card.severity, "warning")
        icon = QLabel()
        mode = QIcon.Mode.Disabled if card.muted else QIcon.Mode.Normal
        icon.setPixmap(status_icon(look).pixmap(QSize(20, 20), mode))
        self.severity = QLabel(card.severity_word.upper())
        self.severity.setObjectName("severityWord")
        if not card.muted:
            self.severity.setStyleSheet(f"color: {status_color(look).name()};")
        self.deadline = QLabel()
        self.deadline.setObjectName("deadline")
        if not card.muted:
            self.deadline.setStyleSheet(f"color: {status_color(look).name()};")
        head = QHBoxLayout()
        head.setSpacing(8)
        head.addWidget(icon)
        head.addWidget(self.severity)
        head.addWidget(self.deadline)
        head.addStretch(1)

        self.title = QLabel(f"<b>{fmt.esc(card.title)}</b>")
        self.title.setObjectName("alertTitle")
        self.title.setWordWrap(True)
        self.body = QLabel(fmt.esc(card.message))
        self.body.setObjectName("alertBody")
        self.body.setWordWrap(True)
        self.body.setVisible(bool(card.message))
        self.learn_more = link_label(page_for_card(card))  # the guide's page about it
        self.muted_line = QLabel()
        self.muted_line.setObjectName("mutedUntil")
        self.muted_line.setWordWrap(True)

        names = QGridLayout()
        names.setHorizontalSpacing(8)
        names.setVerticalSpacing(2)
        names.setColumnStretch(1, 1)
        self.mailbox_label: QLabel | None = None
        if card.mailboxes:
            emails = ", ".join(m.email for m in card.mailboxes)
            self.mailbox_label = QLabel(fmt.esc(emails))
            self.mailbox_label.setObjectName("cardMailboxes")
            self.mailbox_label.setWordWrap(True)
            self.mailbox_label.setTextInteractionFlags(
                Qt.TextInteractionFlag.TextSelectableByMouse)
            names.addWidget(self._caption("Mailbox" if len(card.mailboxes) == 1
                                          else f"{len(card.mailboxes)} mailboxes"), 0, 0,
                            Qt.AlignmentFlag.AlignTop)
            names.addWidget(self.mailbox_label, 0, 1)
        self.campaign_labels: list[QLabel] = []
        self.campaign_buttons: dict[int, QPushButton] = {}
        for n, ref in enumerate(card.campaigns):
            if n == 0:
                names.addWidget(self._caption("Campaign" if len(card.campaigns) == 1
                                              else "Campaigns"), 1, 0, Qt.AlignmentFlag.AlignTop)
            label = QLabel(f"“{fmt.esc(ref.name)}”")
            label.setObjectName("cardCampaign")
            self.campaign_labels.append(label)
            row = QHBoxLayout()
            row.addWidget(label, 1)
            button = self._campaign_button(ref)
            if button is not None:
                row.addWidget(button)
            names.addLayout(row, 1 + n, 1)

        self.details = DetailsBox()
        self.details.set_text(card.details)
        self.times = QLabel()
        self.times.setObjectName("muted")

        self.buttons = QHBoxLayout()
        self.buttons.setSpacing(6)
        self.buttons.addWidget(self.times, 1)
        self.action_buttons: dict[str, QPushButton] = {}
        self.mute_button = QPushButton("Maintenance…" if card.muted else "Mute…")
        self.mute_button.setObjectName("maintenance" if card.muted else "mute")
        if card.muted:
            self.mute_button.setToolTip("See or end the maintenance windows")
            self.mute_button.clicked.connect(lambda _c=False: self.maintenanceRequested.emit())
        else:
            self.mute_button.setToolTip("No alert and no message about these mailboxes for a "
                                        "while (maintenance); uptime leaves that time out")
            self.mute_button.clicked.connect(lambda _c=False: self.muteRequested.emit())
        self.mute_button.setVisible(bool(card.mailboxes))
        self.buttons.addWidget(self.mute_button)
        self.primary: QPushButton | None = None
        for spec in main_actions(card):
            button = QPushButton(spec.text)
            button.setObjectName(spec.action)
            button.setToolTip(spec.tip)
            if self.primary is None:
                self.primary = button
                button.setProperty("primary", not card.muted)
            if spec.picks_mailbox:
                mailbox_menu(button, card, self.actionRequested.emit)
            else:
                button.clicked.connect(
                    lambda _c=False, a=spec.action, t=spec.target: self.actionRequested.emit(a,
                                                                                           t))
            self.buttons.addWidget(button)
            self.action_buttons[spec.action] = button

        text = QVBoxLayout()
        text.setSpacing(4)
        text.addLayout(head)
        text.addWidget(self.title)
        text.addWidget(self.body)
        text.addWidget(self.learn_more)
        text.addWidget(self.muted_line)
        text.addLayout(names)
        text.addWidget(self.details)
        text.addLayout(self.buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 10, 8)
        layout.addLayout(text)
        self.update_times(now)

    @staticmethod
    def _caption(text: str) -> QLabel:
        caption = QLabel(text)
        caption.setObjectName("muted")
        return caption

    def _campaign_button(self, ref: CampaignRef) -> QPushButton | None:
        """Re-allocate… / Add a mailbox… on the line of a campaign whose leads wait (only when
        it is not already the card's main action)."""
        if ref.offer is None or ref.id is None or ref.offer == self.card.action:
            return None
        button = QPushButton(ACTION_LABELS[ref.offer])
        button.setObjectName(ref.offer)
        button.setToolTip(f"Move the waiting leads of “{ref.name}” to its connected mailboxes"
                          if ref.offer == "reallocate" else
                          f"None of the mailboxes of “{ref.name}” can send: add one to take "
                          "its waiting leads")
        button.clicked.connect(
            lambda _c=False, a=ref.offer, c=ref.id: self.actionRequested.emit(a, c))
        self.campaign_buttons[ref.id] = button
        return button

    def update_times(self, now: datetime) -> None:
        """The words that change with the clock alone: the time left, since when, muted until."""
        card = self.card
        deadline = card.deadline_text(now)
        self.deadline.setText(deadline)
        self.deadline.setVisible(bool(deadline))
        muted = card.mute_text(now)
        self.muted_line.setText(fmt.esc(muted))
        self.muted_line.setVisible(bool(muted))
        parts = [f"Since {fmt.relative_time(card.since, now)}"] if card.since else []
        if card.kind in MAILBOX_KINDS_WITH_COUNTS and card.count > 1:
            parts.append(f"{card.count} failed checks")
        if card.last_seen is not None:
            parts.append(f"last seen {fmt.relative_time(card.last_seen, now)}")
        self.times.setText(" · ".join(parts))

    def press_primary(self) -> bool:
        """What Enter does on this card: its main action (a menu opens to pick the mailbox)."""
        button = self.primary
        if button is None or not button.isEnabled():
            return False
        if button.menu() is not None:
            button.showMenu()
        else:
            button.click()
        return True

    def text(self) -> str:
        """Everything the card says in words (tests, accessibility)."""
        parts = [self.severity.text(), self.deadline.text(), self.title.text(),
                 self.body.text(), self.muted_line.text()]
        if self.mailbox_label is not None:
            parts.append(self.mailbox_label.text())
        parts += [label.text() for label in self.campaign_labels]
        return "\n".join(p for p in parts if p)
