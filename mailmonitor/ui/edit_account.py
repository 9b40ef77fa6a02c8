"""Edit a mailbox (issue 11): everything but the address. Server changes are tested for real
before anything is stored (like Add); the account keeps its history, campaigns, leads and
cursors, and is re-checked with the new settings. The rules live in
`services.accounts.editing`; this dialog only collects the values and shows the outcome."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.models import Account
from mailmonitor.services.accounts import editing
from mailmonitor.services.accounts.connection_test import TestOutcome, failure_help
from mailmonitor.services.accounts.switching import OAUTH_KINDS, method_words
from mailmonitor.services.alerts.warnings import default_rotation_days
from mailmonitor.services.auth.secrets import SecretStoreError
from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.monitoring.account_state import ProbeLike
from mailmonitor.ui import keyboard
from mailmonitor.ui.add_account import EndpointEditor
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.dialog_work import DialogWork
from mailmonitor.ui.format import esc, sentence
from mailmonitor.ui.switch_sign_in import (
    SwitchSignInDialog,
    open_switch,
    suggested_kind,
    switch_words,
)
from mailmonitor.ui.widgets import Banner, ScrollBody, bounded_spin, fit_height


class EditAccountDialog(keyboard.Dialog):
    """Opened with `open()`.

    Signals:
        saved(int): the account's new settings were stored (and, for servers, tested).
    """

    saved = Signal(int)

    def __init__(self, ctx: UiContext, account_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.account_id = account_id
        account = Account.get_by_id(account_id)
        self.setObjectName("editAccount")
        self.setWindowTitle(f"Edit {account.email}")
        self.setMinimumWidth(600)

        address = QLabel(f"<b>{esc(account.email)}</b>")
        address.setToolTip("The address stays: to send from another one, add it as a new "
                           "mailbox.")
        self.name = QLineEdit(account.name or "")
        self.name.setObjectName("editName")
        self.name.setPlaceholderText("Shown as the sender")
        self.signature = QPlainTextEdit(account.signature or "")
        self.signature.setObjectName("editSignature")
        self.signature.setTabChangesFocus(True)
        self.signature.setFixedHeight(64)
        identity = QFormLayout()
        identity.addRow("Address", address)
        identity.addRow("Sender name", self.name)
        identity.addRow("Signature", self.signature)

        self.imap = EndpointEditor("imap")
        self.imap.setObjectName("editImap")
        self.imap.set(account.imap_host, int(account.imap_port), account.imap_security)
        self.smtp = EndpointEditor("smtp")
        self.smtp.setObjectName("editSmtp")
        self.smtp.set(account.smtp_host, int(account.smtp_port), account.smtp_security)
        self.username = QLineEdit(account.username or "")
        self.username.setObjectName("editUsername")
        self.username.setPlaceholderText("Same as the address")
        self.ca_file = QLineEdit(account.ca_file or "")
        self.ca_file.setObjectName("editCaFile")
        self.ca_file.setPlaceholderText("Optional: a PEM file for a company's own certificate")
        self.password = QLineEdit()
        self.password.setObjectName("editPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("Unchanged" if not account.is_oauth else
                                         "Signs in through the browser (Reconnect)")
        self.password.setEnabled(not account.is_oauth)
        self.is_oauth = account.is_oauth
        self.rotation = bounded_spin("password_rotation_days", " days")
        self.rotation.setObjectName("editRotation")
        team = default_rotation_days()
        self.rotation.setValue(int(account.password_rotation_days or team or 90))
        self.rotation_default = QCheckBox(
            f"Use the default ({f'every {team} days' if team else 'no reminder'})")
        self.rotation_default.setObjectName("editRotationDefault")
        self.rotation_default.setToolTip("The team-wide period: Settings → Notifications… → "
                                         "Remind me to change passwords every")
        self.rotation_default.setChecked(account.password_rotation_days is None)
        self.rotation.setEnabled(not self.rotation_default.isChecked())
        self.rotation_default.toggled.connect(lambda on: self.rotation.setEnabled(not on))
        self.rotation_box = QWidget(self)
        self.rotation_box.setObjectName("editRotationBox")
        self.rotation_box.hide()  # shown with its row, for password mailboxes only
        rotation_row = QHBoxLayout(self.rotation_box)
        rotation_row.setContentsMargins(0, 0, 0, 0)
        every = QLabel("every")
        every.setBuddy(self.rotation)
        self.rotation.setToolTip("Remind me to change the password every this many days")
        self.rotation.setAccessibleName("Remind me to change the password every")
        rotation_row.addWidget(every)
        rotation_row.addWidget(self.rotation)
        rotation_row.addSpacing(8)
        rotation_row.addWidget(self.rotation_default)
        rotation_row.addStretch(1)
        self.servers = QGroupBox("Servers")
        servers_box = QVBoxLayout(self.servers)
        servers = QFormLayout()
        servers_box.addLayout(servers)
        servers.addRow("IMAP (incoming)", self.imap)
        servers.addRow("SMTP (outgoing)", self.smtp)
        servers.addRow("Username", self.username)
        servers.addRow("Password", self.password)
        if not account.is_oauth:  # a sign-in through the browser has no password to change
            servers.addRow("Password reminder", self.rotation_box)
            self.rotation_box.show()
        servers.addRow("Trusted CA file", self.ca_file)
        servers.addRow("Sign-in", self._switch_row(account))
        # Under the form, not in a form row (a wrapped label there is clipped to one line).
        servers_note = QLabel("Changed servers or a new password are tested for real before "
                              "they are saved. The mailbox keeps its history, campaigns and "
                              "leads.")
        servers_note.setObjectName("muted")
        servers_note.setWordWrap(True)
        servers_box.addWidget(servers_note)

        self.daily_limit = bounded_spin("daily_limit", " emails a day")
        self.daily_limit.setObjectName("editDailyLimit")
        self.daily_limit.setValue(int(account.daily_limit))
        self.min_gap = bounded_spin("min_gap_seconds", " s between emails")
        self.min_gap.setObjectName("editMinGap")
        self.min_gap.setValue(int(account.min_gap_seconds))
        self.warmup = QCheckBox("Warm up: start with")
        self.warmup.setObjectName("editWarmup")
        self.warmup.setChecked(account.warmup_start is not None)
        self.warmup_start = bounded_spin("warmup_start", " emails")
        self.warmup_start.setValue(int(account.warmup_start or 5))
        self.warmup_step = bounded_spin("warmup_step", " more each day")
        self.warmup_step.setValue(int(account.warmup_step or 5))
        warmup_row = QHBoxLayout()
        warmup_row.addWidget(self.warmup)
        warmup_row.addWidget(self.warmup_start)
        warmup_row.addWidget(self.warmup_step)
        warmup_row.addStretch(1)
        self.warmup.toggled.connect(self.warmup_start.setEnabled)
        self.warmup.toggled.connect(self.warmup_step.setEnabled)
        self.warmup_start.setEnabled(self.warmup.isChecked())
        self.warmup_step.setEnabled(self.warmup.isChecked())
        sending = QGroupBox("Sending")
        sending_form = QFormLayout(sending)
        sending_form.addRow("Daily limit", self.daily_limit)
        sending_form.addRow("Sending speed", self.min_gap)
        sending_form.addRow("", warmup_row)

        self.error = Banner("error")
        self.error.setObjectName("editAccountError")
        self.error.hide()
        self.progress = QLabel()
        self.progress.setObjectName("muted")
        cancel = QPushButton("Cancel")
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("saveAccount")
        self.save_button.setProperty("primary", True)
        self.save_button.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.save_button)

        # The demo's hint for a mailbox whose server moved: shown where the servers are typed.
        self.hint = QLabel(esc(ctx.hints.get(account.email, "")))
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        self.hint.setVisible(bool(ctx.hints.get(account.email)))
        # Scrolls when a failed test's help does not fit the screen.
        self.body = ScrollBody.lay_out(self, [identity, self.hint, self.servers, sending,
                                              self.error], buttons)

        cancel.clicked.connect(self.reject)
        self.save_button.clicked.connect(self.save)
        for field in (self.imap.host, self.username, self.ca_file, self.password):
            field.textChanged.connect(self._update_button)
        for spin in (self.imap.port, self.smtp.port):
            spin.valueChanged.connect(self._update_button)
        for combo in (self.imap.security, self.smtp.security):
            combo.currentIndexChanged.connect(self._update_button)
        self.smtp.host.textChanged.connect(self._update_button)
        self.work = DialogWork(ctx)  # a test still running when the dialog closes ends with it
        self.name.setFocus()
        keyboard.install(self)

    def _switch_row(self, account: Account) -> QWidget:
        """How the mailbox signs in, and the switches to the other ways (issue 24)."""
        if account.is_oauth:
            kinds = ["imap"]
        else:
            fit = suggested_kind(account)
            kinds = [fit] if fit else list(OAUTH_KINDS)
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel(method_words(account.kind, account.auth_method).capitalize()))
        self.switch_buttons: dict[str, QPushButton] = {}
        for kind in kinds:
            button = QPushButton(switch_words(kind) + "…")
            button.setObjectName(f"switchTo_{kind}")
            button.setAutoDefault(False)
            button.clicked.connect(lambda _c=False, k=kind: self.switch_to(k))
            self.switch_buttons[kind] = button
            row.addWidget(button)
        row.addStretch(1)
        return box

    def switch_to(self, kind: str) -> SwitchSignInDialog:
        """Switch the mailbox's sign-in (its own dialog); once switched, this one closes (its
        servers and password fields are the old method's)."""
        dialog = open_switch(self.ctx, self.account_id, kind, self)
        dialog.switched.connect(self._switched)
        return dialog

    def _switched(self, account_id: int) -> None:
        self.saved.emit(account_id)
        self.discard()  # nothing typed here is saved: the mailbox changed under the form

    # --- form -----------------------------------------------------------------------------------

    def edit(self) -> editing.AccountEdit:
        return editing.AccountEdit(
            name=self.name.text(), signature=self.signature.toPlainText().rstrip(),
            imap_host=self.imap.host.text().strip(), imap_port=self.imap.port.value(),
            imap_security=str(self.imap.security.currentData()),
            smtp_host=self.smtp.host.text().strip(), smtp_port=self.smtp.port.value(),
            smtp_security=str(self.smtp.security.currentData()),
            username=self.username.text().strip(), ca_file=self.ca_file.text().strip(),
            password=self.password.text() or None,
            daily_limit=self.daily_limit.value(), min_gap_seconds=self.min_gap.value(),
            warmup=((self.warmup_start.value(), self.warmup_step.value())
                    if self.warmup.isChecked() else None),
            warmup_off=not self.warmup.isChecked(),
            password_rotation_days=(None if self.is_oauth or self.rotation_default.isChecked()
                                    else self.rotation.value()),
            password_rotation_default=not self.is_oauth and self.rotation_default.isChecked(),
        )

    def _pending(self) -> tuple[Account, dict[str, object], editing.AccountEdit]:
        account = Account.get_by_id(self.account_id)
        edit = self.edit()
        if edit.password is not None:
            edit.password = editing.clean_new_password(account, edit.password)
        return account, editing.validate_edit(account, edit), edit

    def _update_button(self, *_args: object) -> None:
        try:
            _account, changes, edit = self._pending()
            servers = editing.server_settings_change(changes, edit)
        except InvalidInput:
            servers = False
        self.save_button.setText("Test && Save" if servers else "Save")

    def show_error(self, html: str) -> None:
        self.error.set_message(html)
        self.error.setVisible(bool(html))
        fit_height(self)

    # --- save -----------------------------------------------------------------------------------

    def save(self) -> None:
        try:
            account, changes, edit = self._pending()
        except InvalidInput as exc:
            self.show_error(esc(sentence(exc)))
            return
        if not changes and edit.password is None:
            self.accept()
            return
        self.show_error("")
        self.save_button.setEnabled(False)
        servers = editing.server_settings_change(changes, edit)
        self.progress.setText("Testing IMAP and SMTP with the new settings…" if servers
                              else "Saving…")
        self.work.spawn(self._save(account, changes, edit.password, servers), "edit account")

    async def _save(self, account: Account, changes: dict[str, object], password: str | None,
                    servers: bool) -> None:
        try:
            tested = None
            if servers:
                proposed = editing.proposed_account(account, changes)
                watch = self.work.watch(self.ctx.timeout)
                imap, smtp = await self.ctx.connection_test(proposed, password, watch)
                if not self.work.alive:
                    return  # the dialog closed meanwhile: nothing is saved
                outcome = TestOutcome.of(imap, smtp)
                if not outcome.ok:
                    lines = failure_help(proposed, outcome.reason, answer=outcome.detail)
                    self.show_error(
                        f"<b>Not saved: {esc(outcome.label)}</b>"
                        + (f"<br><tt>{esc(outcome.detail[:240])}</tt>" if outcome.detail
                           else "")
                        + "<ul style='margin-left:-20px'>"
                        + "".join(f"<li>{esc(line)}</li>" for line in lines[:-1]) + "</ul>")
                    return
                tested = (imap, smtp)
            # Not cancelled with the dialog: once started, saving finishes.
            store = self.ctx.spawn(self._store(account, changes, password, tested),
                                   "save account edit")
            error = await asyncio.shield(store)
            if not self.work.alive:
                return
            if error:
                self.show_error(esc(error))
                return
            # A new password or reminder period changes what needs the rep: say so at once.
            self.ctx.attention_changed()
            self.saved.emit(self.account_id)
            self.accept()
        finally:
            if self.work.alive:
                self.save_button.setEnabled(True)
                self.progress.setText("")

    async def _store(self, account: Account, changes: dict[str, object], password: str | None,
                     tested: tuple[ProbeLike, ProbeLike] | None) -> str | None:
        """The edit, then the passing test as the mailbox's re-check; touches no widget (the
        dialog may be gone). Returns what went wrong, for the rep, or None."""
        account_id = int(account.id)
        try:
            await self.ctx.blocking(editing.save_edit, account, changes, password,
                                    self.ctx.clock.now())
        except (InvalidInput, SecretStoreError) as exc:
            return sentence(exc)
        if tested is not None and editing.can_be_rechecked(Account.get_by_id(account_id)):
            # The test is its re-check, stored through the monitor (after any check of this
            # mailbox already in flight).
            imap, smtp = tested
            now = self.ctx.clock.now()
            await self.ctx.store_test(account_id, lambda: editing.record_edit_test(
                account_id, imap, smtp, now))
        return None

    def done(self, result: int) -> None:
        self.work.stop()  # a test still running gives up now
        super().done(result)


def open_edit_account(ctx: UiContext, account_id: int, parent: QWidget) -> EditAccountDialog:
    dialog = EditAccountDialog(ctx, account_id, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
