"""`accounts add --kind gmail|microsoft` and `accounts reconnect` of an OAuth account (spec §7):
print the sign-in link, open the browser, wait for the loopback redirect.

Exit 0 only when the account is signed in (reconnect: and a real check passed); otherwise one line
on stderr and a non-zero exit (1). Nothing is stored when the sign-in fails.

The command line's glue: besides the sign-in it runs the real checks (``monitoring.checker``,
with the token provider built here) and the reconnect rule (``campaigns.lifecycle``)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from mailmonitor.logsetup import redact
from mailmonitor.models import Account
from mailmonitor.services.accounts.adding import AccountSpec
from mailmonitor.services.auth.secrets import SecretStoreError

EXIT_OK, EXIT_FAILED = 0, 1
PROVIDER_NAMES = {"gmail": "Google", "microsoft": "Microsoft"}

log = logging.getLogger(__name__)


def _show_link(email: str, kind: str) -> Callable[[str], None]:
    def on_url(url: str) -> None:
        print(f"Sign in to {PROVIDER_NAMES.get(kind, kind)} as {email} in your browser. "
              f"If no browser opened, open this link:\n  {url}", flush=True)
        print("Waiting for the sign-in…", flush=True)

    return on_url


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


def add_oauth_account(spec: AccountSpec, timeout: float, now: datetime, test: bool = False
                      ) -> int:
    """`accounts add --kind gmail|microsoft` without a password; `test` is `--test`."""
    from mailmonitor.services.accounts.oauth_signin import add_account
    from mailmonitor.services.auth import oauth

    try:
        account = add_account(spec, timeout, now, on_url=_show_link(spec.email, spec.kind),
                              connection_test=_connection_test if test else None)
    except oauth.SignInError as exc:
        return _fail(f"{spec.email} was not added: {exc}")
    except SecretStoreError as exc:
        return _fail(str(exc))
    print(f"Added {account.email} (signed in with {PROVIDER_NAMES[account.kind]}; "
          + ("connection tested)" if test else "not checked yet: run `mailmonitor check`)"))
    return EXIT_OK


def reconnect_oauth_account(account: Account, timeout: float, now: datetime) -> int:
    """`accounts reconnect` of an OAuth account: sign in again, then a real check must pass."""
    from mailmonitor.services.auth import oauth
    from mailmonitor.services.auth.refresh import oauth_token_provider
    from mailmonitor.services.campaigns import lifecycle
    from mailmonitor.services.monitoring.checker import failure_of, run_check

    started = time.monotonic()
    try:
        oauth.sign_in(account, timeout, on_url=_show_link(account.email, account.kind))
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
