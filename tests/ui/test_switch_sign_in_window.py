"""Issue 24 in the window: the mailbox's detail lists the provider changes that hit it, and the
Edit mailbox dialog (and the radar's card) switches its sign-in in place.

The browser sign-in is a `signer` injected into the switch dialog (the window's scripted check
tests the new method): the loopback identity provider and Dovecot drive the same steps in
tests/integration/test_switch_sign_in.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qasync
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from mailmonitor.models import Account, Check
from mailmonitor.services.alerts.attention import SWITCH_SIGN_IN
from mailmonitor.services.auth import oauth, secrets
from mailmonitor.ui.condition_actions import perform
from mailmonitor.ui.edit_account import EditAccountDialog
from mailmonitor.ui.main_window import MainWindow
from mailmonitor.ui.switch_sign_in import SwitchSignInDialog
from tests.factories import make_account, probe_ok
from tests.ui.helpers import FakeCheck, run

pytestmark = pytest.mark.ui

EMAIL = "ava@northwind.example"
SOURCE = ("https://techcommunity.microsoft.com/blog/exchange/exchange-online-to-retire-basic-"
          "auth-for-client-submission-smtp-auth/4114750")


def microsoft_password_mailbox() -> Account:
    account = make_account(EMAIL, kind="microsoft", auth_method="password",
                           imap_host="outlook.office365.com", smtp_host="smtp.office365.com",
                           smtp_port=587, smtp_security="starttls")
    for _ in range(2):
        Check.create(account=account, checked_at=account.created_at, status="connected",
                     trigger="schedule", latency_ms=30)
    secrets.set_secret(EMAIL, "password", "old-password", note_age=False)
    return account


def signer_as(who: str) -> oauth.Signer:
    def sign(kind: str, expected: dict[str, None], email: str, timeout: float
             ) -> oauth.SignedIn:
        if who.lower() not in expected:
            raise oauth.SignInError(f"You signed in as {who}, not {email}")
        return oauth.SignedIn(who, "msal_cache", "msal-cache-of-" + who)
    return sign


def test_detail_lists_the_provider_change_that_hits_a_microsoft_password_mailbox(
        db: Path, make_window: Callable[..., MainWindow]) -> None:
    account = microsoft_password_mailbox()
    other = make_account("bo@elsewhere.example")  # IMAP elsewhere: nothing hits it
    window = make_window()
    detail = window.open_account(account.id)
    text = detail.changes.text()
    assert detail.changes.isVisibleTo(detail)
    assert "SMTP sign-in with a password is switched off" in text
    assert "from 31 December 2026" in text  # the fake clock is in November 2026: upcoming
    assert "Switch the mailbox to Microsoft sign-in" in text  # what to do
    assert f'href="{SOURCE}"' in text
    assert [h.change.id for h in detail.change_hits] == ["microsoft-smtp-basic-auth"]
    assert not window.open_account(other.id).changes.isVisibleTo(detail)


def test_edit_mailbox_switches_to_microsoft_sign_in_keeping_the_mailbox(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qtbot: Any) -> None:
    account = microsoft_password_mailbox()
    window = make_window()
    detail = window.open_account(account.id)
    edit = detail.edit_servers()
    assert isinstance(edit, EditAccountDialog)
    assert list(edit.switch_buttons) == ["microsoft"]
    assert edit.switch_buttons["microsoft"].text() == "Switch to Sign in with Microsoft…"
    edit.switch_buttons["microsoft"].click()
    dialog = edit.findChild(SwitchSignInDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.start_button.isDefault()

    # Signing in as another address: one line, nothing changed, the dialog stays.
    dialog.signer = signer_as("intruder@example.test")
    qtbot.keyClick(dialog, Qt.Key.Key_Return)  # Enter is the primary action
    run(qloop, window)
    assert dialog.isVisible() and dialog.error.isVisible()
    assert "intruder@example.test" in dialog.error.text()
    assert "still signs in with a password" in dialog.error.text()
    same = Account.get_by_id(account.id)
    assert (same.kind, same.auth_method) == ("microsoft", "password")
    assert secrets.get_secret(EMAIL, "password") == "old-password"
    assert secrets.get_secret(EMAIL, "msal_cache") is None

    # The real sign-in: the link is shown (Copy link), then the switch is applied.
    def sign(kind: str, expected: dict[str, None], email: str, timeout: float
             ) -> oauth.SignedIn:
        dialog.ctx.loop.call_soon_threadsafe(dialog._show_url, "https://login.test/auth?x=1")
        return signer_as(EMAIL)(kind, expected, email, timeout)

    dialog.signer = sign
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    run(qloop, window)
    switched = Account.get_by_id(account.id)
    assert switched.id == account.id
    assert (switched.kind, switched.auth_method, switched.status) == ("microsoft", "oauth2",
                                                                       "connected")
    triggers = [c.trigger for c in Check.select().where(Check.account == switched)
                .order_by(Check.id)]
    assert triggers == ["schedule", "schedule", "switch"]  # history kept, the test added
    assert secrets.get_secret(EMAIL, "password") is None  # the old secret left the keyring
    assert secrets.get_secret(EMAIL, "msal_cache") == "msal-cache-of-" + EMAIL
    assert not shiboken6.isValid(dialog) or not dialog.isVisible()
    assert not shiboken6.isValid(edit) or not edit.isVisible()  # its fields were the old way


def test_cancel_gives_up_the_sign_in_and_copy_link_copies_it(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qtbot: Any) -> None:
    account = microsoft_password_mailbox()
    window = make_window()
    dialog = window.switch_sign_in(account.id)
    assert isinstance(dialog, SwitchSignInDialog) and dialog.kind == "microsoft"
    dialog._show_url("https://login.test/auth?x=2")
    assert dialog.copy_link.isVisible() and "open the sign-in page" in dialog.link.text()
    dialog.copy_link.click()
    assert QApplication.clipboard().text() == "https://login.test/auth?x=2"

    def blocked(kind: str, expected: dict[str, None], email: str, timeout: float
                ) -> oauth.SignedIn:
        dialog._cancel.wait(10)  # the browser waits until the rep cancels
        raise oauth.SignInError("sign-in cancelled")

    dialog.signer = blocked
    dialog.start()
    assert dialog.work.busy and not dialog.start_button.isEnabled()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # Esc cancels
    run(qloop, window)
    same = Account.get_by_id(account.id)
    assert (same.kind, same.auth_method) == ("microsoft", "password")
    assert secrets.get_secret(EMAIL, "password") == "old-password"
    assert secrets.get_secret(EMAIL, "msal_cache") is None


def test_a_failed_test_of_the_new_method_changes_nothing(
        db: Path, make_window: Callable[..., MainWindow], fake_check: FakeCheck,
        qloop: qasync.QEventLoop) -> None:
    from tests.factories import probe_fail

    account = microsoft_password_mailbox()
    fake_check.answers[EMAIL] = (probe_ok(), probe_fail("invalid_credentials", "535 5.7.139"))
    window = make_window()
    dialog = window.switch_sign_in(account.id)
    assert isinstance(dialog, SwitchSignInDialog)
    dialog.signer = signer_as(EMAIL)
    dialog.start()
    run(qloop, window)
    assert dialog.isVisible() and "nothing was changed" in dialog.error.text()
    assert "\n" not in dialog.error.text()
    assert Account.get_by_id(account.id).auth_method == "password"
    assert secrets.get_secret(EMAIL, "msal_cache") is None
    assert secrets.get_secret(EMAIL, "password") == "old-password"


def test_the_radar_card_action_opens_the_switch(
        db: Path, make_window: Callable[..., MainWindow]) -> None:
    from mailmonitor.services.alerts.cards import Card

    account = microsoft_password_mailbox()
    window = make_window()
    card = Card(key="policy:microsoft-smtp-basic-auth", kind="policy", severity="warning",
                title="Microsoft", message="", action=SWITCH_SIGN_IN, account_id=account.id)
    perform(window, card, SWITCH_SIGN_IN)
    dialog = window.findChild(SwitchSignInDialog)
    assert dialog is not None and dialog.isVisible() and dialog.kind == "microsoft"
