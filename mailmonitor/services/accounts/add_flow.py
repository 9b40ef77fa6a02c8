"""Adding a mailbox with a password, without Qt: the form → Test & Add tests the connection for
real → only a passing test stores the account (its password in the keyring) and that test as
its first check. The Qt dialog (``ui/add_account.py``) only renders it. Browser sign-in
(Google, Microsoft) adds the account through the OAuth service instead (`oauth_hook`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mailmonitor.models import Account, Check
from mailmonitor.services.accounts.adding import AccountSpec, account_values, create_account
from mailmonitor.services.accounts.connection_test import ConnectionTestFlow, FlowError
from mailmonitor.services.monitoring.account_state import record_check


class AddPage(StrEnum):
    FORM = "form"
    TESTING = "testing"  # Test & Add was pressed: the real check runs
    READY = "ready"  # the check passed: the account can be stored
    DONE = "done"


ADD_TRANSITIONS: dict[AddPage, dict[str, AddPage]] = {
    AddPage.FORM: {"next": AddPage.TESTING},
    AddPage.TESTING: {"passed": AddPage.READY, "failed": AddPage.FORM},
    AddPage.READY: {"save": AddPage.DONE, "back": AddPage.FORM},
    AddPage.DONE: {},
}


@dataclass(kw_only=True)
class AddAccountFlow(ConnectionTestFlow[AddPage]):
    """One run of the add-a-mailbox dialog: `set_spec` and `set_password` from the form, then
    `start_test` / `finish_test`, then `store_account` (blocking: keyring) and `record_test`."""

    TRANSITIONS = ADD_TRANSITIONS
    NOT_ON_TEST_PAGE = "A connection test is already running."
    NO_PASSWORD = "Enter the mailbox's password (or app password)."
    OFFERS_DIAGNOSTICS = False  # no account yet, so nothing to report

    page: AddPage = AddPage.FORM
    spec: AccountSpec | None = None
    created_at: datetime | None = None
    account_id: int | None = None

    def set_spec(self, spec: AccountSpec, now: datetime) -> None:
        """The form's values, validated by the caller (`AccountSpec.validated`). A change
        after a passed test needs a new test."""
        if self.page not in (AddPage.FORM, AddPage.READY):
            raise FlowError(self.NOT_ON_TEST_PAGE)
        if self.page is AddPage.READY and spec != self.spec:
            self._go("back")
            self.forget_test()
        self.spec, self.created_at = spec, now

    def back(self) -> AddPage:
        """From a passed test back to the form (storing failed): the next press tests again."""
        self.forget_test()
        return self._go("back")

    def tested_account(self) -> Account:
        """An unsaved account built from the form: what the probe connects as."""
        if self.spec is None or self.created_at is None:
            raise FlowError("Fill in the mailbox first.")
        return Account(**account_values(self.spec, True, self.created_at))

    def store_account(self, now: datetime) -> int:
        """Blocking (keyring), so run it in a worker thread. After a passing test only: the
        password that passed goes to the keyring, then the account row (a keyring failure
        stores nothing). Raises InvalidInput or SecretStoreError with a message for the rep."""
        if self.page is not AddPage.READY or self.spec is None:
            raise FlowError("A mailbox is added after a successful connection test.")
        account = create_account(self.spec, self._tested_password, now)
        self.account_id = int(account.id)
        self._forget_passwords()
        self._go("save")
        return self.account_id

    def record_test(self, now: datetime) -> Check:
        """The passing test becomes the new account's first check (its status: connected).
        Database only: run it on the loop's thread, through the monitor
        (`Monitor.store_test`)."""
        probes = self._probes
        if self.page is not AddPage.DONE or self.account_id is None or probes is None:
            raise FlowError("The mailbox is not stored yet.")
        return record_check(Account.get_by_id(self.account_id), probes[0], probes[1], now,
                            "manual")
