"""A running connection test, step by step: "IMAP: signing in… 3 s (gives up after 20 s)" for IMAP
and SMTP side by side, refreshed a few times a second from the test's ProbeWatch; and a failure's
raw server text kept under a Details toggle."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QToolButton, QVBoxLayout, QWidget

from mailmonitor.services.monitoring.progress import ProbeWatch
from mailmonitor.ui.widgets import fit_height


class ProbeProgress(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("testProgress")
        self.lines = {p: QLabel() for p in ("imap", "smtp")}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for protocol, label in self.lines.items():
            label.setObjectName(f"progress_{protocol}")
            layout.addWidget(label)
        self._watch: ProbeWatch | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.refresh)
        self.hide()

    def start(self, watch: ProbeWatch) -> None:
        self._watch = watch
        self.refresh()
        self.show()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._watch = None
        self.hide()

    def refresh(self) -> None:
        if self._watch is None:
            return
        for state in self._watch.snapshot():
            self.lines[state.protocol].setText(state.text)

    def text(self) -> str:
        return "\n".join(label.text() for label in self.lines.values())


class DetailsBox(QWidget):
    """A "Details" toggle over text the rep rarely needs (a server's exact answer)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailsBox")
        self.toggle = QToolButton()
        self.toggle.setObjectName("detailsToggle")
        self.toggle.setText("Details")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAutoRaise(True)
        self.body = QLabel()
        self.body.setObjectName("detailsText")
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setStyleSheet("font-family: monospace;")
        self.body.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.body)
        self.toggle.toggled.connect(self._toggled)
        self.hide()

    def _toggled(self, on: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.body.setVisible(on)
        if on:
            fit_height(self.window())

    def set_text(self, text: str) -> None:
        self.body.setText(text[:2000])
        self.toggle.setChecked(False)
        self.setVisible(bool(text))
