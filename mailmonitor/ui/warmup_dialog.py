"""The Edit Warm-up pop-up: sending speed, daily limit and the warm-up ramp of one mailbox. The
wizard opens it from its campaign and connection pages (its Previous button returns to the
connection page, the order reps know from other tools); the account detail opens it to edit and
save at once."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.services.sending.settings import SendingSettings
from mailmonitor.ui import keyboard
from mailmonitor.ui.widgets import ButtonRow, bounded_spin, heading, label, muted

KEPT_NOTE = ("Previous keeps your changes and returns to the sign-in page; they are saved with "
             "Save & Resume. Cancel drops them.")
SAVE_NOTE = "Save stores your changes now; Cancel drops them."


class WarmupDialog(keyboard.Dialog):
    """Opened with `open()`; the caller connects `previous.clicked` (changes kept) and
    `rejected` (Cancel or Esc: changes dropped, after asking when there are any)."""

    def __init__(self, settings: SendingSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("warmupDialog")
        self.setWindowTitle("Edit Warm-up")
        # The ranges of the one table of bounds (common.bounds), as every other path has them:
        # a limit set elsewhere is shown as it is, never clipped and saved smaller.
        self.daily_limit = bounded_spin("daily_limit", " emails a day")
        self.gap = bounded_spin("min_gap_seconds", " min between emails", scale=60)
        self.warmup = QCheckBox("Ramp up slowly (recommended after a long break)")
        self.start = bounded_spin("warmup_start", " emails on day 1")
        self.step = bounded_spin("warmup_step", " more each day")
        self.step.setPrefix("+")
        self.error: QLabel = label(role="error")
        self.error.hide()
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("Daily limit", self.daily_limit)
        form.addRow("Sending speed", self.gap)
        form.addRow("", self.warmup)
        form.addRow("Warm-up start", self.start)
        form.addRow("Warm-up step", self.step)
        buttons = ButtonRow()
        buttons.addStretch(1)
        self.cancel = buttons.button("Cancel")
        self.cancel.setObjectName("cancelWarmup")
        self.cancel.setToolTip("Close without changing anything")
        self.previous = buttons.button("Previous", primary=True)
        self.previous.setToolTip("Back to the connection page, keeping these settings; they "
                                 "are saved with Save & Resume")
        self.note = muted(KEPT_NOTE)
        self.note.setObjectName("warmupNote")
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Warm-up and sending settings"))
        layout.addWidget(muted("Kept exactly as they are unless you change them here."))
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.cancel.clicked.connect(self.reject)
        self.warmup.toggled.connect(self._ramp_enabled)
        self.show_settings(settings)
        keyboard.install(self)

    def for_saving(self) -> None:
        """The account detail's version: Save stores at once (no wizard to go back to)."""
        self.setWindowTitle("Sending settings")
        self.previous.setText("Save")
        self.previous.setToolTip("")
        self.note.setText(SAVE_NOTE)

    def _ramp_enabled(self, on: bool) -> None:
        self.start.setEnabled(on)
        self.step.setEnabled(on)

    def show_settings(self, s: SendingSettings) -> None:
        self.daily_limit.setValue(s.daily_limit)
        self.gap.setValue(s.min_gap_seconds // 60)
        self.warmup.setChecked(s.warmup_enabled)
        self.start.setValue(s.warmup_start)
        self.step.setValue(s.warmup_step)
        self._ramp_enabled(s.warmup_enabled)

    def settings(self) -> SendingSettings:
        return SendingSettings(self.daily_limit.value(), self.gap.value() * 60,
                               self.warmup.isChecked(), self.start.value(), self.step.value())

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
