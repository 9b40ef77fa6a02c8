"""The account detail's Deliverability tab: "Test sending and receiving" (the round trip), the
bounce rate and a Resume sending button when the mailbox is paused for its sending, and the
domain's SPF / DMARC / DKIM findings with what to fix. It renders
`services.placement.overview` and calls its actions; the blocking ones (the round trip,
the DNS check) run in worker threads, so the window never freezes."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.services.common.reasons import BROKEN_STATUSES
from mailmonitor.services.deliverability.dns_auth import InvalidSelector
from mailmonitor.services.placement import overview
from mailmonitor.ui import format as fmt
from mailmonitor.ui import keyboard
from mailmonitor.ui.context import UiContext

NEEDS_SIGN_IN = ("Reconnect this mailbox first: a test email needs a working sign-in, and "
                 "the last check says it has none.")

# Finding status → the account status whose colour and words it borrows.
_LOOK = {"ok": "connected", "warning": "warning", "missing": "disconnected",
         "wrong": "disconnected", "unknown": "offline"}


def _label(text: str = "", name: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


class DeliverabilityPanel(QScrollArea):
    def __init__(self, ctx: UiContext, account_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.account_id = account_id
        self.setObjectName("deliverabilityPanel")
        self.setWidgetResizable(True)
        body = QWidget()
        layout = QVBoxLayout(body)

        trip = QGroupBox("Sending and receiving")
        trip_layout = QVBoxLayout(trip)
        self.round_trip_result = _label(name="roundTripResult")
        # A failed test from before the last reconnect: history, greyed, not the state now.
        self.round_trip_before = _label(name="muted")
        self.round_trip_button = QPushButton("Test sending and receiving")
        self.round_trip_button.setObjectName("roundTripButton")
        self.round_trip_button.setToolTip("Sends one test email from this mailbox to itself, "
                                          "finds it in the Inbox or Spam, then deletes it")
        trip_layout.addWidget(self.round_trip_result)
        trip_layout.addWidget(self.round_trip_before)
        row = QHBoxLayout()
        row.addWidget(self.round_trip_button)
        row.addStretch(1)
        trip_layout.addLayout(row)

        bounces = QGroupBox("Bounces")
        bounce_layout = QVBoxLayout(bounces)
        self.bounce_text = _label(name="bounceRate")
        self.hold_text = _label(name="holdText")
        self.resume_button = QPushButton("Resume sending")
        self.resume_button.setObjectName("resumeSending")
        self.resume_button.setToolTip("Sending starts again; the leads continue at their step")
        bounce_layout.addWidget(self.bounce_text)
        bounce_layout.addWidget(self.hold_text)
        resume_row = QHBoxLayout()
        resume_row.addWidget(self.resume_button)
        resume_row.addStretch(1)
        bounce_layout.addLayout(resume_row)

        dns = QGroupBox("Domain authentication (SPF, DKIM, DMARC)")
        dns_layout = QVBoxLayout(dns)
        self.dns_checked = _label(name="dnsChecked")
        self.dns_rows = QFormLayout()
        self.selector = QLineEdit()
        self.selector.setObjectName("dkimSelector")
        self.selector.setPlaceholderText("DKIM selector, if your provider gave you one")
        self.dns_button = QPushButton("Check DNS now")
        self.dns_button.setObjectName("dnsCheckButton")
        self.dns_error = _label(name="dnsError")
        dns_layout.addWidget(self.dns_checked)
        dns_layout.addLayout(self.dns_rows)
        dns_row = QHBoxLayout()
        dns_row.addWidget(self.selector, 1)
        dns_row.addWidget(self.dns_button)
        dns_layout.addLayout(dns_row)
        dns_layout.addWidget(self.dns_error)

        for group in (trip, bounces, dns):
            layout.addWidget(group)
        layout.addStretch(1)
        self.setWidget(body)

        self._testing = False
        self.round_trip_button.clicked.connect(self.test_sending_and_receiving)
        self.resume_button.clicked.connect(self.resume_sending)
        self.dns_button.clicked.connect(self.check_dns)
        keyboard.own_enter(self.selector, self.check_dns)  # never the dialog's default too
        ctx.bridge.accountChanged.connect(self._changed)
        self.refresh()

    def _changed(self, account_id: int) -> None:
        if account_id == self.account_id:
            self.refresh()

    def refresh(self) -> None:
        from mailmonitor.models import Account

        account = Account.get_or_none(Account.id == self.account_id)
        if account is None:
            return
        now = self.ctx.clock.now()
        view = overview.account_overview(account, now)
        when = f" ({fmt.relative_time(view.round_trip_at, now)})" if view.round_trip_at else ""
        if view.round_trip_stale and view.reconnected_at is not None:
            reconnected = fmt.local_time(view.reconnected_at)[:16]
            self.round_trip_result.setText(
                f"Not tested since the reconnect on {reconnected}: send a test email to see "
                "where mail from this mailbox lands now.")
            self.round_trip_before.setText(f"Before the reconnect on {reconnected}: "
                                           f"{view.round_trip_text}{when}")
        else:
            self.round_trip_result.setText(view.round_trip_text + when)
            self.round_trip_before.setText("")
        self.round_trip_before.setVisible(view.round_trip_stale)
        # A test email needs a working sign-in: not offered while the mailbox is broken.
        broken = account.status in BROKEN_STATUSES
        self.round_trip_button.setEnabled(not broken and not self._testing)
        self.round_trip_button.setToolTip(
            NEEDS_SIGN_IN if broken else "Sends one test email from this mailbox to itself, "
            "finds it in the Inbox or Spam, then deletes it")
        if broken and not self._testing:
            self.round_trip_result.setText(NEEDS_SIGN_IN + " " + self.round_trip_result.text()
                                           if view.round_trip_at else NEEDS_SIGN_IN)
        self.bounce_text.setText(view.bounce_text)
        self.hold_text.setText(view.hold_text)
        self.hold_text.setVisible(view.held)
        self.resume_button.setVisible(view.held)
        self.dns_checked.setText(
            f"{view.domain}: checked {view.dns_checked_at.replace('T', ' ')[:16]} UTC"
            if view.dns_checked_at else f"{view.domain}: not checked yet")
        while self.dns_rows.rowCount():
            self.dns_rows.removeRow(0)
        for line in view.dns_lines:
            text = line.summary + (f" To fix: {line.fix}" if line.fix else "")
            value = _label(text, f"dns{line.name}")
            head = QLabel(f"{line.name}: {line.words}")
            head.setObjectName(f"dns{line.name}Status")
            head.setProperty("status", _LOOK.get(line.status, "offline"))
            self.dns_rows.addRow(head, value)
        if not self.selector.hasFocus():
            self.selector.setText(view.dkim_selector)

    # --- actions ------------------------------------------------------------------------------

    def test_sending_and_receiving(self) -> None:
        self._testing = True
        self.round_trip_button.setEnabled(False)
        self.round_trip_result.setText("Sending a test email and looking for it…")
        self.ctx.spawn(self._round_trip(), "round trip")

    async def _round_trip(self) -> None:
        try:
            now = self.ctx.clock.now()
            result = await self.ctx.blocking(overview.test_sending_and_receiving,
                                             self.account_id, now)
            overview.record_test(self.account_id, result, self.ctx.clock.now())
            self.ctx.attention_changed()  # a passing test ends its alert now
        finally:
            self._testing = False
            self.refresh()

    def resume_sending(self) -> None:
        from mailmonitor.services.deliverability.holds import NotHeld

        with contextlib.suppress(NotHeld):  # resumed elsewhere meanwhile
            overview.resume_sending(self.account_id, self.ctx.clock.now())
        self.ctx.attention_changed()
        self.refresh()

    def check_dns(self) -> None:
        try:
            overview.name_selector(self.account_id, self.selector.text())
        except InvalidSelector as exc:
            self.dns_error.setText(str(exc))
            return
        self.dns_error.setText("")
        self.dns_button.setEnabled(False)
        self.ctx.spawn(self._check_dns(), "DNS check")

    async def _check_dns(self) -> None:
        try:
            await self.ctx.blocking(overview.check_dns, self.account_id, self.ctx.clock.now())
            self.ctx.attention_changed()  # the domain's alert follows the records now
        except Exception as exc:  # a resolver that cannot be set up: say so, stay usable
            self.dns_error.setText(f"The DNS check failed: {exc}")
        finally:
            self.dns_button.setEnabled(True)
            self.refresh()
