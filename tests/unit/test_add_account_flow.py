"""Adding a mailbox without Qt: only a passing real test stores the account, its password (in
the keyring) and that test as its first check; a failure says what to do and stores nothing."""

from __future__ import annotations

from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.memory_keyring import MemoryKeyring
from mailmonitor.models import Account, Check
from mailmonitor.services.accounts.add_flow import ADD_TRANSITIONS, AddAccountFlow, AddPage
from mailmonitor.services.accounts.adding import AccountSpec
from mailmonitor.services.accounts.connection_test import ConnectionTestFlow, FlowError
from mailmonitor.services.auth import secrets
from mailmonitor.services.auth.secrets import SecretStoreError
from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.reconnect.flow import ReconnectFlow
from tests.factories import make_account, probe_fail, probe_ok

PASSWORD = "app-pass-2026"


def yahoo_spec() -> AccountSpec:
    return AccountSpec(email="ava@yahoo.com", name="Ava", kind="imap",
                       imap_host="imap.mail.yahoo.com", imap_port=993, imap_security="ssl",
                       smtp_host="smtp.mail.yahoo.com", smtp_port=465,
                       smtp_security="ssl").validated()


@pytest.fixture
def flow(db: Path, clock: FakeClock) -> AddAccountFlow:
    flow = AddAccountFlow()
    flow.set_spec(yahoo_spec(), clock.now())
    return flow


def test_both_wizards_share_one_connection_test_base() -> None:
    assert issubclass(AddAccountFlow, ConnectionTestFlow)
    assert issubclass(ReconnectFlow, ConnectionTestFlow)
    assert ADD_TRANSITIONS[AddPage.FORM] == {"next": AddPage.TESTING}


def test_a_passing_test_stores_the_account_its_password_and_the_check(
        flow: AddAccountFlow, clock: FakeClock, memory_keyring: MemoryKeyring) -> None:
    assert flow.can_test() == (False, "Enter the mailbox's password (or app password).")
    flow.set_password(PASSWORD)
    assert flow.start_test() == PASSWORD
    assert flow.page is AddPage.TESTING
    # The probe connects as an unsaved account built from the form.
    probe_account = flow.tested_account()
    assert probe_account.id is None and probe_account.imap_host == "imap.mail.yahoo.com"
    assert Account.select().count() == 0
    outcome = flow.finish_test(probe_ok(latency_ms=18), probe_ok(latency_ms=25))
    assert outcome.ok and flow.page is AddPage.READY
    assert Account.select().count() == 0  # nothing stored before store_account

    account_id = flow.store_account(clock.now())
    check = flow.record_test(clock.now())

    assert flow.page is AddPage.DONE
    account = Account.get_by_id(account_id)
    assert (account.email, account.name, account.status) == ("ava@yahoo.com", "Ava", "connected")
    assert secrets.get_secret("ava@yahoo.com", "password") == PASSWORD
    assert (check.account_id, check.status, check.latency_ms) == (account_id, "connected", 25)
    assert Check.select().where(Check.account == account_id).count() == 1
    assert not flow.has_password  # the flow forgets the password once it is stored


def test_a_failed_test_says_what_to_do_and_stores_nothing(
        flow: AddAccountFlow, clock: FakeClock, memory_keyring: MemoryKeyring) -> None:
    flow.set_password("wrong")
    flow.start_test()
    outcome = flow.finish_test(probe_fail("invalid_credentials", "NO [AUTHENTICATIONFAILED]"),
                               probe_ok())
    assert not outcome.ok and outcome.label == "Invalid Credentials"
    assert flow.page is AddPage.FORM
    help_text = " ".join(flow.failure_help())
    assert "Yahoo: Account Security" in help_text
    assert "Copy diagnostics" not in help_text  # the add dialog has no such button
    with pytest.raises(FlowError):
        flow.store_account(clock.now())
    assert Account.select().count() == 0
    assert secrets.get_secret("ava@yahoo.com", "password") is None


def test_a_crashed_test_stays_on_the_form(flow: AddAccountFlow) -> None:
    flow.set_password(PASSWORD)
    flow.start_test()
    outcome = flow.test_crashed("RuntimeError: boom")
    assert not outcome.ok and flow.page is AddPage.FORM
    assert flow.tested_probes is None


def test_a_stopped_test_returns_to_the_form_with_nothing_learned(flow: AddAccountFlow,
                                                                 clock: FakeClock) -> None:
    """Stop test: no outcome to show, nothing to store, the next press tests again."""
    flow.set_password(PASSWORD)
    flow.start_test()
    flow.test_stopped()
    assert flow.page is AddPage.FORM
    assert flow.last_test is None and flow.tested_probes is None
    assert flow.can_test() == (True, "")
    with pytest.raises(FlowError):
        flow.store_account(clock.now())


def test_no_usable_keyring_stores_nothing_and_the_rep_can_test_again(
        flow: AddAccountFlow, clock: FakeClock) -> None:
    flow.set_password(PASSWORD)
    flow.start_test()
    flow.finish_test(probe_ok(), probe_ok())
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with pytest.raises(SecretStoreError):
            flow.store_account(clock.now())
    finally:
        keyring.set_keyring(previous)
    assert Account.select().count() == 0
    assert flow.back() is AddPage.FORM
    assert flow.last_test is None
    assert flow.can_test() == (True, "")


def test_an_address_already_added_is_refused(flow: AddAccountFlow, clock: FakeClock,
                                             memory_keyring: MemoryKeyring) -> None:
    make_account("ava@yahoo.com")
    flow.set_password(PASSWORD)
    flow.start_test()
    flow.finish_test(probe_ok(), probe_ok())
    with pytest.raises(InvalidInput, match="already added"):
        flow.store_account(clock.now())
    assert Account.select().count() == 1
    assert secrets.get_secret("ava@yahoo.com", "password") is None


def test_changing_the_form_after_a_passed_test_needs_a_new_test(
        flow: AddAccountFlow, clock: FakeClock) -> None:
    flow.set_password(PASSWORD)
    flow.start_test()
    flow.finish_test(probe_ok(), probe_ok())
    other = yahoo_spec()
    other.name = "Ava Stone"
    flow.set_spec(other, clock.now())
    assert flow.page is AddPage.FORM and flow.last_test is None
    with pytest.raises(FlowError):
        flow.store_account(clock.now())


def test_a_test_cannot_start_twice(flow: AddAccountFlow) -> None:
    flow.set_password(PASSWORD)
    flow.start_test()
    assert flow.can_test() == (False, "A connection test is already running.")
    with pytest.raises(FlowError):
        flow.start_test()
    with pytest.raises(FlowError):
        flow.set_spec(yahoo_spec(), FakeClock().now())


def test_gmail_app_password_spaces_are_removed(db: Path, clock: FakeClock) -> None:
    flow = AddAccountFlow()
    flow.set_spec(AccountSpec(email="dan@gmail.com", kind="gmail").validated(), clock.now())
    flow.set_password("abcd efgh ijkl mnop")
    assert flow.start_test() == "abcdefghijklmnop"
    flow.finish_test(probe_fail("app_password_required", "534-5.7.9 Application-specific "
                                "password required"), probe_ok())
    assert any("2-Step Verification" in line for line in flow.failure_help())


def test_the_form_comes_first(db: Path) -> None:
    with pytest.raises(FlowError, match="Fill in the mailbox first"):
        AddAccountFlow().set_password(PASSWORD)
