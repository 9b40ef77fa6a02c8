"""`accounts add --kind gmail|microsoft`, `accounts reconnect` of an OAuth account and `accounts
edit --kind` (switching the sign-in method, accounts/switching.py) (spec §7):
print the sign-in link, open the browser, wait for the loopback redirect. With `--no-browser`
(services/auth/no_browser.py): print the device code (Microsoft) or the link, and read the
address the sign-in ended on from standard input (Google).

Exit 0 only when the account is signed in (reconnect: and a real check passed); otherwise one line
on stderr and a non-zero exit (1). Nothing is stored when the sign-in fails.

The command line's glue: besides the sign-in it runs the real checks (``monitoring.checker``,
with the token provider built here) and the reconnect rule (``campaigns.lifecycle``)."""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from mailmonitor.logsetup import redact
from mailmonitor.models import Account
from mailmonitor.services.accounts.adding import AccountSpec
from mailmonitor.services.auth.secrets import SecretStoreError

if TYPE_CHECKING:
    from mailmonitor.services.accounts.editing import AccountEdit
    from mailmonitor.services.auth.oauth import Signer

EXIT_OK, EXIT_FAILED = 0, 1
PROVIDER_NAMES = {"gmail": "Google", "microsoft": "Microsoft"}

log = logging.getLogger(__name__)


def _show_link(email: str, kind: str) -> Callable[[str], None]:
    def on_url(url: str) -> None:
        print(f"Sign in to {PROVIDER_NAMES.get(kind, kind)} as {email} in your browser. "
              f"If no browser opened, open this link:\n  {url}", flush=True)
        print("Waiting for the sign-in…", flush=True)

    return on_url


class _StdinLines:
    """Lines of standard input, waited for with a deadline (a thread reads them as they come;
    started on first use, so a device-code sign-in never touches standard input)."""

    def __init__(self) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None

    def _read(self) -> None:
        while True:
            line = sys.stdin.readline()
            self._lines.put(line or None)  # None: the input ended
            if not line:
                return

    def __call__(self, seconds: float) -> str | None:
        if self._reader is None:
            self._reader = threading.Thread(target=self._read, name="stdin", daemon=True)
            self._reader.start()
        try:
            line = self._lines.get(timeout=max(0.0, seconds))
        except queue.Empty:
            return None
        if line is None:
            raise EOFError
        return line


def _terminal_signer() -> Signer:
    """`--no-browser`: what to do is printed; a pasted address is read from standard input."""
    from mailmonitor.services.auth import no_browser

    def show(text: str) -> None:
        print(text, flush=True)

    return no_browser.signer(no_browser.Prompt(show, _StdinLines()))


def _fail(message: str) -> int:
    line = " ".join(redact(message).split())  # exactly one line
    print(f"mailmonitor: {line}", file=sys.stderr, flush=True)
    return EXIT_FAILED


def _connection_test(account: Account) -> tuple[str, str] | None:
    """`accounts add --test`: the real check of the signed-in account, before it is stored."""
    from mailmonitor.services.auth.refresh import oauth_token_provider
    from mailmonitor.services.monitoring.checker import failure_of, run_check

    failed = failure_of(*run_check(account, token_provider=oauth_token_provider()))
    return None if failed is None else (f"{failed.protocol}: {failed.label}", failed.detail)


def add_oauth_account(spec: AccountSpec, timeout: float, now: datetime, test: bool = False,
                      no_browser: bool = False) -> int:
    """`accounts add --kind gmail|microsoft` without a password; `test` is `--test`."""
    from mailmonitor.services.accounts.oauth_signin import add_account
    from mailmonitor.services.auth import oauth

    try:
        account = add_account(spec, timeout, now, on_url=_show_link(spec.email, spec.kind),
                              connection_test=_connection_test if test else None,
                              signer=_terminal_signer() if no_browser else None)
    except oauth.SignInError as exc:
        return _fail(f"{spec.email} was not added: {exc}")
    except SecretStoreError as exc:
        return _fail(str(exc))
    print(f"Added {account.email} (signed in with {PROVIDER_NAMES[account.kind]}; "
          + ("connection tested)" if test else "not checked yet: run `mailmonitor check`)"))
    return EXIT_OK


def reconnect_oauth_account(account: Account, timeout: float, now: datetime,
                            no_browser: bool = False) -> int:
    """`accounts reconnect` of an OAuth account: sign in again, then a real check must pass."""
    from mailmonitor.services.auth import oauth
    from mailmonitor.services.auth.refresh import oauth_token_provider
    from mailmonitor.services.campaigns import lifecycle
    from mailmonitor.services.monitoring.checker import failure_of, run_check

    started = time.monotonic()
    try:
        oauth.sign_in(account, timeout, on_url=_show_link(account.email, account.kind),
                      signer=_terminal_signer() if no_browser else None)
    except oauth.SignInError as exc:
        return _fail(f"reconnect failed: {exc}")
    except SecretStoreError as exc:
        return _fail(str(exc))
    imap, smtp = run_check(account, token_provider=oauth_token_provider())
    failed = failure_of(imap, smtp)
    if failed is not None:
        return _fail(f"reconnect failed: signed in, but the connection test did not pass: "
                     f"{failed.label}: {failed.detail}")
    done = now + timedelta(seconds=time.monotonic() - started)
    lifecycle.reconnected(account, done, detail=imap.detail)
    print(f"Reconnected {account.email}: campaigns continue where they left off")
    return EXIT_OK


def switch_sign_in(account: Account, kind: str, now: datetime, *, servers: AccountEdit,
                   password: str | None, timeout: float, no_browser: bool = False) -> int:
    """`accounts edit EMAIL --kind microsoft|gmail|imap`: switch the sign-in method in place
    (accounts/switching.py). Bad input raises InvalidInput (exit 3); a refused sign-in or a
    failed test is one line and exit 1, with nothing changed."""
    from mailmonitor.services.accounts import switching
    from mailmonitor.services.common.reasons import label_for

    if no_browser and kind not in PROVIDER_NAMES:
        from mailmonitor.services.common.validation import InvalidInput

        raise InvalidInput("--no-browser is for signing in to Google or Microsoft (--kind "
                           "gmail|microsoft)")
    plan = switching.plan_switch(account, kind, servers, password)
    if plan is None:
        print(f"{account.email}: nothing to change (it already signs in with "
              f"{switching.method_words(account.kind, account.auth_method)})")
        return EXIT_OK
    try:
        result = switching.switch_sign_in(
            account, kind, now, servers=servers, password=password, timeout=timeout,
            on_url=_show_link(account.email, kind),
            signer=_terminal_signer() if no_browser else None)
    except switching.SwitchFailed as exc:
        return _fail(str(exc))
    assert result is not None
    stored = result.account
    line = (f"Switched {stored.email} to "
            f"{switching.method_words(stored.kind, stored.auth_method)} (history, campaigns and "
            f"leads kept); checked, {label_for(stored.status, stored.reason)}")
    if not result.old_secret_removed:
        line += " (the keyring kept the old secret; it is no longer used)"
    print(line)
    return EXIT_OK
