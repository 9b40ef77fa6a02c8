"""Settings → Deliverability: the one-click unsubscribe URL, the footer line that ends every
campaign email (with a preview made by the composer's own functions) and the daily round trip.
The page only collects the values: `services.deliverability.settings` checks them (a bad one is
shown next to its field, and nothing is saved) and the Settings dialog stores them with the rest
in one transaction."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.services.deliverability import settings as svc
from mailmonitor.services.sending.composer import ending_preview
from mailmonitor.ui.widgets import label, muted

URL_HELP = ("Every campaign email can always be unsubscribed from by email (a mailto link). "
            "If you run an unsubscribe page, enter its address with <tt>{token}</tt> where each "
            "lead's token goes: Gmail and Yahoo then show a one-click Unsubscribe button. "
            "Leave it empty for the email link only.")
ROUND_TRIP_HELP = ("Once a day, each connected mailbox sends a test email to itself and looks "
                   "for it in the Inbox and Spam (then deletes it).")


def _error_label(name: str) -> QLabel:
    error = label("", "error")  # the object name is the style's role (red)
    error.setAccessibleName(name)
    error.hide()
    return error


def _column(*widgets: QWidget) -> QWidget:
    """A field with its error (hidden until there is one) and note under it: a hidden error
    leaves no gap, as a hidden form row would."""
    column = QWidget()
    layout = QVBoxLayout(column)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    for widget in widgets:
        layout.addWidget(widget)
    return column


class DeliverabilitySettingsPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("deliverabilitySettings")
        self.url = QLineEdit()
        self.url.setObjectName("unsubscribeUrl")
        self.url.setPlaceholderText(f"{svc.URL_EXAMPLE}  (empty: email link only)")
        self.url.setMaxLength(svc.URL_MAX + 100)  # longer is refused with a message
        self.url_error = _error_label("unsubscribeUrlError")
        self.url_preview = muted()
        self.url_preview.setAccessibleName("unsubscribeUrlPreview")
        self.url_preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.footer = QLineEdit()  # one line by construction: a QLineEdit takes no newline
        self.footer.setObjectName("unsubscribeFooter")
        self.footer.setPlaceholderText("e.g. Not interested? Reply “unsubscribe” and I will "
                                       "not write again.")
        self.footer.setMaxLength(svc.FOOTER_MAX + 50)
        self.footer_error = _error_label("unsubscribeFooterError")
        self.ending = QLabel()
        self.ending.setObjectName("footerPreview")
        self.ending.setTextFormat(Qt.TextFormat.PlainText)
        self.ending.setWordWrap(True)
        self.ending.setFrameShape(QLabel.Shape.StyledPanel)
        self.ending.setMargin(6)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.ending.setFont(mono)

        unsubscribe = QGroupBox("Unsubscribe")
        form = QFormLayout(unsubscribe)
        help_text = muted(URL_HELP)
        help_text.setTextFormat(Qt.TextFormat.RichText)
        form.addRow(help_text)
        form.addRow("One-click unsubscribe URL", _column(self.url, self.url_error,
                                                        self.url_preview))
        form.addRow("Footer line (optional)", _column(self.footer, self.footer_error))
        form.addRow("An email ends like this", self.ending)

        self.round_trip_daily = QCheckBox("Test sending and receiving of every connected "
                                          "mailbox once a day")
        self.round_trip_daily.setObjectName("roundTripDaily")
        self.timeout = QSpinBox()
        self.timeout.setObjectName("roundTripTimeout")
        self.timeout.setRange(svc.TIMEOUT_MIN, svc.TIMEOUT_MAX)
        self.timeout.setSuffix(" s")
        self.timeout.setToolTip("How long a round trip looks for its test email before it "
                                "says “not arrived” (also the default of `check --round-trip`)")
        self.timeout_error = _error_label("roundTripTimeoutError")
        trip = QGroupBox("Round trip")
        trip_form = QFormLayout(trip)
        trip_form.addRow(muted(ROUND_TRIP_HELP))
        trip_form.addRow(self.round_trip_daily)
        trip_form.addRow("Wait for the test email up to", _column(self.timeout,
                                                                  self.timeout_error))

        layout = QVBoxLayout(self)
        layout.addWidget(unsubscribe)
        layout.addWidget(trip)
        layout.addStretch(1)
        self.errors = {"unsubscribe_url": (self.url_error, self.url),
                       "unsubscribe_footer": (self.footer_error, self.footer),
                       "round_trip_timeout_seconds": (self.timeout_error, self.timeout),
                       "round_trip_daily": (self.timeout_error, self.round_trip_daily)}
        self.url.textChanged.connect(self._preview)
        self.footer.textChanged.connect(self._preview)
        self.load()

    def load(self) -> None:
        values = svc.current()
        self.url.setText(values.unsubscribe_url or "")
        self.footer.setText(values.unsubscribe_footer)
        self.round_trip_daily.setChecked(values.round_trip_daily)
        self.timeout.setValue(values.round_trip_timeout_seconds)
        self.show_error(None)
        self._preview()

    def _preview(self) -> None:
        try:
            url = svc.check_url(self.url.text())
        except svc.InvalidSetting:  # said on Save, next to the field
            self.url_preview.setText("")
        else:
            self.url_preview.setText(f"A lead's link: {svc.one_click_preview(url)}" if url
                                     else "Leads unsubscribe by email (the mailto link) only.")
        self.ending.setText(ending_preview(self.footer.text()))

    def show_error(self, error: svc.InvalidSetting | None) -> None:
        """Plain words under the field that is wrong (None: clear them all)."""
        for text, _field in self.errors.values():
            text.hide()
            text.setText("")
        if error is None:
            return
        text, field = self.errors.get(error.field, (self.url_error, self.url))
        text.setText(f"{error} Nothing was saved.")
        text.show()
        field.setFocus(Qt.FocusReason.OtherFocusReason)

    def checked(self) -> svc.DeliverabilitySettings:
        """The page's values, checked (InvalidSetting otherwise; nothing is stored)."""
        return svc.validate(self.url.text(), self.footer.text(),
                            self.round_trip_daily.isChecked(), self.timeout.value())
