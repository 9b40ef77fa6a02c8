"""One mailbox: its settings, check history with a latency sparkline, the last server answer,
and Test Connection / Reconnect / Disconnect / Remove (the last two explain first what happens
to campaigns and leads)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.models import Account, Check
from mailmonitor.services.alerts.radar import changes_for
from mailmonitor.services.auth import secrets
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.campaigns.impact import (
    describe_disconnect,
    describe_remove,
    describe_removed,
    impact_of,
)
from mailmonitor.services.common.policies import UPCOMING
from mailmonitor.services.common.reasons import Status, label_for
from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.monitoring.check_words import phases_words, trigger_words
from mailmonitor.services.sending.settings import (
    SendingSettings,
    save_sender,
    save_sending_settings,
)
from mailmonitor.ui import format as fmt
from mailmonitor.ui import keyboard
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.deliverability_panel import DeliverabilityPanel
from mailmonitor.ui.edit_account import EditAccountDialog, open_edit_account
from mailmonitor.ui.icons import status_icon
from mailmonitor.ui.palette import status_color
from mailmonitor.ui.status_advice import AccountStatusHeader
from mailmonitor.ui.status_timeline import StatusTimeline
from mailmonitor.ui.warmup_dialog import WarmupDialog
from mailmonitor.ui.widgets import ButtonRow, Sparkline, ask, label, muted

HISTORY = 50
WHEN_STOPPED = "You disconnected this mailbox. Reconnect to connect it again."


class SenderDialog(keyboard.Dialog):
    """The sender name and signature of one mailbox. Opened with `open()`; the caller saves,
    then closes it (`accept`) or shows why not (`show_error`).

    Signals:
        saved(str, str): name, signature.
    """

    saved = Signal(str, str)

    def __init__(self, account: Account, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("senderDialog")
        self.setWindowTitle(f"Sender of {account.email}")
        self.setMinimumWidth(480)
        self.name = QLineEdit(account.name or "")
        self.name.setObjectName("senderName")
        self.name.setPlaceholderText("e.g. Ava Stone")
        self.signature = QPlainTextEdit(account.signature or "")
        self.signature.setObjectName("signature")
        self.signature.setPlaceholderText("Ava Stone\nAccount Executive, Northwind\n"
                                          "+1 555 0100")
        self.signature.setTabChangesFocus(True)
        self.signature.setMinimumHeight(110)
        note = muted("Added below every email from this mailbox, after the standard “-- ” "
                     "line. Leave empty for none.")
        self.error = label(role="error")
        self.error.hide()
        form = QFormLayout()
        form.addRow("Sender name", self.name)
        form.addRow("Signature", self.signature)
        form.addRow("", note)
        form.addRow("", self.error)
        buttons = ButtonRow()
        buttons.addStretch(1)
        cancel = buttons.button("Cancel")
        self.save_button = buttons.button("Save", primary=True)
        self.save_button.setObjectName("saveSender")
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addLayout(form)
        layout.addLayout(buttons)
        cancel.clicked.connect(self.reject)
        self.save_button.clicked.connect(self._save)
        keyboard.install(self)

    def _save(self) -> None:
        self.saved.emit(self.name.text().strip(), self.signature.toPlainText().rstrip())

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))


class AccountDetailDialog(keyboard.Dialog):
    """Signals:
        reconnectRequested(int): open the reconnect wizard at the connection page.
        removed(int): the account was removed.
    """

    reconnectRequested = Signal(int)
    removed = Signal(int)

    def __init__(self, ctx: UiContext, account_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.account_id = account_id
        self.setObjectName("accountDetail")
        self.resize(720, 560)
        self.header = AccountStatusHeader(spacing=8)
        self.title = self.header.title
        self.checked = muted()

        self.settings = QFormLayout()
        self.settings.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        overview = QWidget()
        overview_layout = QVBoxLayout(overview)
        overview_layout.addLayout(self.settings)
        # The provider changes that hit this mailbox (services/alerts/radar.py), with what to do.
        self.changes = QLabel()
        self.changes.setObjectName("providerChanges")
        self.changes.setWordWrap(True)
        self.changes.setTextFormat(Qt.TextFormat.RichText)
        self.changes.setOpenExternalLinks(True)
        self.changes.hide()
        overview_layout.addWidget(self.changes)
        self.edit_button = QPushButton("Edit sending settings…")
        self.edit_button.setToolTip("Daily limit, sending speed and warm-up; kept through "
                                    "every reconnect")
        self.sender_button = QPushButton("Edit sender…")
        self.sender_button.setObjectName("editSender")
        self.sender_button.setToolTip("The name recipients see and the signature under "
                                      "every email")
        self.servers_button = QPushButton("Edit servers…")  # everything but the address
        self.servers_button.setObjectName("editServers")
        self.servers_button.clicked.connect(lambda _c=False: self.edit_servers())
        edit_row = QHBoxLayout()
        edit_row.addWidget(self.servers_button)
        edit_row.addWidget(self.edit_button)
        edit_row.addWidget(self.sender_button)
        edit_row.addStretch(1)
        overview_layout.addLayout(edit_row)
        overview_layout.addStretch(1)
        self.settings_dialog: WarmupDialog | None = None
        self.sender_dialog: SenderDialog | None = None

        self.sparkline = Sparkline()
        self.history = QTableWidget(0, 5)
        self.history.setObjectName("history")
        self.history.setHorizontalHeaderLabels(["Checked", "Result", "Latency", "Trigger",
                                                "Server said"])
        self.history.verticalHeader().hide()
        self.history.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.history.setWordWrap(False)
        header = self.history.horizontalHeader()
        header.setStretchLastSection(True)
        for column in range(4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        history = QWidget()
        history_layout = QVBoxLayout(history)
        history_layout.addWidget(StatusTimeline(account_id, ctx))
        history_layout.addWidget(QLabel("Latency of the last checks"))
        history_layout.addWidget(self.sparkline)
        history_layout.addWidget(self.history, 1)

        self.answer = QPlainTextEdit()
        self.answer.setObjectName("serverAnswer")
        self.answer.setReadOnly(True)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.answer.setFont(mono)

        self.tabs = QTabWidget()
        self.tabs.addTab(overview, "Settings")
        self.tabs.addTab(history, "Check history")
        self.tabs.addTab(self.answer, "Last server answer")
        self.deliverability = DeliverabilityPanel(ctx, account_id, self)
        self.tabs.addTab(self.deliverability, "Deliverability")

        self.test_button = QPushButton("Test Connection")
        self.reconnect_button = QPushButton("Reconnect")
        self.reconnect_button.setProperty("primary", True)
        self.disconnect_button = QPushButton("Disconnect…")
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setProperty("destructive", True)
        self.disconnect_button.setProperty("risky", True)  # never where focus starts
        close = QPushButton("Close")
        self.close_button = close
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.reconnect_button)
        buttons.addStretch(1)
        buttons.addWidget(self.disconnect_button)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addWidget(self.header)
        layout.addWidget(self.checked)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)

        self.edit_button.clicked.connect(self.edit_sending_settings)
        self.sender_button.clicked.connect(lambda _c=False: self.edit_sender())
        self.test_button.clicked.connect(self.test_connection)
        self.reconnect_button.clicked.connect(
            lambda: self.reconnectRequested.emit(self.account_id))
        self.disconnect_button.clicked.connect(self.confirm_disconnect)
        self.remove_button.clicked.connect(self.confirm_remove)
        close.clicked.connect(self.close)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(ctx.coalesce_ms)
        self._refresh_timer.timeout.connect(self.refresh)
        ctx.bridge.accountChanged.connect(self._changed)
        ctx.bridge.checkStarted.connect(self._check_started)
        self.refresh()
        keyboard.install(self)

    def edit_sending_settings(self) -> WarmupDialog | None:
        """The same pop-up as the wizard's Edit Warm-up, saving at once."""
        account = Account.get_or_none(Account.id == self.account_id)
        if account is None:
            return None
        dialog = WarmupDialog(SendingSettings.of(account), self)
        dialog.for_saving()
        dialog.previous.clicked.connect(lambda: self._save_sending_settings(dialog))
        self.settings_dialog = dialog
        dialog.open()
        return dialog

    def _save_sending_settings(self, dialog: WarmupDialog) -> None:
        try:
            save_sending_settings(self.account_id, dialog.settings(), self.ctx.clock.now())
        except InvalidInput as exc:
            dialog.show_error(str(exc))
            return
        dialog.accept()
        self.refresh()

    def edit_servers(self) -> EditAccountDialog:
        dialog = open_edit_account(self.ctx, self.account_id, self)
        dialog.saved.connect(lambda _id: self.refresh())
        return dialog

    def edit_sender(self) -> SenderDialog | None:
        account = Account.get_or_none(Account.id == self.account_id)
        if account is None:
            return None
        dialog = SenderDialog(account, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(lambda name, signature: self._save_sender(dialog, name, signature))
        self.sender_dialog = dialog
        dialog.open()
        return dialog

    def _save_sender(self, dialog: SenderDialog, name: str, signature: str) -> None:
        try:
            save_sender(self.account_id, name, signature)
        except InvalidInput as exc:
            dialog.show_error(str(exc))
            return
        dialog.accept()
        self.refresh()

    def _changed(self, account_id: int) -> None:
        if account_id == self.account_id:
            self._refresh_timer.start()

    def _check_started(self, account_id: int) -> None:
        if account_id == self.account_id:
            self.header.show_status(Status.CHECKING.value)
            self.test_button.setEnabled(False)

    def refresh(self) -> None:
        account = Account.get_or_none(Account.id == self.account_id)
        if account is None or account.removed_at is not None:
            self.close()
            return
        self.setWindowTitle(account.email)
        self.header.show_account(account, account.display, WHEN_STOPPED)
        ago = fmt.relative_time(account.checked_at, self.ctx.clock.now())
        self.checked.setText(f"Last checked {ago} ({fmt.local_time(account.checked_at)})"
                             if account.checked_at else "Not checked yet")
        self._fill_settings(account)
        self._fill_changes(account)
        self._fill_history(account)
        broken = account.status in (Status.DISCONNECTED.value, Status.STOPPED.value)
        self.reconnect_button.setProperty("primary", broken)
        self.test_button.setEnabled(self.ctx.monitor is not None
                                    and account.status != Status.STOPPED.value)
        self.disconnect_button.setEnabled(account.detached_at is None)
        # Enter: Reconnect when the mailbox needs it, else Close. Never a destructive button.
        (self.reconnect_button if broken else self.close_button).setDefault(True)
        if not broken:
            self.reconnect_button.setDefault(False)
        keyboard.keep_focus_safe(self)

    def _fill_settings(self, a: Account) -> None:
        while self.settings.rowCount():
            self.settings.removeRow(0)
        warmup = (f"{a.warmup_start} on day 1, +{a.warmup_step} a day"
                  if a.warmup_start is not None else "off")
        rows = [
            ("Sender name", a.name or "—"),
            ("Signature", a.signature.strip() if a.signature and a.signature.strip()
             else "—"),
            ("Provider", fmt.provider_name(a.kind, a.imap_host)),
            ("Sign-in", {"oauth2": "Browser sign-in (OAuth)", "app_password": "App password",
                         "password": "Password"}.get(a.auth_method, a.auth_method)),
            ("Username", a.login),
            ("IMAP", f"{a.imap_host}:{a.imap_port} ({a.imap_security})"),
            ("SMTP", f"{a.smtp_host}:{a.smtp_port} ({a.smtp_security})"),
            ("Daily limit", f"{a.daily_limit} emails"),
            ("Sending speed", f"{fmt.duration_words(int(a.min_gap_seconds))} between emails"),
            ("Warm-up", warmup),
            ("Checked every", fmt.duration_words(int(a.check_interval_seconds))),
            ("Certificate expires", fmt.local_time(a.cert_expires_at)[:10]
             if a.cert_expires_at else "—"),
        ]
        for name, value in rows:
            field = QLabel(value)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.settings.addRow(name, field)

    def _fill_changes(self, account: Account) -> None:
        """Each provider change that hits the mailbox: title, date, upcoming or in effect,
        what to do, and the source."""
        hits = changes_for(account, self.ctx.clock.now().date())
        self.change_hits = hits
        parts = []
        for hit in hits:
            change = hit.change
            when = (f"from {change.date_words}" if hit.status == UPCOMING
                    else f"in effect since {change.date_words}")
            marked = (" Its server's last answer already says so." if hit.marked else "")
            parts.append(
                f"<p><b>{fmt.esc(change.provider)}: {fmt.esc(change.title)}</b> — {when}"
                f"<br>{fmt.esc(change.fix)}{marked} "
                f"<a href=\"{fmt.esc(change.source)}\">Source</a></p>")
        self.changes.setText("<b>Provider changes</b>" + "".join(parts) if parts else "")
        self.changes.setVisible(bool(parts))

    def _fill_history(self, account: Account) -> None:
        checks = list(Check.select().where(Check.account == account)
                      .order_by(Check.checked_at.desc(), Check.id.desc()).limit(HISTORY))
        self.sparkline.set_points([(c.latency_ms, c.status == Status.CONNECTED.value)
                                   for c in reversed(checks)])
        self.history.setRowCount(len(checks))
        now = self.ctx.clock.now()
        for row, check in enumerate(checks):
            result = QTableWidgetItem(status_icon(check.status),
                                      label_for(check.status, check.reason))
            result.setForeground(status_color(check.status))
            when = QTableWidgetItem(fmt.relative_time(check.checked_at, now))
            when.setToolTip(fmt.local_time(check.checked_at))
            latency = QTableWidgetItem(f"{check.latency_ms} ms"
                                       if check.latency_ms is not None else "—")
            latency.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            detail = QTableWidgetItem(check.detail or "OK")
            detail.setToolTip(check.detail or "")
            for column, item in enumerate((when, result, latency,
                                           QTableWidgetItem(trigger_words(check.trigger)), detail)):
                self.history.setItem(row, column, item)
        last = checks[0] if checks else None
        lines = []
        if last is not None:
            lines.append(f"Check of {fmt.local_time(last.checked_at)} "
                         f"({trigger_words(last.trigger)}): "
                         f"{label_for(last.status, last.reason)}")
            for name, data in (("IMAP", last.imap), ("SMTP", last.smtp)):
                if data:
                    lines.append(f"\n{name}: {'ok' if data.get('ok') else 'failed'}, "
                                 f"{data.get('latency_ms')} ms")
                    if data.get("error"):
                        lines.append(f"  {data['error']}")
                    steps = phases_words(data.get("phases"))
                    if steps:
                        lines.append(f"  steps: {steps}")
        else:
            lines.append(account.detail or "No check yet.")
        self.answer.setPlainText("\n".join(lines))

    # --- actions ------------------------------------------------------------------------------

    def test_connection(self) -> None:
        monitor = self.ctx.monitor
        if monitor is None:
            return
        self.test_button.setEnabled(False)
        self.ctx.spawn(self._test(), "test connection")

    async def _test(self) -> None:
        assert self.ctx.monitor is not None
        try:
            await self.ctx.monitor.check_account(self.account_id, "manual")
        finally:
            self.refresh()

    def confirm_disconnect(self) -> None:
        account = Account.get_by_id(self.account_id)
        ask(self, "Disconnect mailbox?", f"Disconnect {account.email}?", "Disconnect",
            self.disconnect_account, describe_disconnect(impact_of(account)))

    def confirm_remove(self) -> None:
        account = Account.get_by_id(self.account_id)
        ask(self, "Remove mailbox?", f"Remove {account.email} from mailmonitor?", "Remove",
            self.remove_account, describe_remove(impact_of(account)))

    def disconnect_account(self) -> None:
        account = Account.get_by_id(self.account_id)
        lifecycle.disconnect(account, self.ctx.clock.now())
        self.ctx.spawn(self.ctx.blocking(secrets.delete_all_secrets, account.email),
                       "forget secrets")
        self.ctx.attention_changed()  # its grace period's deadline shows at once
        self.refresh()
        self.reconnect_button.setFocus()  # not the next button along (Remove…)

    def remove_account(self) -> None:
        account = Account.get_by_id(self.account_id)
        impact = impact_of(account)
        lifecycle.remove_account(account, self.ctx.clock.now())
        self.ctx.say(fmt.esc(describe_removed(impact)))  # no Undo: stopped leads stay so
        self.ctx.spawn(self.ctx.blocking(secrets.delete_all_secrets, account.email),
                       "forget secrets")
        self.ctx.attention_changed()  # its conditions go with it
        # Removal itself announces nothing on the bus: tell the window directly.
        self.removed.emit(self.account_id)
        self.close()
