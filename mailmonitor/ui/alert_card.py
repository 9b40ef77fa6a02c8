"""One card of the alerts list: a mailbox that needs something (or a campaign, or a note), in
plain words, with the campaigns it affects nested inside and the server's raw answer under
Details. Renders a `services.alerts.grouping.AlertGroup`; the dialog wires its buttons."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from mailmonitor.services.alerts.actions import ADD_MAILBOX, LABELS, REALLOCATE, RESUME_SENDING
from mailmonitor.services.alerts.grouping import AlertGroup
from mailmonitor.ui import format as fmt
from mailmonitor.ui.icons import status_icon
from mailmonitor.ui.probe_progress import DetailsBox
from mailmonitor.ui.widgets import SEVERITY_STATUS

BUTTON_TEXT = {**LABELS, "went_out": "They went out", "send_again": "Send again",
               "dismiss": "Dismiss"}
PRIMARY = ("reconnect", RESUME_SENDING)  # the card's fix
BUTTON_TIPS = {RESUME_SENDING: "Its sign-in works: sending was paused for its bounces or "
                               "refusals. Resume once the cause is fixed",
               "went_out": "You found them in the Sent folder: they stay counted",
               "send_again": "Not in the Sent folder: each goes out again from its step",
               "dismiss": "Hide this until something changes"}


class AlertCard(QFrame):
    def __init__(self, group: AlertGroup, when: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.group = group
        self.key = group.key
        self.setObjectName("alertCard")
        self.setProperty("severity", group.severity)
        icon = QLabel()
        icon.setPixmap(status_icon(SEVERITY_STATUS.get(group.severity, "checking"))
                       .pixmap(20, 20))
        self.title = QLabel(f"<b>{fmt.esc(group.title)}</b>")
        self.title.setWordWrap(True)
        self.body = QLabel(fmt.esc(group.body))
        self.body.setObjectName("alertBody")
        self.body.setWordWrap(True)
        self.body.setVisible(bool(group.body))
        text = QVBoxLayout()
        text.setSpacing(3)
        text.addWidget(self.title)
        text.addWidget(self.body)
        self.campaign_buttons: dict[int, QPushButton] = {}
        self.campaign_labels: list[QLabel] = []
        for line in group.campaigns:
            row = QHBoxLayout()
            label = QLabel(f"• {fmt.esc(line.text)}")
            label.setWordWrap(True)
            self.campaign_labels.append(label)
            row.addSpacing(8)
            row.addWidget(label, 1)
            action = group.campaign_actions.get(line.campaign_id)
            if action is not None:  # Re-allocate… or Add a mailbox to this campaign…
                button = QPushButton(LABELS[action])
                button.setObjectName(action)
                if action == REALLOCATE:
                    button.setToolTip(f"Move the waiting leads of “{line.name}” to its other "
                                      "mailboxes")
                elif action == ADD_MAILBOX:
                    button.setToolTip(f"None of the mailboxes of “{line.name}” can send: add "
                                      "one to take its waiting leads")
                    button.setProperty("primary", not group.targets)
                row.addWidget(button)
                self.campaign_buttons[line.campaign_id] = button
            text.addLayout(row)
        for note in group.extra:
            extra = QLabel(fmt.esc(note))
            extra.setObjectName("muted")
            extra.setWordWrap(True)
            text.addWidget(extra)
        self.details = DetailsBox()
        self.details.set_text(group.details)
        text.addWidget(self.details)
        self.when = QLabel(when)
        self.when.setObjectName("muted")
        text.addWidget(self.when)
        self.buttons = QHBoxLayout()
        self.buttons.addStretch(1)
        self.action_buttons: dict[str, QPushButton] = {}
        for name in group.actions:
            button = QPushButton(BUTTON_TEXT[name])
            button.setObjectName(name)
            button.setProperty("primary", name in PRIMARY)
            button.setToolTip(BUTTON_TIPS.get(name, ""))
            self.buttons.addWidget(button)
            self.action_buttons[name] = button
        text.addLayout(self.buttons)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(text, 1)

    def text(self) -> str:
        """Everything the card says in words (tests, accessibility)."""
        parts = [self.title.text(), self.body.text(), *(label.text() for label in
                                                         self.campaign_labels)]
        return "\n".join(parts)
