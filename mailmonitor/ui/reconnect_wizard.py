"""The reconnect wizard's pages (spec §5). Navigation and effects live in
`services.reconnect.flow.ReconnectFlow`; this module only renders `flow.page` and forwards the
rep's clicks. Blocking work (the real connection test, the keyring, the browser sign-in) runs in
worker threads through the UI context."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFrame,
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

from mailmonitor.models import Account
from mailmonitor.services.accounts.connection_test import (
    DIAGNOSTICS_HINT,
    OAUTH_NOT_CONFIGURED,
    FlowError,
    oauth_hook,
)
from mailmonitor.services.auth.registration import not_set_up_message, registration
from mailmonitor.services.reconnect.confirmation import choices_now, reconnect_confirmation
from mailmonitor.services.reconnect.failure_words import failure_text
from mailmonitor.services.reconnect.flow import Page, ReconnectFlow, SaveResult
from mailmonitor.ui import format as fmt
from mailmonitor.ui import keyboard
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.dialog_work import DialogWork
from mailmonitor.ui.guide import open_link, page_for_test
from mailmonitor.ui.icons import campaign_icon
from mailmonitor.ui.probe_progress import DetailsBox, ProbeProgress
from mailmonitor.ui.status_advice import AccountStatusHeader, failure_html
from mailmonitor.ui.warmup_dialog import WarmupDialog
from mailmonitor.ui.widgets import (
    Banner,
    ButtonRow,
    ScrollBody,
    fit_height,
    heading,
    label,
    muted,
)

log = logging.getLogger(__name__)

SIGN_IN_TIMEOUT = 300.0  # seconds the browser sign-in may take
WHEN_STOPPED = ("You disconnected this mailbox. Sign in again to connect it; within the grace "
                "period it gets its leads back.")
OTHERWISE = "Sign in again to make sure sending keeps working."


class SelectCampaignPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = AccountStatusHeader()
        self.question = label("Which campaign should continue after reconnecting?",
                              "subheading", wrap=False)
        self.campaigns = QListWidget()
        self.campaigns.setObjectName("campaignChoices")
        self.empty = muted("This mailbox does not send for any campaign.")
        buttons = ButtonRow()
        self.cancel = buttons.button("Cancel")
        buttons.addStretch(1)
        self.skip = buttons.button("Skip")
        self.skip.setToolTip("Go to the connection page without changing sending settings")
        self.edit_warmup = buttons.button("Edit Warm-up", primary=True)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(self.header)
        layout.addSpacing(6)
        layout.addWidget(self.question)
        layout.addWidget(self.campaigns, 1)
        layout.addWidget(self.empty)
        layout.addLayout(buttons)


class ConnectionPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = AccountStatusHeader()
        self.servers = muted("")
        self.password_label = QLabel("Password or app password")
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("Paste the new password or app password")
        self.show_password = QCheckBox("Show")
        self.hint = muted("")
        self.hint.setObjectName("hint")
        self.browser = QPushButton("Continue in your browser")
        self.browser.setObjectName("browserSignIn")
        self.browser.setProperty("primary", True)
        self.signed_in = muted("")
        self.signed_in.setObjectName("signInStatus")
        self.signed_in.setTextFormat(Qt.TextFormat.RichText)
        self.signed_in.setOpenExternalLinks(True)
        self.progress = muted("")
        self.progress.setObjectName("progress")
        self.test_progress = ProbeProgress()
        self.failure = Banner("error")
        self.failure.setObjectName("failureHelp")
        self.failure.linkActivated.connect(lambda href: open_link(self, href))
        self.failure.hide()
        self.details = DetailsBox()
        buttons = ButtonRow()
        self.cancel = buttons.button("Cancel")
        self.diagnostics = buttons.button("Copy diagnostics")
        self.diagnostics.setToolTip("Copies a report without passwords, for a support request")
        buttons.addStretch(1)
        self.back = buttons.button("Back")
        self.edit_warmup = buttons.button("Edit Warm-up")
        self.next = buttons.button("Next", primary=True)
        self.next.setToolTip("Tests the connection for real; continues only if it works")

        password_row = QHBoxLayout()
        password_row.addWidget(self.password, 1)
        password_row.addWidget(self.show_password)
        self.password_box = QWidget()
        box = QVBoxLayout(self.password_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.password_label)
        box.addLayout(password_row)
        box.addWidget(self.hint)
        self.oauth_box = QWidget()
        obox = QVBoxLayout(self.oauth_box)
        obox.setContentsMargins(0, 0, 0, 0)
        obox.addWidget(muted("Sign in with the provider in your web browser; mailmonitor "
                             "waits for it and keeps the new sign-in in the system keyring."))
        obox.addWidget(self.browser, 0, Qt.AlignmentFlag.AlignLeft)
        obox.addWidget(self.signed_in)

        # Everything but the buttons scrolls when a long failure help does not fit the screen.
        section = QLabel("Sign in again")
        section.setObjectName("subheading")
        self.body = ScrollBody.lay_out(self, [
            self.header, self.servers, 4, section, self.password_box, self.oauth_box,
            self.progress, self.test_progress, self.failure, self.details], buttons)
        self.show_password.toggled.connect(lambda on: self.password.setEchoMode(
            QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password))


class ReadyPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.success = Banner("ok")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.error = label(role="error")
        self.error.hide()
        buttons = ButtonRow()
        self.cancel = buttons.button("Cancel")
        buttons.addStretch(1)
        self.back = buttons.button("Back")
        self.save = buttons.button("Save && Resume", primary=True)
        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addWidget(heading("The connection works"))
        layout.addWidget(self.success)
        layout.addWidget(self.summary)
        layout.addWidget(self.error)
        layout.addStretch(1)
        layout.addLayout(buttons)


class ReconnectWizard(keyboard.Dialog):
    """Signals:
        reconnected(int): Save & Resume finished for the account.
    """

    reconnected = Signal(int)

    def __init__(self, ctx: UiContext, flow: ReconnectFlow, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.flow = flow
        self.setObjectName("reconnectWizard")
        self.setWindowTitle(f"Reconnect {flow.account.email}")
        self.setMinimumSize(600, 500)
        self.select_page = SelectCampaignPage()
        self.connection_page = ConnectionPage()
        self.ready_page = ReadyPage()
        self.stack = QStackedWidget()
        for page in (self.select_page, self.connection_page, self.ready_page):
            self.stack.addWidget(page)
        self.steps = QLabel()
        self.steps.setObjectName("steps")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.addWidget(self.steps)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setObjectName("separator")
        layout.addWidget(line)
        layout.addWidget(self.stack, 1)
        self.warmup_dialog: WarmupDialog | None = None
        self.work = DialogWork(ctx)
        self.confirmation = ""  # said by the window after Save & Resume
        self.copied_timer = QTimer(self)
        self.copied_timer.setSingleShot(True)
        self.copied_timer.setInterval(2500)
        self.copied_timer.timeout.connect(
            lambda: self.connection_page.diagnostics.setText("Copy diagnostics"))
        self._cancel_sign_in = self.work.cancel_event()
        self._wire()
        keyboard.install(self)
        self.show_page()

    def extra_state(self) -> object:
        """Typed work outside the fields: sending settings changed in Edit Warm-up."""
        return self.flow.settings

    # --- wiring -------------------------------------------------------------------------------

    def _wire(self) -> None:
        s, c, r = self.select_page, self.connection_page, self.ready_page
        for cancel in (s.cancel, c.cancel, r.cancel):
            cancel.clicked.connect(self.reject)
        s.skip.clicked.connect(lambda: self._navigate(self.flow.skip))
        s.edit_warmup.clicked.connect(self._edit_warmup)
        s.campaigns.currentItemChanged.connect(self._campaign_chosen)
        c.back.clicked.connect(lambda: self._navigate(self.flow.back))
        c.edit_warmup.clicked.connect(self._edit_warmup)
        c.next.clicked.connect(self.test_connection)
        c.password.textChanged.connect(self._password_typed)
        c.browser.clicked.connect(self.sign_in_with_browser)
        c.diagnostics.clicked.connect(self.copy_diagnostics)
        r.back.clicked.connect(lambda: self._navigate(self.flow.back))
        r.save.clicked.connect(self.save_and_resume)

    def _navigate(self, step: Any) -> None:
        try:
            step()
        except FlowError as exc:
            self._show_failure(failure_html(str(exc), emphasis=False))
        self.show_page()

    def _campaign_chosen(self, item: QListWidgetItem | None, _previous: Any = None) -> None:
        if item is not None:
            self.flow.select_campaign(item.data(Qt.ItemDataRole.UserRole))

    def _password_typed(self, text: str) -> None:
        self.flow.set_password(text)
        self._update_next()

    def _update_next(self) -> None:
        ok, why = self.flow.can_test()
        testing = self.flow.page is Page.TESTING
        self.connection_page.next.setEnabled(ok and not testing)
        self.connection_page.next.setToolTip(why or "Tests the connection for real; continues "
                                             "only if it works")

    # --- rendering ----------------------------------------------------------------------------

    STEP_NAMES = (("Campaign", Page.SELECT_CAMPAIGN), ("Warm-up", Page.EDIT_WARMUP),
                  ("Sign in", Page.CONNECTION), ("Save & Resume", Page.READY))

    def show_page(self) -> None:
        page = self.flow.page
        account = self.flow.account
        shown_before = self.stack.currentWidget()
        current = {Page.TESTING: Page.CONNECTION, Page.DONE: Page.READY}.get(page, page)
        self.steps.setText("  ›  ".join(
            f"<b>{name}</b>" if step is current else f"<span style='color:gray'>{name}</span>"
            for name, step in self.STEP_NAMES))
        if page is Page.SELECT_CAMPAIGN:
            self._render_select(account)
            self.stack.setCurrentWidget(self.select_page)
        elif page in (Page.CONNECTION, Page.TESTING, Page.EDIT_WARMUP):
            self._render_connection(account)
            self.stack.setCurrentWidget(self.connection_page)
            if page is Page.EDIT_WARMUP:
                self._open_warmup()
        elif page is Page.READY:
            self._render_ready(account)
            self.stack.setCurrentWidget(self.ready_page)
        elif page is Page.DONE:
            self.accept()
            return
        if self.stack.currentWidget() is not shown_before or self.focusWidget() is None:
            keyboard.start_focus(self)  # a new page: its first field, else its primary button
        else:
            keyboard.keep_focus_safe(self)

    def _render_select(self, account: Account) -> None:
        p = self.select_page
        p.header.show_account(account, f"Reconnect {account.email}", WHEN_STOPPED, OTHERWISE)
        if p.campaigns.count() != len(self.flow.campaigns):
            p.campaigns.clear()
            for choice in self.flow.campaigns:
                waiting = (f" · {fmt.count(choice.waiting_leads, 'lead')} waiting"
                           if choice.waiting_leads else "")
                item = QListWidgetItem(campaign_icon(choice.status,
                                                     pause_reason=choice.pause_reason),
                                       f"{choice.name} — {choice.status_text}{waiting}")
                item.setData(Qt.ItemDataRole.UserRole, choice.id)
                p.campaigns.addItem(item)
        for row in range(p.campaigns.count()):
            item = p.campaigns.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == self.flow.campaign_id:
                p.campaigns.setCurrentRow(row)
        p.campaigns.setVisible(bool(self.flow.campaigns))
        p.question.setVisible(bool(self.flow.campaigns))
        p.empty.setVisible(not self.flow.campaigns)

    def _render_connection(self, account: Account) -> None:
        p = self.connection_page
        p.header.show_account(account, f"Sign in to {account.email} again", WHEN_STOPPED,
                              OTHERWISE)
        p.servers.setText(
            f"IMAP {account.imap_host}:{account.imap_port} ({account.imap_security}) · "
            f"SMTP {account.smtp_host}:{account.smtp_port} ({account.smtp_security}) · "
            f"user {account.login}")
        oauth = bool(account.is_oauth)
        p.password_box.setVisible(not oauth)
        p.oauth_box.setVisible(oauth)
        p.password_label.setText("App password" if account.auth_method == "app_password"
                                 else "Password or app password")
        hint = self.ctx.hints.get(account.email)
        p.hint.setText(hint or "")  # the demo's: what fixes this mailbox
        p.hint.setVisible(bool(hint))
        testing = self.flow.page is Page.TESTING
        p.progress.setText("Testing IMAP and SMTP with the new sign-in…" if testing else "")
        p.progress.setVisible(testing)
        for widget in (p.password, p.back, p.edit_warmup, p.browser):
            widget.setEnabled(not testing)
        if oauth:  # no client registration yet: say what is needed instead of failing
            provider = "google" if account.kind == "gmail" else "microsoft"
            if not registration(provider).configured:
                p.browser.setEnabled(False)
                p.signed_in.setText(fmt.esc(not_set_up_message(provider)))
        p.back.setVisible(bool(self.flow.campaigns))
        test = self.flow.last_test
        if test is not None and not test.ok and not testing:
            text = failure_text(account, test, "reconnecting", self.ctx.timeout)
            self._show_failure(failure_html(text.title, "", [*text.advice, DIAGNOSTICS_HINT],
                                            more=page_for_test(test.status, test.reason,
                                                               test.held)),
                               text.details)
        elif testing or test is None:
            p.failure.hide()
            p.details.set_text("")
        self._update_next()

    def _show_failure(self, html: str, details: str = "") -> None:
        p = self.connection_page
        p.details.set_text(details)
        p.failure.set_severity("error")
        p.failure.set_message(html)
        p.failure.show()
        fit_height(self)  # the whole help, never clipped

    def _render_ready(self, account: Account) -> None:
        p = self.ready_page
        test = self.flow.last_test
        if test is not None:
            p.success.set_message(
                f"<b>{fmt.esc(account.email)} signed in.</b> IMAP answered in "
                f"{test.imap_latency_ms} ms, SMTP in {test.smtp_latency_ms} ms.")
        s = self.flow.settings
        ramp = (f"warm-up from {s.warmup_start} a day, +{s.warmup_step} daily"
                if s.warmup_enabled else "no warm-up ramp")
        choice = self.flow.selected_campaign
        lines = []
        if self.flow.has_password:
            lines.append("The new password is stored in the system keyring (never in files).")
        lines.append(f"Sending: up to {s.daily_limit} emails a day, "
                     f"{fmt.duration_words(s.min_gap_seconds)} apart, {ramp}.")
        if choice is not None:
            waiting = (f"; its {fmt.count(choice.waiting_leads, 'waiting lead')} continue where "
                       "they left off" if choice.waiting_leads else "")
            verb = "resumes" if choice.paused else "keeps running"
            lines.append(f"“{fmt.esc(choice.name)}” {verb}{waiting}.")
        lines.append("Signature, sender name, campaigns, leads and their history are kept.")
        p.summary.setText("Save &amp; Resume will:<ul>" + "".join(f"<li>{line}</li>"
                                                               for line in lines) + "</ul>")

    # --- Edit Warm-up pop-up --------------------------------------------------------------------

    def _edit_warmup(self) -> None:
        try:
            self.flow.edit_warmup()
        except FlowError as exc:
            self._show_failure(failure_html(str(exc), emphasis=False))
            return
        self.show_page()

    def _open_warmup(self) -> None:
        if self.warmup_dialog is not None and self.warmup_dialog.isVisible():
            return
        dialog = WarmupDialog(self.flow.settings, self)
        dialog.previous.clicked.connect(self._warmup_previous)  # the changes are kept
        dialog.rejected.connect(self._warmup_cancelled)  # Cancel / Esc: dropped
        self.warmup_dialog = dialog
        dialog.open()

    def _warmup_previous(self) -> None:
        dialog = self.warmup_dialog
        if dialog is None or self.flow.page is not Page.EDIT_WARMUP:
            return
        try:
            self.flow.set_settings(dialog.settings())
        except FlowError as exc:
            dialog.show_error(str(exc))
            if not dialog.isVisible():
                dialog.open()
            return
        self.flow.previous()
        self._close_warmup(dialog, QDialog.DialogCode.Accepted)

    def _warmup_cancelled(self) -> None:
        dialog = self.warmup_dialog
        if dialog is None or self.flow.page is not Page.EDIT_WARMUP:
            return
        self.flow.cancel_warmup()
        self._close_warmup(dialog, QDialog.DialogCode.Rejected)

    def _close_warmup(self, dialog: WarmupDialog, result: QDialog.DialogCode) -> None:
        self.warmup_dialog = None
        if dialog.isVisible():
            dialog.done(result)
        dialog.deleteLater()
        self.show_page()
        self._focus_sign_in()

    def _focus_sign_in(self) -> None:
        """The field the rep fixes on the connection page: the password (selected, so typing
        replaces it), or the browser sign-in."""
        p = self.connection_page
        if p.password_box.isVisible() and p.password.isEnabled():
            p.password.setFocus(Qt.FocusReason.OtherFocusReason)
            p.password.selectAll()
        elif p.browser.isVisible() and p.browser.isEnabled():
            p.browser.setFocus(Qt.FocusReason.OtherFocusReason)

    # --- the real test, sign-in and saving ------------------------------------------------------

    def test_connection(self) -> None:
        if self.flow.page is not Page.CONNECTION or not self.flow.can_test()[0]:
            return
        self.work.spawn(self._test(), "reconnect test")

    async def _test(self) -> None:
        password = self.flow.start_test()
        self.show_page()
        account = self.flow.account
        watch = self.work.watch(self.ctx.timeout)
        self.connection_page.test_progress.start(watch)
        try:
            imap, smtp = await self.ctx.connection_test(account, password, watch)
        except Exception as exc:  # the probe itself broke: say so, stay on the page
            log.exception("reconnect test failed to run")
            self.flow.test_crashed(f"{type(exc).__name__}: {exc}")
        else:
            self.flow.finish_test(imap, smtp)
        finally:
            if self.work.alive:
                self.connection_page.test_progress.stop()
        if self.work.alive:
            self.show_page()
            test = self.flow.last_test
            if test is not None and not test.ok:
                self._focus_sign_in()  # retyping goes where it is needed, not onto Next

    def sign_in_with_browser(self) -> None:
        sign_in = oauth_hook("sign_in")
        if sign_in is None:
            self.connection_page.signed_in.setText(OAUTH_NOT_CONFIGURED)
            return
        self._cancel_sign_in.clear()
        self.work.spawn(self._sign_in(sign_in), "browser sign-in")

    async def _sign_in(self, sign_in: Any) -> None:
        p = self.connection_page
        p.browser.setEnabled(False)
        p.signed_in.setText("Waiting for the sign-in in your browser…")

        def on_url(url: str) -> None:  # called from the worker thread
            self.ctx.loop.call_soon_threadsafe(self._show_sign_in_url, url)

        try:
            await self.ctx.blocking(partial(sign_in, self.flow.account, SIGN_IN_TIMEOUT,
                                            on_url=on_url, cancel=self._cancel_sign_in))
        except Exception as exc:
            if self.work.alive:
                p.signed_in.setText("The sign-in did not finish.")
                p.details.set_text(str(exc))
        else:
            self.flow.mark_signed_in()
            if self.work.alive:
                p.signed_in.setText("Signed in. Press Next to test the connection.")
        finally:
            if self.work.alive:
                p.browser.setEnabled(True)
                self._update_next()

    def _show_sign_in_url(self, url: str) -> None:
        if self.flow.signed_in or not self.work.alive:
            return
        self.connection_page.signed_in.setText(
            "Waiting for the sign-in in your browser… If no browser opened, "
            f"<a href=\"{fmt.esc(url)}\">open the sign-in page</a>.")

    def done(self, result: int) -> None:
        self.work.stop()  # a test or browser sign-in still running gives up now
        self.connection_page.test_progress.stop()
        super().done(result)

    def save_and_resume(self) -> None:
        if self.flow.page is Page.READY:
            self.ready_page.save.setEnabled(False)
            # Not cancelled with the window: once started, saving finishes.
            self.ctx.spawn(self._save(), "save and resume")

    async def _save(self) -> None:
        try:
            await self.ctx.blocking(self.flow.store_secret)
            account = self.flow.account

            def apply() -> tuple[SaveResult, str]:  # on the loop's thread, through the monitor
                before = choices_now(account)
                applied = self.flow.apply(self.ctx.clock.now())
                return applied, reconnect_confirmation(account.email, before,
                                                       choices_now(account))

            result, self.confirmation = await self.ctx.store_test(self.flow.account_id, apply)
        except Exception as exc:
            if self.work.alive:
                self.ready_page.error.setText(f"Nothing was changed: {fmt.esc(str(exc))}")
                self.ready_page.error.show()
                self.ready_page.save.setEnabled(True)
            return
        if result.campaign_note:
            log.info("after reconnect: %s", result.campaign_note)
        if self.work.alive:
            self.reconnected.emit(self.flow.account_id)
            self.show_page()

    def copy_diagnostics(self) -> None:
        report = self.flow.diagnostics(self.ctx.clock.now())
        QGuiApplication.clipboard().setText(report)
        self.connection_page.diagnostics.setText("Copied ✓")
        self.copied_timer.start()  # back to "Copy diagnostics" after a moment
