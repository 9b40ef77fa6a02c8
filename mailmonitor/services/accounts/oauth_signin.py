"""Adding a Google / Microsoft mailbox: sign in through the browser first, then store the account
(auth method oauth2). Sits above ``auth.oauth`` (the sign-in itself) and ``accounts.adding``."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from mailmonitor.models import Account, account_by_email
from mailmonitor.services.accounts.adding import AccountSpec, account_values, create_account
from mailmonitor.services.auth import oauth
from mailmonitor.services.auth.oauth import ConnectionTest, UrlCallback
from mailmonitor.services.common.validation import InvalidInput

log = logging.getLogger(__name__)


def add_account(spec: AccountSpec, timeout: float, now: datetime, *,
                on_url: UrlCallback | None = None, cancel: threading.Event | None = None,
                connection_test: ConnectionTest | None = None) -> Account:
    """Sign in with the browser, then create the account (auth method oauth2). The tokens are
    stored before the account, so a keyring failure creates nothing. With ``connection_test``
    (`accounts add --test`) a real check of the new account must pass too, or nothing is
    kept."""
    spec = spec.validated()
    if account_by_email(spec.email) is not None:
        raise InvalidInput(f"{spec.email} is already added")
    started = time.monotonic()
    signed = oauth.sign_in_new(spec.kind, spec.email, spec.username, timeout, on_url=on_url,
                               cancel=cancel)
    try:
        done = now + timedelta(seconds=time.monotonic() - started)
        if connection_test is not None:
            failed = connection_test(Account(**account_values(spec, False, done)))  # not saved
            if failed is not None:
                raise oauth.connection_test_failed(failed)
        account = create_account(spec, None, done)
    except Exception:
        oauth.forget_sign_in(spec.email, signed)
        raise
    log.info("added %s with browser sign-in", account.email)
    return account
