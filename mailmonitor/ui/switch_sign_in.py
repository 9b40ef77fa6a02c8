"""Switching a mailbox's sign-in in place (issue 24): to "Sign in with Microsoft / Google", and
back to a password, keeping the mailbox (its id, check history, campaigns and leads).

The steps are `services.accounts.switching`: `plan_switch` here on the Qt thread (bad input says
so at once), `sign_in_and_test` in a worker thread (the browser, then real IMAP and SMTP logins
with the new method) with the sign-in link shown and copyable, `apply_switch` back on the Qt
thread once both connected. Cancel (Esc) gives up the sign-in (`abandon_switch`: nothing
changed); a failure is one line, and nothing changed either. Opened from the Edit mailbox
dialog and as the action of the radar's card."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.models import Account
from mailmonitor.services.accounts.providers import PRESETS
from mailmonitor.services.accounts.switching import (
    OAUTH_KINDS,
    PROVIDER_NAMES,
    CheckFn,
    Staged,
    SwitchFailed,
    SwitchPlan,
    abandon_switch,
    apply_switch,
    method_words,
    plan_switch,
    sign_in_and_test,
)
from mailmonitor.services.auth import oauth
from mailmonitor.services.auth.secrets import SecretStoreError
from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.monitoring.probes import ProbeResult
from mailmonitor.ui import keyboard
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.dialog_work import DialogWork
from mailmonitor.ui.format import esc, sentence
from mailmonitor.ui.widgets import ButtonRow, label, muted

SIGN_IN_TIMEOUT = 300.0  # seconds the browser sign-in may take


def suggested_kind(account: Account) -> str | None:
    """The browser sign-in that fits the mailbox's provider (its kind, else its servers), or
    None when neither Google nor Microsoft serves it."""
    if account.kind in OAUTH_KINDS:
        return str(account.kind)
    host = (account.imap_host or "").lower()
    for kind in OAUTH_KINDS:
        preset = PRESETS.get(kind)
        if preset is not None and host in (preset.imap_host.lower(), preset.smtp_host.lower()):
            return kind
    return None


def switch_words(kind: str) -> str:
    """The button's words: "Switch to Sign in with Microsoft" / "Switch to a password"."""
    return f"Switch to {method_words(kind, 'oauth2' if kind in OAUTH_KINDS else 'password')}"


class SwitchSignInDialog(keyboard.Dialog):
    """Switch one mailbox to `kind` (gmail / microsoft: browser sign-in; imap: a password).
    Opened with `open()`; Enter starts, Esc cancels (giving up a sign-in under way).

    `signer` and `check` stand in for the browser and the real IMAP/SMTP test (tests; default:
    the browser and the window's check function).

    Signals:
        switched(int): the mailbox now signs in the new way.
    """

    switched = Signal(int)

    def __init__(self, ctx: UiContext, account_id: int, kind: str,
                 parent: QWidget | None = None, *, signer: oauth.Signer | None = None,
                 check: CheckFn | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.account_id = account_id
        self.kind = kind
        self.signer = signer
        self.check = check
        account = Account.get_by_id(account_id)
        self.email = str(account.email)
        self.was = method_words(account.kind, account.auth_method)
        self.to_oauth = kind in OAUTH_KINDS
        self.goal = method_words(kind, "oauth2" if self.to_oauth else "password")
        self.setObjectName("switchSignIn")
        self.setWindowTitle(f"{switch_words(kind)}: {account.email}")
        self.setMinimumWidth(520)

        intro = QLabel(
            f"<b>{esc(account.email)}</b> signs in with {esc(self.was)} now. "
            + (f"Your browser opens to sign in with {esc(PROVIDER_NAMES.get(kind, kind))}; "
               if self.to_oauth else "Type its password (an app password works too); ")
            + "then IMAP and SMTP are tested with it. Only when both connect does the mailbox "
            "switch; it keeps its check history, campaigns, leads and sending settings.")
        intro.setWordWrap(True)
        self.password = QLineEdit()
        self.password.setObjectName("switchPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        if not self.to_oauth:
            form.addRow("Password", self.password)
        self.progress = muted()
        self.progress.setObjectName("switchProgress")
        self.link = muted()
        self.link.setObjectName("switchLink")
        self.link.setTextFormat(Qt.TextFormat.RichText)
        self.link.setOpenExternalLinks(True)
        self.link.hide()
        self.copy_link = QPushButton("Copy link")
        self.copy_link.setObjectName("copySignInLink")
        self.copy_link.setToolTip("The sign-in page's address, to open in another browser")
        self.copy_link.hide()
        self.sign_in_url = ""
        self.error = label(role="error")
        self.error.setObjectName("switchError")
        self.error.hide()

        buttons = ButtonRow()
        buttons.addWidget(self.copy_link)
        buttons.addStretch(1)
        self.cancel_button = buttons.button("Cancel")
        self.start_button = buttons.button(switch_words(kind), primary=True)
        self.start_button.setObjectName("startSwitch")
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.link)
        layout.addWidget(self.error)
        layout.addLayout(buttons)

        self.work = DialogWork(ctx)
        self._cancel = self.work.cancel_event()
        self.cancel_button.clicked.connect(self.reject)
        self.start_button.clicked.connect(self.start)
        self.copy_link.clicked.connect(self._copy)
        keyboard.install(self)
        if not self.to_oauth:
            self.password.setFocus()

    # --- steps ----------------------------------------------------------------------------------

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def start(self) -> None:
        if self.work.busy:
            return
        account = Account.get_or_none(Account.id == self.account_id)
        if account is None:
            self.reject()
            return
        try:
            plan = plan_switch(account, self.kind,
                               password=None if self.to_oauth else self.password.text())
        except InvalidInput as exc:
            self.show_error(sentence(exc))
            return
        if plan is None:
            self.show_error(f"{self.email} already signs in with {self.goal}.")
            return
        self.show_error("")
        self.start_button.setEnabled(False)
        self.progress.setText("Waiting for the sign-in in your browser…" if self.to_oauth
                              else f"Testing IMAP and SMTP with {self.goal}…")
        self.work.spawn(self._run(account, plan), "switch sign-in")

    def _show_url(self, url: str) -> None:
        if not self.work.alive:
            return
        self.sign_in_url = url
        self.link.setText("If no browser opened, <a href=\"" + esc(url)
                          + "\">open the sign-in page</a> or copy its link.")
        self.link.show()
        self.copy_link.show()

    def _testing(self) -> None:
        if self.work.alive:
            self.progress.setText(f"Signed in. Testing IMAP and SMTP with {self.goal}…")

    def _copy(self) -> None:
        if self.sign_in_url:
            QApplication.clipboard().setText(self.sign_in_url)
            self.progress.setText("Link copied: paste it in a browser to sign in.")

    def _stage(self, account: Account, plan: SwitchPlan) -> Staged:
        """In the worker thread: sign in and test; a cancel meanwhile takes the tokens back."""
        loop = self.ctx.loop
        check_fn = self.check or self.ctx.check_fn
        cancel = self._cancel

        def check(proposed: Account, password: str | None, timeout: float
                  ) -> tuple[ProbeResult, ProbeResult]:
            loop.call_soon_threadsafe(self._testing)
            return check_fn(proposed, password, timeout)  # type: ignore[return-value]

        def on_url(url: str) -> None:
            loop.call_soon_threadsafe(self._show_url, url)

        staged = sign_in_and_test(
            account, plan, SIGN_IN_TIMEOUT, cancel=cancel, signer=self.signer, check=check,
            check_timeout=self.ctx.timeout,
            on_url=on_url)
        if cancel.is_set():
            abandon_switch(staged)
            raise SwitchFailed(f"cancelled: {plan.email} still signs in with {self.was}")
        return staged

    async def _run(self, account: Account, plan: SwitchPlan) -> None:
        staged: Staged | None = None
        try:
            try:
                staged = await self.ctx.blocking(partial(self._stage, account, plan))
            except SwitchFailed as exc:
                if self.work.alive:
                    self.show_error(sentence(exc))
                return
            if not self.work.alive:  # cancelled meanwhile: nothing changes
                abandon_switch(staged)
                return
            try:
                apply_switch(staged, self.ctx.clock.now())
            except SecretStoreError as exc:
                self.show_error(sentence(exc))
                return
            self.ctx.attention_changed()
            self.ctx.say(f"{esc(self.email)} now signs in with {esc(self.goal)}.")
            self.switched.emit(self.account_id)
            self.accept()
        finally:
            if self.work.alive:
                self.start_button.setEnabled(True)
                self.progress.setText("")
                self.link.hide()
                self.copy_link.hide()

    def done(self, result: int) -> None:
        self.work.stop()  # a sign-in still running gives up now (its tokens go)
        super().done(result)


def open_switch(ctx: UiContext, account_id: int, kind: str, parent: QWidget
                ) -> SwitchSignInDialog:
    dialog = SwitchSignInDialog(ctx, account_id, kind, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog

