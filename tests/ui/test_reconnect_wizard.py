"""The reconnect wizard in the window: the whole path a rep clicks through (spec §5), with the
connection test answered by a scripted probe."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Alert, Campaign
from mailmonitor.services.accounts.connection_test import OAUTH_NOT_CONFIGURED
from mailmonitor.services.auth import secrets
from mailmonitor.services.reconnect.flow import Page
from mailmonitor.ui.main_window import MainWindow
from mailmonitor.ui.reconnect_wizard import ReconnectWizard
from tests.factories import lead_states, make_account, reload
from tests.ui.helpers import RIGHT, FakeCheck, run, seed_broken_cleo

pytestmark = pytest.mark.ui

@pytest.fixture
def cleo(db: Path, clock: FakeClock, fake_check: FakeCheck) -> Account:
    """cleo's password changed at the provider: disconnected, her campaign paused."""
    return seed_broken_cleo(fake_check, lambda c: clock.now())


def current_page(wizard: ReconnectWizard) -> Any:
    return wizard.stack.currentWidget()


def test_full_wizard_path_resumes_the_campaign(
        cleo: Account, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qtbot: Any, fake_check: FakeCheck, memory_keyring: Any, settle: Callable[[], None]
) -> None:
    window = make_window()
    window.show()
    wizard = window.open_wizard(cleo.id, Page.SELECT_CAMPAIGN)
    assert wizard.isVisible()

    # 1. Select the paused campaign (preselected: it is the one mailmonitor paused).
    select = wizard.select_page
    assert current_page(wizard) is select
    assert select.campaigns.count() == 2
    first = select.campaigns.item(0).text()
    assert first.startswith("Enterprise follow-up — Paused: no mailbox can send")
    assert "12 leads waiting" in first
    assert select.campaigns.currentRow() == 0

    # 2. Edit Warm-up opens the pop-up with the sending settings as they are.
    qtbot.mouseClick(select.edit_warmup, Qt.MouseButton.LeftButton)
    popup = wizard.warmup_dialog
    assert popup is not None and popup.isVisible()
    assert popup.daily_limit.value() == 40
    popup.daily_limit.setValue(30)
    popup.warmup.setChecked(True)
    popup.start.setValue(5)
    popup.step.setValue(5)

    # 3. Previous in the pop-up returns to the connection page.
    qtbot.mouseClick(popup.previous, Qt.MouseButton.LeftButton)
    assert not popup.isVisible()
    connection = wizard.connection_page
    assert current_page(wizard) is connection
    assert wizard.flow.page is Page.CONNECTION
    assert not connection.next.isEnabled()  # nothing typed yet

    # 4. A wrong password: Next tests for real and stays, with help that says what to do.
    qtbot.keyClicks(connection.password, "old-password")
    assert connection.next.isEnabled()
    qtbot.mouseClick(connection.next, Qt.MouseButton.LeftButton)
    run(qloop, window)
    assert current_page(wizard) is connection
    assert connection.failure.isVisible()
    help_text = connection.failure.text.text()
    assert "Invalid Credentials" in help_text
    assert "app password" in help_text.lower()
    assert fake_check.calls[-1] == (cleo.email, "old-password")

    # 5. The right password: Next continues to Save & Resume.
    connection.password.clear()
    qtbot.keyClicks(connection.password, RIGHT)
    qtbot.mouseClick(connection.next, Qt.MouseButton.LeftButton)
    run(qloop, window)
    ready = wizard.ready_page
    assert current_page(wizard) is ready
    assert "IMAP answered in 21 ms, SMTP in 34 ms" in ready.success.text.text()
    assert "Enterprise follow-up" in ready.summary.text()
    assert secrets.get_secret(cleo.email, "password") != RIGHT  # nothing stored before saving

    # 6. Save & Resume.
    with qtbot.waitSignal(wizard.reconnected, timeout=2000):
        qtbot.mouseClick(ready.save, Qt.MouseButton.LeftButton)
        run(qloop, window)
    settle()
    assert cleo.id not in window.wizards  # closed (and deleted)
    stored = reload(cleo)
    assert (stored.status, stored.reason) == ("connected", None)
    assert (stored.daily_limit, stored.warmup_start, stored.warmup_step) == (30, 5, 5)
    assert secrets.get_secret(cleo.email, "password") == RIGHT
    enterprise = Campaign.get(Campaign.name == "Enterprise follow-up")
    assert enterprise.status == "active"
    assert lead_states(enterprise) == {"active": 12}  # from their cursor, nothing skipped
    assert Alert.select().where(Alert.resolved_at.is_null(),
                                Alert.kind == "account_disconnected").count() == 0
    # The window follows: the row is green again and the banner is gone.
    row = window.accounts_model.row_for(cleo.id)
    assert row is not None and row.status == "connected"
    qtbot.waitUntil(lambda: not window.attention.isVisible(), timeout=1000)



def test_reconnect_shortcut_opens_at_the_connection_page(
        cleo: Account, make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    window.select_account(cleo.id)
    window.reconnect_action.trigger()
    wizard = window.wizards[cleo.id]
    assert wizard.stack.currentWidget() is wizard.connection_page
    assert wizard.flow.campaign_id == Campaign.get(Campaign.name == "Enterprise follow-up").id
    # The same wizard: Back leads to the campaign choice.
    wizard.connection_page.back.click()
    assert wizard.stack.currentWidget() is wizard.select_page


def test_copy_diagnostics_has_no_password(
        cleo: Account, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qtbot: Any) -> None:
    window = make_window()
    wizard = window.open_wizard(cleo.id, Page.CONNECTION)
    qtbot.keyClicks(wizard.connection_page.password, "typed-secret-123")
    wizard.connection_page.next.click()
    run(qloop, window)
    wizard.connection_page.diagnostics.click()
    report = QGuiApplication.clipboard().text()
    assert "cleo@northwind.example" in report
    assert "AUTHENTICATIONFAILED" in report
    assert "typed-secret-123" not in report


def test_oauth_account_without_sign_in_configured_says_so(
        db: Path, make_window: Callable[..., MainWindow], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mailmonitor.ui.reconnect_wizard.oauth_hook", lambda _name: None)
    dan = make_account("dan@gmail.com", kind="gmail", auth_method="oauth2",
                       imap_host="imap.gmail.com", status="disconnected", reason="token_expired")
    window = make_window()
    wizard = window.open_wizard(dan.id, Page.CONNECTION)
    page = wizard.connection_page
    assert page.oauth_box.isVisibleTo(wizard) and not page.password_box.isVisibleTo(wizard)
    # No client registration: the button says what is needed instead of failing.
    assert not page.browser.isEnabled()
    assert "Google sign-in is not set up on this computer yet" in page.signed_in.text()
    assert "Settings → Sign-in" in page.signed_in.text()
    assert "MAILMONITOR_" not in page.signed_in.text()
    monkeypatch.setenv("MAILMONITOR_GOOGLE_CLIENT_ID", "team.apps.googleusercontent.com")
    wizard.show_page()
    assert page.browser.isEnabled()
    page.browser.click()  # this build without the OAuth service
    assert page.signed_in.text() == OAUTH_NOT_CONFIGURED


def test_oauth_account_signs_in_in_the_browser_then_tests(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        monkeypatch: pytest.MonkeyPatch, fake_check: FakeCheck, clock: FakeClock,
        settle: Callable[[], None]) -> None:
    signed: list[str] = []

    def fake_sign_in(account: Account, timeout: float, *, on_url: Any, cancel: Any) -> None:
        on_url("https://login.example/authorize?client_id=x")
        signed.append(account.email)

    monkeypatch.setattr("mailmonitor.ui.reconnect_wizard.oauth_hook",
                        lambda name: fake_sign_in if name == "sign_in" else None)
    monkeypatch.setenv("MAILMONITOR_GOOGLE_CLIENT_ID", "team.apps.googleusercontent.com")
    dan = make_account("dan@gmail.com", kind="gmail", auth_method="oauth2",
                       imap_host="imap.gmail.com", status="disconnected", reason="token_expired")
    window = make_window()
    wizard = window.open_wizard(dan.id, Page.CONNECTION)
    page = wizard.connection_page
    assert page.next.isEnabled()  # the token comes from the OAuth service, no password field
    page.browser.click()
    run(qloop, window)
    assert signed == ["dan@gmail.com"]
    assert page.signed_in.text() == "Signed in. Press Next to test the connection."
    page.next.click()
    run(qloop, window)
    assert fake_check.calls[-1] == ("dan@gmail.com", None)
    assert wizard.stack.currentWidget() is wizard.ready_page
    wizard.ready_page.save.click()
    run(qloop, window)
    assert reload(dan).status == "connected"


def test_a_probe_that_crashes_keeps_the_rep_on_the_page(
        cleo: Account, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qtbot: Any) -> None:
    window = make_window()

    def broken_probe(*_args: Any) -> Any:
        raise RuntimeError("library bug")

    window.ctx.check_fn = broken_probe
    wizard = window.open_wizard(cleo.id, Page.CONNECTION)
    qtbot.keyClicks(wizard.connection_page.password, RIGHT)
    wizard.connection_page.next.click()
    run(qloop, window)
    assert wizard.flow.page is Page.CONNECTION
    page = wizard.connection_page
    # What went wrong in words; the exception's own text only under Details.
    assert "The connection failed" in page.failure.text.text()
    assert "library bug" not in page.failure.text.text()
    assert "library bug" in page.details.body.text() and page.details.isVisibleTo(wizard)
    assert reload(cleo).status == "disconnected"
