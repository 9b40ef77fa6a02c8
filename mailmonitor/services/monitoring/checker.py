"""One connection check of one account: both probes, with the account's endpoints and secret.

Blocking; the monitor runs it in a worker thread. Never raises for a server's answer.

OAuth accounts log in with a token from the `TokenProvider` the caller passes (see
``services.auth.tokens``); without one they fail as "sign-in is not set up".

Every sign-in goes through the login budget (``login_budget``): the process's own unless the
caller passes one (a monitor on a test clock)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass

from mailmonitor.logsetup import register_secret
from mailmonitor.models import Account
from mailmonitor.services.auth import secrets
from mailmonitor.services.auth.token_errors import classify_token_error
from mailmonitor.services.auth.tokens import CredentialsMissing as CredentialsMissing
from mailmonitor.services.auth.tokens import TokenProvider as TokenProvider
from mailmonitor.services.common.reasons import REASONS, label_for
from mailmonitor.services.monitoring.account_state import ProbeLike, held_words
from mailmonitor.services.monitoring.login_budget import LoginBudget, default_budget
from mailmonitor.services.monitoring.probes import (
    Credentials,
    Endpoint,
    ProbeResult,
    probe_imap,
    probe_smtp,
)
from mailmonitor.services.monitoring.progress import ProbeWatch
from mailmonitor.services.monitoring.status_rules import Outcome, combine

# (account, password typed now or None, timeout) -> the probes' results / the secret to log in
CheckFn = Callable[[Account, str | None, float], tuple[ProbeLike, ProbeLike]]
CredentialsFn = Callable[[Account, str | None, float], Credentials]


def endpoints_for(account: Account, timeout: float, watch: ProbeWatch | None = None,
                  budget: LoginBudget | None = None) -> tuple[Endpoint, Endpoint]:
    gate = budget.for_mailbox(account.email) if budget is not None else None
    imap = Endpoint(account.imap_host, account.imap_port, account.imap_security, account.login,
                    account.ca_file, timeout, watch, gate)
    smtp = Endpoint(account.smtp_host, account.smtp_port, account.smtp_security, account.login,
                    account.ca_file, timeout, watch, gate, address=str(account.email or ""))
    return imap, smtp


def failed(protocol: str, reason: str, detail: str) -> ProbeResult:
    return ProbeResult(protocol=protocol, ok=False, status=REASONS[reason].status.value,
                       reason=reason, detail=detail, latency_ms=0, phases={},
                       cert_expires_at=None, error=detail)


def credentials_for(account: Account, password: str | None, timeout: float,
                    token_provider: TokenProvider | None = None) -> Credentials:
    """The secret to log in with: a password given now, the stored one, or a fresh token."""
    if account.is_oauth:
        if token_provider is None:
            raise CredentialsMissing("Google/Microsoft sign-in is not set up on this computer")
        token = token_provider(account, timeout)
        register_secret(token)
        return Credentials(access_token=token)
    if password is None:
        password = secrets.get_secret(account.email, "password")
    if password is None:
        raise CredentialsMissing("No password is stored for this mailbox: reconnect to enter it")
    register_secret(password)
    return Credentials(password=password)


def run_check(account: Account, password: str | None = None, timeout: float = 20.0,
              token_provider: TokenProvider | None = None, watch: ProbeWatch | None = None,
              budget: LoginBudget | None = None) -> tuple[ProbeResult, ProbeResult]:
    """IMAP then SMTP. A missing or refused secret becomes results; an unusable keyring raises
    SecretStoreError: it is this computer's fault, never the mailbox's (its status must not
    change). Each sign-in is gated by the login budget (`budget`, else the process's); run on
    the main thread (the command line) the budget is synced with the database around it.

    With a ``watch`` (a test the rep waits for in a dialog) IMAP and SMTP run side by side, each
    step is reported to it, and ``watch.cancel()`` ends both at once."""
    budget = budget or default_budget()
    owner = threading.current_thread() is threading.main_thread()
    if owner:
        budget.sync()
    try:
        return _run_check(account, password, timeout, token_provider, watch, budget)
    finally:
        if owner:
            budget.sync()


def _run_check(account: Account, password: str | None, timeout: float,
               token_provider: TokenProvider | None, watch: ProbeWatch | None,
               budget: LoginBudget) -> tuple[ProbeResult, ProbeResult]:
    if watch is not None and account.is_oauth:
        watch.step("imap", "token")
        watch.step("smtp", "token")
    try:
        creds = credentials_for(account, password, timeout, token_provider)
    except secrets.SecretStoreError:
        raise
    except CredentialsMissing as exc:
        return (failed("imap", "invalid_credentials", str(exc)),
                failed("smtp", "invalid_credentials", str(exc)))
    except Exception as exc:  # token refresh refused or failed
        reason, detail = classify_token_error(exc)
        return failed("imap", reason, detail), failed("smtp", reason, detail)
    imap_ep, smtp_ep = endpoints_for(account, timeout, watch, budget)
    if watch is not None:
        return _side_by_side(imap_ep, smtp_ep, creds, watch)
    # One after the other in this worker thread: the monitor already runs many accounts side by
    # side, and twice the threads only meant more contention for the interpreter lock.
    imap = probe_imap(imap_ep, creds)
    if refused_by_same_server(imap, imap_ep, smtp_ep):
        return imap, not_tried_after(imap, smtp_ep)
    return imap, probe_smtp(smtp_ep, creds)


def refused_by_same_server(imap: ProbeResult, imap_ep: Endpoint, smtp_ep: Endpoint) -> bool:
    """IMAP's server refused the username and password, and SMTP is the same server: it would
    refuse the same password too, and count a second failed login against the mailbox (and
    the login budget). Other refusals (a method switched off for one protocol, a token) say
    nothing about the other side."""
    return (imap.login_refused and imap.reason == "invalid_credentials"
            and imap_ep.host.lower() == smtp_ep.host.lower())


def not_tried_after(imap: ProbeResult, smtp_ep: Endpoint) -> ProbeResult:
    words = (f"Not tried: {smtp_ep.host} refused this username and password over IMAP a "
             "moment ago (trying again would only count another failed login).")
    return ProbeResult(protocol="smtp", ok=False, status=imap.status, reason=imap.reason,
                       detail=words, latency_ms=0, phases={}, cert_expires_at=None,
                       error=f"auth: {words}")


def check_with(token_provider: TokenProvider | None, budget: LoginBudget | None = None
               ) -> CheckFn:
    """`run_check` for the monitor and the window, with this process's token provider (and the
    monitor's login budget)."""
    return functools.partial(run_check, token_provider=token_provider, budget=budget)


def credentials_with(token_provider: TokenProvider | None) -> CredentialsFn:
    """`credentials_for` for the sending engine and the reply poll."""
    return functools.partial(credentials_for, token_provider=token_provider)


@dataclass(frozen=True)
class CheckFailed:
    """Why a check did not pass, as the command line and the sign-in say it."""

    protocol: str  # "IMAP" or "SMTP": the first side that failed
    label: str  # the words of the worse of both results ("Invalid Credentials")
    detail: str  # the server's answer (redacted)


def failure_of(imap: ProbeResult, smtp: ProbeResult) -> CheckFailed | None:
    """None when both sides connected; else the worse result's words and the failing side (a
    side held back by the login budget, when nothing that ran failed)."""
    if imap.ok and smtp.ok:
        return None
    held = held_words(imap, smtp)
    if held is not None:
        side = imap if imap.held else smtp
        return CheckFailed(side.protocol.upper(), "Held back", held.removeprefix("held back: "))
    merged = combine(Outcome(imap.status, imap.reason, imap.detail),
                     Outcome(smtp.status, smtp.reason, smtp.detail))
    return CheckFailed("IMAP" if not imap.ok else "SMTP",
                       label_for(merged.status, merged.reason), merged.detail)


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
