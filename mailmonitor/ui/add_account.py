"""Add a mailbox: Google / Microsoft / Other (IMAP/SMTP). Endpoints come from the provider
presets found by the address's domain; the connection is tested for real before anything is
stored, and a failure says what to do. The steps are `services.accounts.add_flow.AddAccountFlow`;
this dialog renders the form and runs the blocking parts in worker threads."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.services.accounts.add_flow import AddAccountFlow
from mailmonitor.services.accounts.adding import AccountSpec
from mailmonitor.services.accounts.connection_test import OAUTH_NOT_CONFIGURED, oauth_hook
from mailmonitor.services.accounts.providers import (
    DEFAULT_SECURITY,
    PRESETS,
    Preset,
    preset_for_email,
    standard_port,
)
from mailmonitor.services.auth.registration import not_set_up_message, registration
from mailmonitor.services.auth.secrets import SecretStoreError
from mailmonitor.services.common.validation import InvalidInput, is_local_host
from mailmonitor.services.monitoring.account_state import ProbeLike
from mailmonitor.services.monitoring.progress import ProbeWatch
from mailmonitor.services.reconnect.failure_words import failure_text
from mailmonitor.ui import keyboard
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.dialog_work import DialogWork
from mailmonitor.ui.format import esc, sentence
from mailmonitor.ui.guide import learn_more, open_link, page_for_test, url
from mailmonitor.ui.probe_progress import DetailsBox, ProbeProgress
from mailmonitor.ui.status_advice import failure_html
from mailmonitor.ui.widgets import (
    Banner,
    ButtonRow,
    ScrollBody,
    bounded_spin,
    fit_height,
    muted,
)

log = logging.getLogger(__name__)

SIGN_IN_TIMEOUT = 300.0  # seconds the browser sign-in may take

KINDS = (("gmail", "Google"), ("microsoft", "Microsoft"), ("imap", "Other (IMAP/SMTP)"))
PLAIN_WORDS = "None (not encrypted)"  # the dropdown's words for `plain`, also in its warning
SECURITY = (("ssl", "SSL/TLS"), ("starttls", "STARTTLS"), ("plain", PLAIN_WORDS))



class EndpointEditor(QWidget):
    """Host, port and security of one protocol. Starts at the protocol's usual port (never 1),
    and follows the security choice while the port is still a usual one."""

    def __init__(self, protocol: str = "imap", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.protocol = protocol
        self.host = QLineEdit()
        self.host.setObjectName(f"{protocol}Host")
        self.port = bounded_spin(f"{protocol}_port")
        self.port.setObjectName(f"{protocol}Port")
        self.security = QComboBox()
        for value, label in SECURITY:
            self.security.addItem(label, value)
        security = DEFAULT_SECURITY[protocol]
        self.security.setCurrentIndex(max(0, self.security.findData(security)))
        self.port.setValue(standard_port(protocol, security))
        self._security = security
        self.security.currentIndexChanged.connect(self._security_changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.host, 1)
        layout.addWidget(self.port)
        layout.addWidget(self.security)

    def set(self, host: str, port: int, security: str) -> None:
        self.host.setText(host)
        self.security.setCurrentIndex(max(0, self.security.findData(security)))
        self.port.setValue(port)
        self._security = security

    def _security_changed(self, _index: int) -> None:
        new = str(self.security.currentData())
        if self.port.value() == standard_port(self.protocol, self._security):
            self.port.setValue(standard_port(self.protocol, new))
        self._security = new


class AddAccountDialog(keyboard.Dialog):
    """Signals:
        added(int): the account was tested and stored.
        signInSettingsRequested(): open Settings → Sign-in (Google/Microsoft not set up).
    """

    added = Signal(int)
    signInSettingsRequested = Signal()

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("addAccount")
        self.setWindowTitle("Add a mailbox")
        self.setMinimumWidth(560)
        self.kind_buttons = QButtonGroup(self)
        kind_row = QHBoxLayout()
        for value, label in KINDS:
            button = QPushButton(label)
            button.setCheckable(True)
            button.setObjectName(f"kind_{value}")
            button.setProperty("kind", value)
            self.kind_buttons.addButton(button)
            kind_row.addWidget(button)
        self.email = QLineEdit()
        self.email.setObjectName("email")
        self.email.setPlaceholderText("you@company.com")
        self.name = QLineEdit()
        self.name.setPlaceholderText("Shown as the sender")
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_help = muted()
        self.password_help.setTextFormat(Qt.TextFormat.RichText)
        self.password_help.linkActivated.connect(lambda href: open_link(self, href))
        # Two lines of help always fit (a form row does not grow with wrapped text by itself).
        self.password_help.setMinimumHeight(self.password_help.fontMetrics().lineSpacing() * 2
                                            + 4)
        self.sign_in = QPushButton()
        self.sign_in.setObjectName("oauthSignIn")
        self.sign_in.setProperty("primary", True)
        self.sign_in_note = muted()
        self.sign_in_note.linkActivated.connect(self._link)

        self.imap = EndpointEditor("imap")
        self.smtp = EndpointEditor("smtp")
        self.username = QLineEdit()
        self.username.setPlaceholderText("Same as the address")
        self.servers = QGroupBox("Servers")
        servers_box = QVBoxLayout(self.servers)
        servers = QFormLayout()
        servers_box.addLayout(servers)
        servers.addRow("IMAP (incoming)", self.imap)
        servers.addRow("SMTP (outgoing)", self.smtp)
        servers.addRow("Username", self.username)
        # Under the form, not in a form row: a wrapped label in a QFormLayout row is given one
        # line's height and clipped.
        self.plaintext_warning = QLabel()
        self.plaintext_warning.setObjectName("plaintextWarning")
        self.plaintext_warning.setWordWrap(True)
        self.plaintext_warning.hide()
        servers_box.addWidget(self.plaintext_warning)

        self.error = Banner("error")
        self.error.setObjectName("addError")
        self.error.linkActivated.connect(lambda href: open_link(self, href))
        self.error.hide()
        self.progress = muted(wrap=False)
        self.test_progress = ProbeProgress()
        self.stop_test = QPushButton("Stop test")
        self.stop_test.setObjectName("stopTest")
        self.stop_test.hide()
        self.details = DetailsBox()
        self.work = DialogWork(ctx)
        self._watch: ProbeWatch | None = None

        form = QFormLayout()
        form.addRow("Email address", self.email)
        form.addRow("Sender name", self.name)
        form.addRow("", self.sign_in)
        form.addRow("", self.sign_in_note)
        form.addRow("Password", self.password)
        form.addRow("", self.password_help)

        buttons = ButtonRow()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.stop_test)
        cancel = buttons.button("Cancel")
        self.add_button = buttons.button("Test && Add", primary=True)
        self.add_button.setObjectName("testAndAdd")

        # Everything but the buttons scrolls when it does not fit the screen (a long failure
        # with its details): the buttons stay on screen.
        self.body = ScrollBody.lay_out(self, [kind_row, form, self.servers, self.error,
                                              self.details, self.test_progress], buttons)

        self._hosts_edited = False
        self._cancel_sign_in = self.work.cancel_event()
        self.flow = AddAccountFlow()
        cancel.clicked.connect(self.reject)
        self.stop_test.clicked.connect(self._stop_test)
        self.add_button.clicked.connect(self.test_and_add)
        self.sign_in.clicked.connect(self.sign_in_with_browser)
        self.email.textChanged.connect(self._email_changed)
        self.imap.host.textEdited.connect(self._edited)
        self.smtp.host.textEdited.connect(self._edited)
        for editor in (self.imap, self.smtp):
            editor.security.currentIndexChanged.connect(self._security_changed)
            editor.host.textChanged.connect(self._security_changed)
        self.kind_buttons.buttonClicked.connect(lambda _b: self._kind_changed())
        self.kind_buttons.buttons()[2].setChecked(True)
        self._kind_changed()
        keyboard.install(self)

    # --- form behaviour -----------------------------------------------------------------------

    @property
    def kind(self) -> str:
        button = self.kind_buttons.checkedButton()
        return str(button.property("kind")) if button is not None else "imap"

    def set_kind(self, kind: str) -> None:
        for button in self.kind_buttons.buttons():
            button.setChecked(button.property("kind") == kind)
        self._kind_changed()

    def _set_password_help(self, text: str, preset: Preset | None = None) -> None:
        """The provider's words, with its own page (or the guide's) one click away."""
        href = preset.app_password_url if preset is not None and preset.app_password_url \
            else url("reconnecting.html", "app-passwords")
        self.password_help.setText(f"{esc(text)} {learn_more(href, 'How to create one')}")

    def _edited(self, _text: str) -> None:
        self._hosts_edited = True

    def _plain_sides(self) -> tuple[list[str], list[str]]:
        """The sides set to no encryption: all of them, and those whose host is remote."""
        plain = [(name, editor.host.text().strip()) for name, editor in
                 (("IMAP", self.imap), ("SMTP", self.smtp))
                 if editor.security.currentData() == "plain"]
        return ([name for name, _ in plain],
                [name for name, host in plain if host and not is_local_host(host)])

    def _security_changed(self, *_args: object) -> None:
        """'None (not encrypted)' sends the password unencrypted: say so while it is chosen."""
        plain, remote = self._plain_sides()
        if remote:
            text = (f"⚠ {' and '.join(remote)}: “{PLAIN_WORDS}” would send your password "
                    "unencrypted over the internet; mailmonitor refuses it. Choose SSL/TLS or "
                    "STARTTLS.")
        elif plain:
            text = (f"⚠ {' and '.join(plain)}: “{PLAIN_WORDS}” sends your "
                    "password unencrypted; use it only for a server on this computer or your "
                    "network.")
        else:
            text = ""
        self.plaintext_warning.setText(text)
        self.plaintext_warning.setVisible(bool(text))

    def _email_changed(self, text: str) -> None:
        preset = preset_for_email(text.strip())
        if preset is None:
            return
        key = next((k for k, p in PRESETS.items() if p is preset), "imap")
        if key in ("gmail", "microsoft") and self.kind != key:
            self.set_kind(key)
        elif not self._hosts_edited:
            self._fill(preset.imap_host, preset.imap_port, preset.imap_security,
                       preset.smtp_host, preset.smtp_port, preset.smtp_security)
            self._set_password_help(preset.app_password_help, preset)

    def _fill(self, imap_host: str, imap_port: int, imap_sec: str, smtp_host: str,
              smtp_port: int, smtp_sec: str) -> None:
        self.imap.set(imap_host, imap_port, imap_sec)
        self.smtp.set(smtp_host, smtp_port, smtp_sec)

    def _kind_changed(self) -> None:
        kind = self.kind
        oauth_kind = kind in ("gmail", "microsoft")
        self.sign_in.setVisible(oauth_kind)
        self.sign_in_note.setVisible(oauth_kind)
        self.servers.setVisible(not oauth_kind)
        preset: Preset | None
        if kind == "gmail":
            preset = PRESETS["gmail"]
            self.sign_in.setText("Sign in with Google")
            self.sign_in_note.setText("Recommended. Or paste an app password below instead.")
            self._set_password_help(preset.app_password_help, preset)
        elif kind == "microsoft":
            preset = PRESETS["microsoft"]
            self.sign_in.setText("Sign in with Microsoft")
            self.sign_in_note.setText("Microsoft 365 needs the browser sign-in: password sign-in "
                                      "(basic authentication) is switched off for most mailboxes.")
            self._set_password_help(preset.app_password_help, preset)
        else:
            preset = preset_for_email(self.email.text().strip())
            self._set_password_help(preset.app_password_help if preset else
                                    "If the mailbox uses two-factor authentication, create an "
                                    "app password at your provider and paste it here.", preset)
        if oauth_kind:
            provider = "google" if kind == "gmail" else "microsoft"
            configured = registration(provider).configured
            self.sign_in.setEnabled(configured)
            if not configured:
                self.sign_in.setToolTip(not_set_up_message(provider))
                self.sign_in_note.setText(
                    esc(not_set_up_message(provider))
                    + " <a href='settings:sign-in'>Open Settings → Sign-in</a>")
            else:
                self.sign_in.setToolTip("")
        if oauth_kind and preset is not None and not self._hosts_edited:
            self._fill(preset.imap_host, preset.imap_port, preset.imap_security,
                       preset.smtp_host, preset.smtp_port, preset.smtp_security)
        self.password.setPlaceholderText("App password" if kind == "gmail" else "")
        fit_height(self)

    def spec(self) -> AccountSpec:
        """What the form says, validated (raises InvalidInput with a message for the rep)."""
        kind = self.kind
        return AccountSpec(
            email=self.email.text(), name=self.name.text().strip(), kind=kind,
            imap_host=self.imap.host.text().strip(), imap_port=self.imap.port.value(),
            imap_security=str(self.imap.security.currentData()),
            smtp_host=self.smtp.host.text().strip(), smtp_port=self.smtp.port.value(),
            smtp_security=str(self.smtp.security.currentData()),
            username=self.username.text().strip(),
        ).validated()

    def show_error(self, html: str, details: str = "") -> None:
        self.error.set_message(html)
        self.error.setVisible(bool(html))
        self.details.set_text(details)
        fit_height(self)

    # --- actions --------------------------------------------------------------------------------

    def test_and_add(self) -> None:
        if self.flow.testing:
            return
        if not self.email.text().strip():
            self.show_error("Enter the mailbox's email address.")
            self.email.setFocus()
            return
        _plain, remote = self._plain_sides()
        if remote:  # the form's words, not the command line's (--allow-plaintext)
            self.show_error(esc(self.plaintext_warning.text().lstrip("⚠ ")))
            editor = self.imap if remote[0] == "IMAP" else self.smtp
            editor.security.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        try:
            spec = self.spec()
        except InvalidInput as exc:
            self.show_error(esc(sentence(exc)))
            return
        self.flow.set_spec(spec, self.ctx.clock.now())
        self.flow.set_password(self.password.text())
        ok, why = self.flow.can_test()
        if not ok:
            if spec.kind in ("gmail", "microsoft") and not self.flow.has_password:
                self.show_error(f"Press “{self.sign_in.text()}”, or paste an app password.")
            else:
                self.show_error(esc(why))
            return
        self.show_error("")
        self.add_button.setEnabled(False)
        self.progress.setText("Testing IMAP and SMTP at the same time…")
        watch = self.work.watch(self.ctx.timeout)
        self._watch = watch
        self.test_progress.start(watch)
        self.stop_test.show()
        fit_height(self)
        self.work.spawn(self._test_and_add(watch), "add account")

    def _stop_test(self) -> None:
        if self._watch is not None:
            self._watch.cancel()

    async def _test_and_add(self, watch: ProbeWatch) -> None:
        flow = self.flow
        try:
            password = flow.start_test()
            probes: tuple[ProbeLike, ProbeLike] | None = None
            crash = ""
            try:
                probes = await self.ctx.connection_test(flow.tested_account(), password, watch)
            except Exception as exc:  # the probe itself broke: say so, store nothing
                if not watch.cancelled.is_set():
                    log.exception("connection test of a new mailbox failed to run")
                crash = f"{type(exc).__name__}: {exc}"
            if not self.work.alive:
                return  # the dialog closed meanwhile: its widgets may be gone
            if watch.cancelled.is_set():
                flow.test_stopped()
                self.show_error("Test stopped. Nothing was stored.")
                return
            outcome = flow.finish_test(*probes) if probes is not None else flow.test_crashed(crash)
            if not outcome.ok:
                text = failure_text(flow.tested_account(), outcome, "adding", self.ctx.timeout)
                self.show_error(failure_html(text.title, "", text.advice,
                                             more=page_for_test(outcome.status, outcome.reason,
                                                                outcome.held)),
                                text.details)
                self.focus_field_to_fix(outcome.field_to_fix)
                return
            try:
                account_id = await self.ctx.blocking(flow.store_account, self.ctx.clock.now())
            except (InvalidInput, SecretStoreError) as exc:
                flow.back()  # the next press tests again
                if self.work.alive:
                    self.show_error(esc(str(exc)))
                return
            await self.ctx.store_test(account_id, lambda: flow.record_test(self.ctx.clock.now()))
            if not self.work.alive:
                return
            self.added.emit(account_id)
            self.accept()
        finally:
            if self.work.alive:
                self.add_button.setEnabled(True)
                self.progress.setText("")
                self.test_progress.stop()
                self.stop_test.hide()

    def focus_field_to_fix(self, which: str | None) -> None:
        """After a failed test the focus goes where the rep fixes it (the password, selected so
        typing replaces it; else the server that failed), never onto a button."""
        field: QLineEdit | None = {"password": self.password, "imap": self.imap.host,
                                   "smtp": self.smtp.host}.get(which or "")
        if field is None or not field.isVisibleTo(self):
            field = self.password if self.password.isVisibleTo(self) else self.email
        field.setFocus(Qt.FocusReason.OtherFocusReason)
        field.selectAll()

    def _link(self, href: str) -> None:
        if href == "settings:sign-in":
            self.signInSettingsRequested.emit()
        else:
            QDesktopServices.openUrl(QUrl(href))

    def sign_in_with_browser(self) -> None:
        hook = oauth_hook("add_account")
        if hook is None:
            self.show_error(esc(OAUTH_NOT_CONFIGURED))
            return
        try:
            spec = self.spec()
        except InvalidInput as exc:
            self.show_error(esc(str(exc)))
            return
        self.show_error("")
        self._cancel_sign_in.clear()
        self.sign_in.setEnabled(False)
        self.sign_in_note.setText("Waiting for the sign-in in your browser…")
        self.work.spawn(self._sign_in(hook, spec), "browser sign-in")

    async def _sign_in(self, hook: Any, spec: AccountSpec) -> None:
        def show_url(url: str) -> None:
            if self.work.alive:
                self.sign_in_note.setText(
                    "Waiting for the sign-in in your browser… If no browser opened, "
                    f"<a href=\"{esc(url)}\">open the sign-in page</a>.")

        def on_url(url: str) -> None:  # called from the worker thread
            self.ctx.loop.call_soon_threadsafe(show_url, url)

        try:
            account = await self.ctx.blocking(partial(
                hook, spec, SIGN_IN_TIMEOUT, self.ctx.clock.now(), on_url=on_url,
                cancel=self._cancel_sign_in))
        except Exception as exc:
            if self.work.alive:
                self.sign_in_note.setText("")
                self.show_error("The sign-in did not finish.", str(exc))
            return
        finally:
            if self.work.alive:
                self.sign_in.setEnabled(True)
        if not self.work.alive:
            return
        self.added.emit(int(account.id))
        self.accept()

    def done(self, result: int) -> None:
        self.work.stop()  # a test or browser sign-in still running gives up now
        self.test_progress.stop()
        super().done(result)
