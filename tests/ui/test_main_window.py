"""The main window and its dialogs: shortcuts, Check all now, the status bar summary, adding a
mailbox (tested for real before it is stored), the account detail and the settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QPushButton

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Check, get_setting, set_setting
from mailmonitor.services.alerts.reconciler import reconcile
from mailmonitor.services.auth import secrets
from mailmonitor.services.monitoring.account_state import record_check, update_status
from mailmonitor.ui.main_window import MainWindow
from tests.factories import (
    make_account,
    make_campaign,
    make_leads,
    probe_fail,
    probe_ok,
    record_send,
    reload,
)
from tests.ui.helpers import FakeCheck, run

pytestmark = pytest.mark.ui


@pytest.fixture
def accounts(db: Path) -> list[Account]:
    return [make_account("ava@northwind.example"),
            make_account("ben@northwind.example", status="warning", reason="timeout"),
            make_account("cleo@northwind.example", status="disconnected",
                         reason="invalid_credentials")]


def test_summary_and_shortcuts(accounts: list[Account],
                               make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    assert window.summary.text() == "1 connected · 1 retrying · 1 needs attention"
    shortcuts = {a.text(): a.shortcut().toString() for a in window.actions()}
    assert shortcuts["Check all now"] == "Ctrl+R"
    assert shortcuts["Add mailbox"] == "Ctrl+N"
    assert shortcuts["Alerts"] == "Ctrl+Shift+A"
    assert shortcuts["Reconnect"] == "Ctrl+Shift+R"
    assert window.accounts_tab.proxy.index(0, 0).data() == "Disconnected"  # worst first


def test_check_all_now_runs_every_probe_without_blocking(
        accounts: list[Account], make_window: Callable[..., MainWindow],
        qloop: qasync.QEventLoop, fake_check: FakeCheck, settle: Callable[[], None],
        qtbot: Any) -> None:
    fake_check.answers["ben@northwind.example"] = (probe_ok(), probe_ok())
    fake_check.answers["cleo@northwind.example"] = (
        probe_fail("invalid_credentials", "535 5.7.8"), probe_ok())
    window = make_window()
    window.check_all_action.trigger()
    assert not window.check_all_action.isEnabled()  # running; the window stays responsive
    run(qloop, window)
    settle()
    assert sorted(email for email, _ in fake_check.calls) == [
        "ava@northwind.example", "ben@northwind.example", "cleo@northwind.example"]
    assert window.check_all_action.isEnabled()
    qtbot.waitUntil(lambda: window.summary.text() == "2 connected · 1 needs attention",
                    timeout=1000)
    row = window.accounts_model.row_for(accounts[0].id)
    assert row is not None and row.checked_at is not None and not row.checking


def test_status_filter(accounts: list[Account], make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    window.accounts_tab.status_filter.setCurrentIndex(1)  # Needs attention
    assert window.accounts_tab.proxy.rowCount() == 1
    assert window.accounts_tab.proxy.index(0, 1).data() == "cleo@northwind.example"
    window.accounts_tab.status_filter.setCurrentIndex(0)
    window.accounts_tab.search.setText("ben@")
    assert window.accounts_tab.proxy.rowCount() == 1


def test_add_account_tests_first_and_explains_failures(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        fake_check: FakeCheck, memory_keyring: Any, qtbot: Any,
        settle: Callable[[], None]) -> None:
    window = make_window()
    dialog = window.open_add_account()
    qtbot.keyClicks(dialog.email, "rep@yahoo.com")
    # The address's domain finds the provider's servers.
    assert dialog.imap.host.text() == "imap.mail.yahoo.com"
    assert dialog.smtp.port.value() == 465
    assert "Generate app password" in dialog.password_help.text()
    fake_check.passwords["rep@yahoo.com"] = "app-pass-1"
    qtbot.keyClicks(dialog.password, "wrong")
    dialog.add_button.click()
    run(qloop, window)
    assert dialog.error.isVisible()
    assert "Invalid Credentials" in dialog.error.text.text()
    assert "Yahoo: Account Security" in dialog.error.text.text()
    assert Account.select().count() == 0  # nothing stored

    dialog.password.setText("app-pass-1")
    dialog.add_button.click()
    run(qloop, window)
    settle()
    account = Account.get(Account.email == "rep@yahoo.com")
    assert account.status == "connected"
    assert secrets.get_secret("rep@yahoo.com", "password") == "app-pass-1"
    assert Check.select().where(Check.account == account).count() == 1
    assert window.accounts_model.row_for(account.id) is not None


def test_add_account_google_offers_browser_sign_in(
        db: Path, make_window: Callable[..., MainWindow], qtbot: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mailmonitor.ui.add_account.oauth_hook", lambda _name: None)
    window = make_window()
    dialog = window.open_add_account()
    qtbot.keyClicks(dialog.email, "rep@gmail.com")
    assert dialog.kind == "gmail"
    assert dialog.sign_in.isVisibleTo(dialog) and dialog.sign_in.text() == "Sign in with Google"
    assert "2-Step Verification" in dialog.password_help.text()
    # Without the team's client registration the button is off and says what is needed.
    assert not dialog.sign_in.isEnabled()
    assert "Google sign-in is not set up" in dialog.sign_in_note.text()
    dialog.sign_in_note.linkActivated.emit("settings:sign-in")
    assert window.settings_dialog is not None and window.settings_dialog.isVisible()
    assert window.settings_dialog.tabs.currentWidget() is window.settings_dialog.sign_in
    window.settings_dialog.reject()
    monkeypatch.setenv("MAILMONITOR_GOOGLE_CLIENT_ID", "team.apps.googleusercontent.com")
    dialog.set_kind("gmail")
    assert dialog.sign_in.isEnabled()
    dialog.sign_in.click()
    assert "not configured" in dialog.error.text.text()
    dialog.add_button.click()
    assert "Sign in with Google" in dialog.error.text.text()


def test_add_account_with_browser_sign_in(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop, qtbot: Any,
        clock: FakeClock, monkeypatch: pytest.MonkeyPatch, settle: Callable[[], None]) -> None:
    calls: list[tuple[str, float]] = []

    def fake_add_account(spec: Any, timeout: float, now: Any, *, on_url: Any,
                         cancel: Any) -> Account:
        calls.append((spec.email, timeout))
        on_url("https://accounts.example/auth?x=1")
        return make_account(spec.email, kind="gmail", auth_method="oauth2", status="checking")

    monkeypatch.setattr("mailmonitor.ui.add_account.oauth_hook",
                        lambda name: fake_add_account if name == "add_account" else None)
    monkeypatch.setenv("MAILMONITOR_GOOGLE_CLIENT_ID", "team.apps.googleusercontent.com")
    window = make_window()
    dialog = window.open_add_account()
    added: list[int] = []
    dialog.added.connect(added.append)
    qtbot.keyClicks(dialog.email, "rep@gmail.com")
    dialog.sign_in.click()
    assert "Waiting for the sign-in" in dialog.sign_in_note.text()
    run(qloop, window)
    settle()
    assert calls == [("rep@gmail.com", 300.0)]
    account = Account.get(Account.email == "rep@gmail.com")
    assert added == [account.id]
    assert window.accounts_model.row_for(account.id) is not None


def test_add_account_refuses_bad_input(db: Path, make_window: Callable[..., MainWindow],
                                       qtbot: Any) -> None:
    dialog = make_window().open_add_account()
    qtbot.keyClicks(dialog.email, "not an address")
    dialog.add_button.click()
    assert "is not a valid email address" in dialog.error.text.text()


def test_add_account_warns_about_plain_and_refuses_it_to_a_remote_server(
        db: Path, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    dialog = make_window().open_add_account()
    qtbot.keyClicks(dialog.email, "rep@example.com")
    dialog.imap.set("127.0.0.1", 143, "ssl")
    dialog.smtp.set("127.0.0.1", 587, "starttls")
    assert dialog.plaintext_warning.isHidden()
    dialog.imap.set("127.0.0.1", 143, "plain")
    assert not dialog.plaintext_warning.isHidden()
    assert dialog.plaintext_warning.text() == (
        "⚠ IMAP: “None (not encrypted)” sends your password unencrypted; use it only for a "
        "server on this computer or your network.")  # the dropdown's words, not "plain"
    dialog.imap.set("mail.example.com", 143, "plain")
    assert "over the internet; mailmonitor refuses it" in dialog.plaintext_warning.text()
    qtbot.keyClicks(dialog.password, "pw-123456")
    dialog.add_button.click()
    refusal = dialog.error.text.text()
    assert "IMAP: “None (not encrypted)” would send your password unencrypted over the " \
        "internet; mailmonitor refuses it" in refusal
    assert "--allow-plaintext" not in refusal and "plain" not in refusal  # window words
    assert dialog.focusWidget() is dialog.imap.security  # where it is fixed
    assert Account.select().count() == 0
    dialog.imap.set("mail.example.com", 993, "ssl")
    assert dialog.plaintext_warning.isHidden()


def test_account_detail_history_and_test_connection(
        accounts: list[Account], make_window: Callable[..., MainWindow],
        qloop: qasync.QEventLoop, clock: FakeClock, settle: Callable[[], None]) -> None:
    ava = accounts[0]
    for latency in (30, 45, 28):
        record_check(reload(ava), probe_ok(latency_ms=latency), probe_ok(latency_ms=12),
                     clock.advance(minutes=5))
    window = make_window()
    dialog = window.open_account(ava.id)
    assert dialog.history.rowCount() == 3
    assert [p[0] for p in dialog.sparkline.points] == [30, 45, 28]
    assert "IMAP: ok" in dialog.answer.toPlainText()
    dialog.test_button.click()
    run(qloop, window)
    settle()
    assert dialog.history.rowCount() == 4
    assert dialog.history.item(0, 3).text() == "Test Connection"  # why it ran, in words
    assert "{" not in dialog.answer.toPlainText()  # steps in words, never a Python dict


def test_disconnect_and_remove_explain_first(
        accounts: list[Account], make_window: Callable[..., MainWindow], clock: FakeClock,
        qloop: qasync.QEventLoop, settle: Callable[[], None]) -> None:
    ava = accounts[0]
    campaign = make_campaign("Q4 outreach", [ava])
    make_leads(campaign, ava, 5, prefix="new")
    lead_id = make_leads(campaign, ava, 1, prefix="emailed", cursor=1)[0]
    from mailmonitor.models import Lead

    record_send(Lead.get_by_id(lead_id), ava, clock.now())
    window = make_window()
    dialog = window.open_account(ava.id)
    dialog.disconnect_button.click()
    box = dialog.findChild(QMessageBox, "confirm")
    assert box is not None and box.isVisible()  # opened with open(): nothing blocks
    info = box.informativeText()
    assert "leaves “Q4 outreach”" in info
    assert "Its 6 open leads wait" in info
    assert "within 1 hour" in info
    assert "1 lead it already emailed is set to Campaign Stopped" in info
    assert "5 other leads move" in info
    cancel = box.button(QMessageBox.StandardButton.Cancel)
    cancel.click()
    assert reload(ava).status == "connected"  # cancelled: nothing happened

    dialog.disconnect_button.click()
    box = next(b for b in dialog.findChildren(QMessageBox, "confirm") if b.isVisible())
    next(b for b in box.buttons() if b.text() == "Disconnect").click()
    run(qloop, window)
    settle()
    assert reload(ava).status == "stopped" and reload(ava).detached_at is not None

    dialog.remove_button.click()
    box = next(b for b in dialog.findChildren(QMessageBox, "confirm") if b.isVisible())
    assert "history (sent emails, checks) is kept" in box.informativeText()
    next(b for b in box.buttons() if b.text() == "Remove").click()
    run(qloop, window)
    settle()
    assert reload(ava).removed_at is not None
    assert window.accounts_model.row_for(ava.id) is None


def test_settings_are_stored(db: Path, make_window: Callable[..., MainWindow],
                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    ava = make_account("ava@northwind.example")
    custom = make_account("ben@northwind.example", check_interval_seconds=120)
    window = make_window()
    dialog = window.open_settings()
    dialog.check_interval.setValue(10)
    dialog.grace_period.setValue(120)
    dialog.long_wait.setValue(12)
    dialog.auto_reallocate.setValue(15)
    dialog.auto_resume.setChecked(False)
    dialog.notifications.setChecked(False)
    dialog.start_at_login.setChecked(True)
    dialog.findChild(QPushButton, "save").click()
    assert get_setting("check_interval_seconds") == 600
    assert get_setting("grace_period_minutes") == 120
    assert get_setting("long_wait_days") == 12
    assert get_setting("auto_reallocate_minutes") == 15
    assert get_setting("auto_resume") is False
    assert get_setting("notifications") is False
    assert reload(ava).check_interval_seconds == 600
    assert reload(custom).check_interval_seconds == 120
    assert (tmp_path / "autostart" / "mailmonitor.desktop").exists()
    set_setting("start_at_login", False)


def test_keyboard_enter_opens_details(accounts: list[Account],
                                      make_window: Callable[..., MainWindow],
                                      qtbot: Any) -> None:
    window = make_window()
    window.show()
    window.select_account(accounts[2].id)
    window.accounts_tab.view.setFocus()
    qtbot.keyClick(window.accounts_tab.view, Qt.Key.Key_Return)
    assert accounts[2].id in window.account_dialogs


def test_status_change_reaches_the_window(accounts: list[Account],
                                          make_window: Callable[..., MainWindow],
                                          clock: FakeClock, settle: Callable[[], None],
                                          qtbot: Any) -> None:
    window = make_window()
    window.show()
    update_status(accounts[0], "disconnected", "token_expired", "invalid_grant", clock.now())
    reconcile(clock.now())  # the app's background loop does this within half a second
    settle()
    qtbot.waitUntil(lambda: "2 need attention" in window.summary.text(), timeout=1000)
    # One banner: the top condition, its action, and the way to the other one. The status
    # bar says the same.
    qtbot.waitUntil(window.attention.isVisible, timeout=1000)
    top = "ava@northwind.example is disconnected: Token Expired"
    assert window.attention.text.text() == f"<b>{top}</b>"
    assert [b.text() for b in window.attention.buttons()] == ["Reconnect", "Show alerts (2)"]
    assert window.attention_line.toolTip() == f"2 things need you — {top}"
    assert window.attention_line.text().startswith("2 things need you — ava@")  # elided
    assert window.alerts_action.text() == "Alerts (2)"

    # Nothing needs the rep: everything goes within one refresh.
    for account in accounts[0], accounts[2]:
        update_status(reload(account), "connected", None, "", clock.now())
    reconcile(clock.now())
    settle()
    qtbot.waitUntil(lambda: not window.attention.isVisible(), timeout=1000)
    assert window.attention_line.text() == "Nothing needs you right now"
    assert window.alerts_action.text() == "Alerts"


def test_first_run_welcome_until_the_first_mailbox(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        fake_check: FakeCheck, memory_keyring: Any, qtbot: Any,
        settle: Callable[[], None]) -> None:
    window = make_window()
    run(qloop, window)
    assert window.stack.currentWidget() is window.welcome
    assert window.welcome.keyring_ok is True and window.welcome.add_button.isEnabled()
    window.welcome.addMailboxRequested.emit()
    dialog = window.add_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClicks(dialog.email, "first@fastmail.com")
    fake_check.passwords["first@fastmail.com"] = "pw-1"
    qtbot.keyClicks(dialog.password, "pw-1")
    dialog.add_button.click()
    run(qloop, window)
    settle()
    assert window.stack.currentWidget() is window.content
    assert Account.get(Account.email == "first@fastmail.com").status == "connected"


def test_first_run_without_a_keyring_says_so_and_stores_nothing(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop) -> None:
    import keyring
    import keyring.backends.fail

    keyring.set_keyring(keyring.backends.fail.Keyring())
    window = make_window()
    run(qloop, window)
    assert window.welcome.keyring_ok is False
    assert not window.welcome.add_button.isEnabled()
    assert window.welcome.keyring_banner.isVisibleTo(window.welcome)
    assert "keyring" in window.welcome.keyring_banner.text.text().lower()


def test_account_detail_edits_sending_settings(
        accounts: list[Account], make_window: Callable[..., MainWindow], clock: FakeClock
) -> None:
    ava = accounts[0]
    window = make_window()
    detail = window.open_account(ava.id)
    popup = detail.edit_sending_settings()
    assert popup is not None and popup.isVisible()
    assert popup.daily_limit.value() == ava.daily_limit
    popup.warmup.setChecked(True)
    popup.start.setValue(0)  # the spin box keeps its minimum of 1
    popup.daily_limit.setValue(35)
    popup.gap.setValue(12)
    popup.step.setValue(3)
    popup.previous.click()
    assert not popup.isVisible()
    stored = reload(ava)
    assert (stored.daily_limit, stored.min_gap_seconds) == (35, 720)
    assert (stored.warmup_start, stored.warmup_step) == (1, 3)
    assert stored.warmup_started_on == clock.now().date()
    shown = {detail.settings.itemAt(i, detail.settings.ItemRole.FieldRole).widget().text()
             for i in range(detail.settings.rowCount())}
    assert "35 emails" in shown and "12 minutes between emails" in shown
