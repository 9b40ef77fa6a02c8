"""One connection check of one account: both probes, with the account's endpoints and secret.

Blocking; the monitor runs it in a worker thread. Never raises for a server's answer."""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable

from mailmonitor.logsetup import register_secret
from mailmonitor.models import Account
from mailmonitor.services.auth import secrets
from mailmonitor.services.monitoring.probes import (
    Credentials,
    Endpoint,
    ProbeResult,
    probe_imap,
    probe_smtp,
)
from mailmonitor.services.monitoring.progress import ProbeWatch
from mailmonitor.services.monitoring.reasons import REASONS

# Obtains a fresh access token for an OAuth account (set by the OAuth service when it loads);
# raises TokenError (classified token_expired) when the refresh is refused.
TokenProvider = Callable[[Account, float], str]
token_provider: TokenProvider | None = None


class CredentialsMissing(Exception):
    pass


def load_oauth_service() -> TokenProvider | None:
    """Importing the OAuth service installs its `get_access_token` as `token_provider`; the CLI's
    `check`, the monitor and the window all reach OAuth accounts through here."""
    with contextlib.suppress(ImportError):
        importlib.import_module("mailmonitor.services.auth.oauth")
    return token_provider


def endpoints_for(account: Account, timeout: float, watch: ProbeWatch | None = None
                  ) -> tuple[Endpoint, Endpoint]:
    imap = Endpoint(account.imap_host, account.imap_port, account.imap_security, account.login,
                    account.ca_file, timeout, watch)
    smtp = Endpoint(account.smtp_host, account.smtp_port, account.smtp_security, account.login,
                    account.ca_file, timeout, watch)
    return imap, smtp


def failed(protocol: str, reason: str, detail: str) -> ProbeResult:
    return ProbeResult(protocol=protocol, ok=False, status=REASONS[reason].status.value,
                       reason=reason, detail=detail, latency_ms=0, phases={},
                       cert_expires_at=None, error=detail)


def credentials_for(account: Account, password: str | None, timeout: float) -> Credentials:
    """The secret to log in with: a password given now, the stored one, or a fresh token."""
    if account.is_oauth:
        provider = token_provider or load_oauth_service()
        if provider is None:
            raise CredentialsMissing("Google/Microsoft sign-in is not set up on this computer")
        token = provider(account, timeout)
        register_secret(token)
        return Credentials(access_token=token)
    if password is None:
        password = secrets.get_secret(account.email, "password")
    if password is None:
        raise CredentialsMissing("No password is stored for this mailbox: reconnect to enter it")
    register_secret(password)
    return Credentials(password=password)


def run_check(account: Account, password: str | None = None, timeout: float = 20.0,
              watch: ProbeWatch | None = None) -> tuple[ProbeResult, ProbeResult]:
    """IMAP then SMTP. Secrets problems become results, not exceptions.

    With a ``watch`` (a test the rep waits for in a dialog) IMAP and SMTP run side by side, each
    step is reported to it, and ``watch.cancel()`` ends both at once."""
    if watch is not None and account.is_oauth:
        watch.step("imap", "token")
        watch.step("smtp", "token")
    try:
        creds = credentials_for(account, password, timeout)
    except secrets.SecretStoreError as exc:
        return (failed("imap", "invalid_credentials", str(exc)),
                failed("smtp", "invalid_credentials", str(exc)))
    except CredentialsMissing as exc:
        return (failed("imap", "invalid_credentials", str(exc)),
                failed("smtp", "invalid_credentials", str(exc)))
    except Exception as exc:  # token refresh refused or failed
        from mailmonitor.services.auth.token_errors import classify_token_error

        reason, detail = classify_token_error(exc)
        return failed("imap", reason, detail), failed("smtp", reason, detail)
    imap_ep, smtp_ep = endpoints_for(account, timeout, watch)
    if watch is not None:
        return _side_by_side(imap_ep, smtp_ep, creds, watch)
    # One after the other in this worker thread: the monitor already runs many accounts side by
    # side, and twice the threads only meant more contention for the interpreter lock.
    return probe_imap(imap_ep, creds), probe_smtp(smtp_ep, creds)


def _side_by_side(imap_ep: Endpoint, smtp_ep: Endpoint, creds: Credentials, watch: ProbeWatch
                  ) -> tuple[ProbeResult, ProbeResult]:
    """SMTP in a second thread while IMAP runs in this one: the rep waits for the slower of the
    two, not for their sum."""
    box: dict[str, ProbeResult] = {}

    def smtp() -> None:
        box["smtp"] = probe_smtp(smtp_ep, creds)
        watch.finished("smtp", box["smtp"].ok)

    thread = threading.Thread(target=smtp, name="probe-smtp", daemon=True)
    thread.start()
    imap = probe_imap(imap_ep, creds)
    watch.finished("imap", imap.ok)
    thread.join()
    return imap, box["smtp"]
