"""Messages that used to outstay their truth (issue 12 §3): a name error after the name is
typed, "Copied ✓" for ever, an old failure after Previous, "Other" ports starting at 1, Add
mailbox enabled without a keyring, a paused-by-you campaign shown with the warning triangle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keyring
import pytest
import qasync
from keyring.backends.fail import Keyring as FailKeyring

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.services.reconnect.flow import Page
from mailmonitor.ui.icons import campaign_look_key
from mailmonitor.ui.main_window import MainWindow
from tests.factories import make_account, make_campaign, make_leads, reload
from tests.ui.helpers import FakeCheck, run

pytestmark = pytest.mark.ui


@pytest.fixture
def cleo(db: Path, clock: FakeClock, fake_check: FakeCheck) -> Account:
    cleo = make_account("cleo@northwind.example")
    make_leads(make_campaign("Solo", [cleo]), cleo, 3)
    update_status(cleo, "disconnected", "invalid_credentials", "535 5.7.8", clock.now())
    fake_check.passwords[cleo.email] = "right-one"
    return reload(cleo)


def test_the_name_error_goes_once_the_name_is_typed(
        db: Path, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    make_account("ava@northwind.example")
    dialog = make_window().open_new_campaign()
    dialog.create_button.click()
    assert dialog.error.isVisible() and "needs a name" in dialog.error.text.text()
    qtbot.keyClicks(dialog.name, "Q1")
    assert not dialog.error.isVisible()


def test_copied_resets_and_an_old_failure_goes_after_previous(
        cleo: Account, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qtbot: Any) -> None:
    window = make_window()
    wizard = window.open_wizard(cleo.id, Page.CONNECTION)
    page = wizard.connection_page
    page.diagnostics.click()
    assert page.diagnostics.text() == "Copied ✓" and wizard.copied_timer.isActive()
    wizard.copied_timer.timeout.emit()  # the moment passes (no sleeping in tests)
    assert page.diagnostics.text() == "Copy diagnostics"

    qtbot.keyClicks(page.password, "wrong")
    page.next.click()
    run(qloop, window)
    assert page.failure.isVisible() and page.details.isVisibleTo(wizard)
    page.edit_warmup.click()
    assert wizard.warmup_dialog is not None
    wizard.warmup_dialog.previous.click()
    assert wizard.stack.currentWidget() is page
    assert not page.failure.isVisible() and not page.details.isVisibleTo(wizard)


def test_other_provider_ports_start_at_the_usual_ones(
        db: Path, make_window: Callable[..., MainWindow]) -> None:
    dialog = make_window().open_add_account()
    assert dialog.kind == "imap"
    assert (dialog.imap.port.value(), dialog.imap.security.currentData()) == (993, "ssl")
    assert (dialog.smtp.port.value(), dialog.smtp.security.currentData()) == (587, "starttls")
    dialog.smtp.security.setCurrentIndex(dialog.smtp.security.findData("ssl"))
    assert dialog.smtp.port.value() == 465  # follows the choice while it is the usual port
    dialog.smtp.port.setValue(2525)
    dialog.smtp.security.setCurrentIndex(dialog.smtp.security.findData("starttls"))
    assert dialog.smtp.port.value() == 2525  # a port typed by the rep stays


def test_add_mailbox_is_off_without_a_keyring(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop) -> None:
    keyring.set_keyring(FailKeyring())
    window = make_window()
    run(qloop, window)
    assert not window.add_account.isEnabled()
    assert "No system keyring" in window.add_account.toolTip()


def test_a_campaign_paused_by_you_has_no_warning_sign(db: Path) -> None:
    assert campaign_look_key("paused", "user") == "paused_user"
    assert campaign_look_key("paused", "no_active_mailbox") == "paused"
    from mailmonitor.ui.palette import CAMPAIGN_LOOKS

    assert CAMPAIGN_LOOKS["paused_user"].icon == "campaign-paused"
    assert CAMPAIGN_LOOKS["paused"].icon == "status-warning"
