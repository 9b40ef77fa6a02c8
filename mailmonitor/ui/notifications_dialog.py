"""Settings → Notifications: the alert channels (email, Slack, webhooks), which events each one
gets, a Send test, and delivery failures in plain words. Also the warnings the rep can ask for
while mailboxes still work (password rotation, a Google app still in Testing).

Rules and writes are services' (`services.alerts.manage`, `outbox.send_test`); this file only
renders them. A test delivery blocks on the network, so it runs in a worker thread.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.models import NotifyChannel, active_accounts, get_setting
from mailmonitor.services.alerts import manage, outbox
from mailmonitor.services.alerts.channels import DeliveryError
from mailmonitor.services.alerts.subscriptions import EVENTS
from mailmonitor.services.auth.secrets import SecretStoreError
from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.desktop.settings import save_settings
from mailmonitor.ui import keyboard
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.format import esc, local_time
from mailmonitor.ui.widgets import bounded_spin

KINDS = (("email", "Email"), ("slack", "Slack (incoming webhook)"),
         ("webhook", "Webhook (JSON, optionally signed)"))


def _events_box(title: str) -> tuple[QGroupBox, dict[str, QCheckBox]]:
    box = QGroupBox(title)
    grid = QGridLayout(box)
    checks: dict[str, QCheckBox] = {}
    for n, event in enumerate(EVENTS):
        check = QCheckBox(event.label)
        check.setObjectName(f"event-{event.name}")
        check.setChecked(True)
        checks[event.name] = check
        grid.addWidget(check, n // 2, n % 2)
    return box, checks


class AddChannelDialog(keyboard.Dialog):
    """Signals:
        added(int): the new channel's id.
    """

    added = Signal(int)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("addChannelDialog")
        self.setWindowTitle("Add an alert channel")
        self.setMinimumWidth(620)
        self.kind = QComboBox()
        for value, text in KINDS:
            self.kind.addItem(text, value)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. My phone, #sales-alerts")
        self.target = QLineEdit()
        self.from_box = QComboBox()
        self.from_box.addItem("Any connected mailbox (never a broken one)", None)
        for account in active_accounts().order_by(active_accounts().model.email):
            self.from_box.addItem(account.email, account.email)
        self.from_box.addItem("A separate SMTP relay…", "relay")
        self.relay_host = QLineEdit()
        self.relay_host.setPlaceholderText("smtp.example.com")
        self.relay_port = bounded_spin("relay_port")
        self.relay_port.setValue(587)
        self.relay_security = QComboBox()
        self.relay_security.addItems(["starttls", "ssl", "plain"])
        self.relay_user = QLineEdit()
        self.relay_from = QLineEdit()
        self.relay_from.setPlaceholderText("alerts@example.com")
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setObjectName("secret")

        relay = QWidget()
        relay_form = QFormLayout(relay)
        relay_form.setContentsMargins(0, 0, 0, 0)
        relay_form.addRow("Relay host", self.relay_host)
        relay_form.addRow("Port", self.relay_port)
        relay_form.addRow("Security", self.relay_security)
        relay_form.addRow("Username", self.relay_user)
        relay_form.addRow("Sends as", self.relay_from)
        self.relay_box = relay
        form = QFormLayout()
        form.addRow("Kind", self.kind)
        form.addRow("Name", self.name)
        self.target_label = QLabel("Send to")
        form.addRow(self.target_label, self.target)
        self.sender_label = QLabel("Send from")
        form.addRow(self.sender_label, self.from_box)
        form.addRow(relay)
        self.secret_label = QLabel("Secret")
        form.addRow(self.secret_label, self.secret)
        events, self.events = _events_box("Which events")
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setProperty("role", "error")
        self.error.hide()
        cancel = QPushButton("Cancel")
        self.add_button = QPushButton("Add channel")
        self.add_button.setObjectName("addChannel")
        self.add_button.setProperty("primary", True)
        self.add_button.setDefault(True)
        self.add_button.setAutoDefault(True)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(events)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        cancel.clicked.connect(self.reject)
        self.add_button.clicked.connect(self.submit)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.from_box.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()
        self.name.setFocus()
        keyboard.install(self)

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        email = kind == "email"
        relay = email and self.from_box.currentData() == "relay"
        self.target_label.setText("Send to" if email else "Webhook URL")
        self.target.setPlaceholderText("you@example.com" if email else
                                       "https://hooks.slack.com/services/…" if kind == "slack"
                                       else "https://example.com/mailmonitor-hook")
        self.sender_label.setVisible(email)
        self.from_box.setVisible(email)
        self.relay_box.setVisible(relay)
        self.secret_label.setText("Relay password" if relay else "Signing secret (optional)")
        self.secret_label.setVisible(relay or kind == "webhook")
        self.secret.setVisible(relay or kind == "webhook")

    def spec(self) -> manage.ChannelSpec:
        kind = str(self.kind.currentData())
        sender = self.from_box.currentData() if kind == "email" else None
        relay = None
        uses_secret = kind == "webhook" or sender == "relay"
        if sender == "relay":
            relay = {"host": self.relay_host.text(), "port": self.relay_port.value(),
                     "security": self.relay_security.currentText(),
                     "username": self.relay_user.text(), "from": self.relay_from.text()}
            sender = None
        secret = self.secret.text() if uses_secret and self.secret.text() else None
        events = [name for name, check in self.events.items() if check.isChecked()]
        return manage.ChannelSpec(self.name.text(), kind, self.target.text(), events,
                                  sender, relay, secret)

    def submit(self) -> None:
        try:
            channel = manage.add_channel(self.spec(), self.ctx.clock.now())
        except (InvalidInput, SecretStoreError) as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.added.emit(channel.id)
        self.accept()


class NotificationsDialog(keyboard.Dialog):
    """Signals:
        changed(): a channel was added, changed or removed.
    """

    changed = Signal()

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("notificationsDialog")
        self.setWindowTitle("Notifications")
        self.setMinimumSize(720, 560)
        self.add_dialog: AddChannelDialog | None = None
        intro = QLabel("Alerts reach you outside mailmonitor too: one message per check round "
                       "on each channel, retried until it arrives, never twice.")
        intro.setWordWrap(True)
        self.channels = QListWidget()
        self.channels.setObjectName("channels")
        self.empty = QLabel("No channel yet. Add one to hear about disconnections even when "
                            "your laptop is closed (use a phone's email, Slack or a webhook).")
        self.empty.setObjectName("muted")
        self.empty.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.channels)
        self.detail = QLabel()
        self.detail.setObjectName("channelDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextFormat(Qt.TextFormat.RichText)
        events, self.events = _events_box("Events for the selected channel")
        self.events_box = events
        self.add_button = QPushButton("Add channel…")
        self.add_button.setObjectName("add")
        self.test_button = QPushButton("Send test")
        self.test_button.setObjectName("test")
        self.enable_button = QPushButton("Turn off")
        self.enable_button.setObjectName("toggle")
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setObjectName("remove")
        self.remove_button.setProperty("destructive", True)
        self.remove_button.setAutoDefault(False)
        row = QHBoxLayout()
        for button in (self.add_button, self.test_button, self.enable_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.remove_button)

        self.rotation = bounded_spin("password_rotation_days", " days", off="Never")
        self.rotation.setObjectName("rotation")
        self.google_testing = QCheckBox("Our Google app is still in “Testing” (Google ends its "
                                        "sign-ins after 7 days: warn a day before)")
        ahead = QGroupBox("Warn me before a mailbox breaks")
        ahead_form = QFormLayout(ahead)
        ahead_form.addRow("Remind me to change passwords every", self.rotation)
        ahead_form.addRow(self.google_testing)
        note = QLabel("Always on: a server certificate expiring within 14 days, a Microsoft "
                      "sign-in unused for almost 90 days, and 24 hours before leads are "
                      "stopped for good.")
        note.setObjectName("muted")
        note.setWordWrap(True)
        ahead_form.addRow(note)

        close = QPushButton("Close")
        close.setObjectName("close")
        close.setDefault(True)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.detail)
        layout.addWidget(events)
        layout.addLayout(row)
        layout.addWidget(ahead)
        layout.addLayout(bottom)

        self.add_button.clicked.connect(lambda _c=False: self.open_add())
        self.test_button.clicked.connect(lambda _c=False: self.send_test())
        self.enable_button.clicked.connect(self.toggle)
        self.remove_button.clicked.connect(self.remove)
        close.clicked.connect(self.close_and_save)
        self.channels.currentRowChanged.connect(lambda _r: self._show_selected())
        for check in self.events.values():
            check.toggled.connect(self._events_changed)
        self.rotation.setValue(int(get_setting("password_rotation_days") or 0))
        self.google_testing.setChecked(bool(get_setting("google_app_testing")))
        self.refresh()
        self.add_button.setFocus()
        keyboard.install(self)

    # --- data ------------------------------------------------------------------------------

    def selected(self) -> NotifyChannel | None:
        item = self.channels.currentItem()
        if item is None:
            return None
        found: NotifyChannel | None = NotifyChannel.get_or_none(
            NotifyChannel.id == item.data(Qt.ItemDataRole.UserRole))
        return found

    def refresh(self, select: int | None = None) -> None:
        current = self.selected()
        keep = select if select is not None else (current.id if current else None)
        self.channels.blockSignals(True)
        self.channels.clear()
        for channel in manage.list_channels():
            row = manage.channel_summary(channel)
            state = "off" if not row["enabled"] else "⚠ failing" if row["last_error"] else "ok"
            item = QListWidgetItem(f"{row['name']}  —  {row['kind']}: {row['target']}   "
                                   f"[{state}]")
            item.setData(Qt.ItemDataRole.UserRole, channel.id)
            if row["last_error"] and row["enabled"]:
                item.setToolTip(row["last_error"])
            self.channels.addItem(item)
            if channel.id == keep:
                self.channels.setCurrentItem(item)
        if self.channels.currentRow() < 0 and self.channels.count():
            self.channels.setCurrentRow(0)
        self.channels.blockSignals(False)
        self.stack.setCurrentWidget(self.channels if self.channels.count() else self.empty)
        self._show_selected()

    def _show_selected(self) -> None:
        channel = self.selected()
        for widget in (self.test_button, self.enable_button, self.remove_button,
                       self.events_box):
            widget.setEnabled(channel is not None)
        if channel is None:
            self.detail.setText("")
            return
        row = manage.channel_summary(channel)
        parts = [f"<b>{esc(row['name'])}</b> · {row['sent']} delivered"]
        if row["waiting"]:
            parts.append(f"{row['waiting']} waiting to be delivered")
        if row["from"]:
            parts.append(f"from {esc(row['from'])}")
        if row["signed"]:
            parts.append("signed (HMAC-SHA256)")
        text = " · ".join(parts)
        if row["last_error"] and channel.enabled:
            text += (f"<br><span style='color:#c0392b'>Not getting through "
                     f"({esc(local_time(channel.last_error_at))}): "
                     f"{esc(row['last_error'])}</span>")
        elif channel.last_ok_at:
            text += f"<br>Last delivered {esc(local_time(channel.last_ok_at))}."
        if row["unknown"]:
            text += (f"<br>{row['unknown']} alert(s) may not have arrived (mailmonitor stopped "
                     "while sending them); they were not sent twice.")
        self.detail.setText(text)
        self.enable_button.setText("Turn off" if channel.enabled else "Turn on")
        for name, check in self.events.items():
            check.blockSignals(True)
            check.setChecked(name in (channel.events or []))
            check.blockSignals(False)

    # --- actions ---------------------------------------------------------------------------

    def open_add(self) -> AddChannelDialog:
        dialog = AddChannelDialog(self.ctx, self)
        dialog.added.connect(self._added)
        self.add_dialog = dialog
        dialog.open()
        return dialog

    def _added(self, channel_id: int) -> None:
        self.refresh(select=channel_id)
        self.changed.emit()

    def _events_changed(self) -> None:
        channel = self.selected()
        if channel is None:
            return
        chosen = [name for name, check in self.events.items() if check.isChecked()]
        try:
            manage.set_events(channel, chosen)
        except InvalidInput as exc:
            self.detail.setText(esc(str(exc)))
            self._show_selected()
            return
        self.changed.emit()

    def toggle(self) -> None:
        channel = self.selected()
        if channel is not None:
            manage.set_enabled(channel, not channel.enabled)
            self.refresh()
            self.changed.emit()

    def remove(self) -> None:
        channel = self.selected()
        if channel is None:
            return
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(QMessageBox.Icon.Warning, "Remove channel",
                          f"Remove “{channel.name}”? Alerts not delivered yet are dropped.",
                          QMessageBox.StandardButton.Cancel, self)
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setEscapeButton(QMessageBox.StandardButton.Cancel)
        channel_id = channel.id

        def done(_result: int) -> None:
            if box.clickedButton() is remove:
                found = NotifyChannel.get_or_none(NotifyChannel.id == channel_id)
                if found is not None:
                    manage.remove_channel(found, self.ctx.clock.now())
                self.refresh()
                self.changed.emit()

        box.finished.connect(done)
        self.remove_box = box
        box.open()

    def send_test(self) -> Any:
        channel = self.selected()
        if channel is None:
            return None
        self.test_button.setEnabled(False)
        self.detail.setText(f"Sending a test to <b>{esc(channel.name)}</b>…")
        return self.ctx.spawn(self._test(channel.id), "send test alert")

    async def _test(self, channel_id: int) -> None:
        channel = NotifyChannel.get_by_id(channel_id)
        try:
            await self.ctx.blocking(outbox.send_test, channel, self.ctx.clock)
            message = f"Test delivered to “{channel.name}”."
        except DeliveryError as exc:
            message = f"The test did not arrive: {exc.text}"
        self.refresh(select=channel_id)
        self.test_result = message
        self.detail.setText(self.detail.text() + f"<br><b>{esc(message)}</b>")
        self.test_button.setEnabled(True)

    def close_and_save(self) -> None:
        save_settings({"password_rotation_days": self.rotation.value() or None,
                       "google_app_testing": self.google_testing.isChecked()})
        self.accept()
