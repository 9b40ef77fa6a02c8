"""The real connection test both wizards run before anything is stored, without Qt.

Adding a mailbox and reconnecting one share the same middle: the rep types a password (or signs
in through the browser), Next tests IMAP and SMTP for real, and only a passing test lets the
wizard go on. `ConnectionTestFlow` is that shared part, the base of `AddAccountFlow`
(``accounts.add_flow``) and `ReconnectFlow` (``reconnect.flow``), each with its own pages
(as Electrum's wizards share one base). It never does network or keyring I/O: the window runs
the check in a worker thread and feeds the probe results back (`start_test` → `finish_test`).

`TestOutcome` is what a test said, `failure_help` what to do after a failed one (per reason and
provider), and `oauth_hook` finds the browser sign-in of this build.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from mailmonitor.logsetup import redact, register_secret
from mailmonitor.models import Account
from mailmonitor.services.accounts.adding import AccountSpec, clean_password
from mailmonitor.services.accounts.providers import PRESETS, preset_for_email, preset_for_host
from mailmonitor.services.common.reasons import REASONS, Status, advice_for, label_for
from mailmonitor.services.monitoring.account_state import ProbeLike, held_words
from mailmonitor.services.monitoring.status_rules import Outcome, combine

OAUTH_NOT_CONFIGURED = (
    "Google/Microsoft sign-in is not configured in this copy of mailmonitor. Ask whoever set it "
    "up to configure it, or use an app password (IMAP/SMTP) for this mailbox instead."
)


# After a failed test, the field the rep fixes (TestOutcome.field_to_fix).
PASSWORD_REASONS = frozenset({"invalid_credentials", "app_password_required"})
SERVER_REASONS = frozenset({"tls_error", "request_invalid", "network", "timeout",
                            "server_unavailable", "no_service_connection"})


class FlowError(Exception):
    """A step the wizard cannot take now, with a message for the rep."""


@dataclass(frozen=True)
class TestOutcome:
    """One connection test (IMAP and SMTP) as the wizard shows it; details are redacted."""

    __test__ = False  # not a pytest test class

    ok: bool
    status: str
    reason: str | None
    detail: str
    imap_ok: bool
    smtp_ok: bool
    imap_latency_ms: int
    smtp_latency_ms: int
    imap_detail: str
    smtp_detail: str
    # The login budget held a sign-in back: nothing was learned ("held back: 3 failed logins
    # to imap.x in 10 min"); `ok` is False, `reason` None.
    held: str | None = None

    @property
    def label(self) -> str:
        return "Held back" if self.held else label_for(self.status, self.reason)

    @property
    def field_to_fix(self) -> str | None:
        """Where the rep fixes what failed: "password" (a rejected password or app password),
        "imap" / "smtp" (that side's server, port or security), or None (nothing the form can
        fix: a held-back test, a disabled account, a full mailbox)."""
        if self.ok or self.held:
            return None
        if self.reason in SERVER_REASONS:
            return "imap" if not self.imap_ok else "smtp"
        if self.reason in PASSWORD_REASONS:
            return "password"
        return None

    @classmethod
    def of(cls, imap: ProbeLike, smtp: ProbeLike) -> TestOutcome:
        held = held_words(imap, smtp)
        if held is not None:
            return cls(
                ok=False, status=Status.CHECKING.value, reason=None, detail=held,
                imap_ok=bool(imap.ok), smtp_ok=bool(smtp.ok),
                imap_latency_ms=int(imap.latency_ms or 0),
                smtp_latency_ms=int(smtp.latency_ms or 0), imap_detail=redact(imap.detail or ""),
                smtp_detail=redact(smtp.detail or ""), held=held)
        merged = combine(Outcome(imap.status, imap.reason, imap.detail),
                         Outcome(smtp.status, smtp.reason, smtp.detail))
        ok = bool(imap.ok and smtp.ok)
        return cls(
            ok=ok, status=Status.CONNECTED.value if ok else merged.status,
            reason=None if ok else (merged.reason or "request_invalid"),
            detail=redact(merged.detail or ""), imap_ok=bool(imap.ok), smtp_ok=bool(smtp.ok),
            imap_latency_ms=int(imap.latency_ms or 0), smtp_latency_ms=int(smtp.latency_ms or 0),
            imap_detail=redact(imap.detail or ""), smtp_detail=redact(smtp.detail or ""),
        )

    @classmethod
    def crashed(cls, message: str) -> TestOutcome:
        """The check itself could not run (a bug or a stuck library)."""
        detail = redact(message)
        return cls(ok=False, status=Status.DISCONNECTED.value, reason="request_invalid",
                   detail=detail, imap_ok=False, smtp_ok=False, imap_latency_ms=0,
                   smtp_latency_ms=0, imap_detail=detail, smtp_detail=detail)


PageT = TypeVar("PageT", bound=StrEnum)


@dataclass(kw_only=True)
class ConnectionTestFlow(Generic[PageT]):
    """What both wizards share: navigation over a page map, the password the rep typed, and a
    real connection test. A subclass gives `TRANSITIONS` (page → action → page) whose test page
    offers "next" into a testing page that offers "passed" and "failed", and says which account
    is tested (`tested_account`) and whether it needs a password (`needs_password`)."""

    TRANSITIONS: ClassVar[Mapping[Any, Mapping[str, Any]]] = {}
    NOT_ON_TEST_PAGE: ClassVar[str] = "Open the connection page first."
    NO_PASSWORD: ClassVar[str] = "Enter the password (or a new app password) first."
    OFFERS_DIAGNOSTICS: ClassVar[bool] = True  # the test page has “Copy diagnostics”

    page: PageT
    last_test: TestOutcome | None = None
    _password: str | None = field(default=None, repr=False)
    _tested_password: str | None = field(default=None, repr=False)
    _probes: tuple[ProbeLike, ProbeLike] | None = field(default=None, repr=False)

    # --- what a subclass says ------------------------------------------------------------------

    def tested_account(self) -> Account:
        """The account the test connects as (for adding: an unsaved one built from the form)."""
        raise NotImplementedError

    @property
    def needs_password(self) -> bool:
        return True

    # --- navigation ----------------------------------------------------------------------------

    def allowed(self) -> set[str]:
        return set(self.TRANSITIONS[self.page])

    def _go(self, action: str) -> PageT:
        target: PageT | None = self.TRANSITIONS[self.page].get(action)
        if target is None:
            raise FlowError(f"“{action}” is not possible on the {self.page.value} page.")
        self.page = target
        return target

    # --- the connection test -------------------------------------------------------------------

    @property
    def has_password(self) -> bool:
        return bool(self._password)

    @property
    def tested_probes(self) -> tuple[ProbeLike, ProbeLike] | None:
        """IMAP and SMTP results of the last passing test (to store it as a check)."""
        return self._probes if self.last_test is not None and self.last_test.ok else None

    def set_password(self, password: str) -> None:
        account = self.tested_account()
        cleaned = clean_password(AccountSpec(email=account.email, kind=account.kind,
                                             imap_host=account.imap_host), password)
        register_secret(cleaned)  # never in a log, a report or a diagnostics copy
        self._password = cleaned or None

    def can_test(self) -> tuple[bool, str]:
        if "next" not in self.TRANSITIONS[self.page]:
            return False, self.NOT_ON_TEST_PAGE
        if self.needs_password and not self._password:
            return False, self.NO_PASSWORD
        return True, ""

    def start_test(self) -> str | None:
        """Next was pressed: returns the password to test with (None: OAuth, the token comes
        from the OAuth service). The caller runs the real check and calls `finish_test`."""
        ok, why = self.can_test()
        if not ok:
            raise FlowError(why)
        self._go("next")
        self._tested_password = self._password if self.needs_password else None
        return self._tested_password

    @property
    def testing(self) -> bool:
        return "passed" in self.TRANSITIONS[self.page]

    def finish_test(self, imap: ProbeLike, smtp: ProbeLike) -> TestOutcome:
        if not self.testing:
            raise FlowError("No connection test is running.")
        self.last_test = TestOutcome.of(imap, smtp)
        self._probes = (imap, smtp)
        self._go("passed" if self.last_test.ok else "failed")
        return self.last_test

    def test_crashed(self, message: str) -> TestOutcome:
        """The check itself failed to run: say so, stay on (or return to) the test page."""
        self.last_test = TestOutcome.crashed(message)
        self._probes = None
        if self.testing:
            self._go("failed")
        return self.last_test

    def test_stopped(self) -> None:
        """The rep stopped the running test (Stop test): back to the test page, nothing learned
        and nothing to store."""
        self.forget_test()
        if self.testing:
            self._go("failed")

    def forget_test(self) -> None:
        """The rep went back from a passed test: they may change the password, so test again."""
        self.last_test = None
        self._probes = None

    def failure_help(self) -> list[str]:
        """What to do after a failed test, specific to the reason and the provider."""
        if self.last_test is None or self.last_test.ok:
            return []
        if self.last_test.held:
            return held_help(self.last_test.held)
        return failure_help(self.tested_account(), self.last_test.reason,
                            diagnostics=self.OFFERS_DIAGNOSTICS, answer=self.last_test.detail)

    def _forget_passwords(self) -> None:
        self._password = self._tested_password = None


def provider_help(account: Account) -> str:
    preset = (PRESETS.get(account.kind) if account.kind in PRESETS else None) \
        or preset_for_email(account.email) or preset_for_host(account.imap_host)
    return preset.app_password_help if preset is not None else ""


def _is_google(account: Account) -> bool:
    return bool(account.kind == "gmail"
                or account.imap_host.endswith(("gmail.com", "google.com")))


def _is_microsoft(account: Account) -> bool:
    return bool(account.kind == "microsoft"
                or account.imap_host.endswith(("office365.com", "outlook.com")))


def held_help(words: str) -> list[str]:
    """After a test the login budget held back: what happened and what to do."""
    return [f"{words[0].upper()}{words[1:]}: mailmonitor makes no more sign-in attempts there "
            "for now, so that the server does not block this computer.",
            "Check the password, then test again in a few minutes."]


DIAGNOSTICS_HINT = ("Still stuck? “Copy diagnostics” copies a report without passwords for a "
                    "support request.")


def failure_help(account: Account, reason_code: str | None, diagnostics: bool = True,
                 answer: str = "") -> list[str]:
    """Plain sentences after a failed test, most useful first; with `diagnostics` (the page
    has a “Copy diagnostics” button) the last one points to it. `answer`: the server's words
    (a known provider change they mark is named, with its fix)."""
    info = REASONS.get(reason_code or "")
    lines: list[str] = []
    if info is not None:
        lines.append(f"{info.label}: {advice_for(reason_code, answer)}")
    google, microsoft = _is_google(account), _is_microsoft(account)
    if reason_code in ("invalid_credentials", "app_password_required"):
        if google:
            lines.append("Google app passwords need 2-Step Verification: turn it on at "
                         "myaccount.google.com → Security, then create an app password.")
        if account.is_oauth:
            lines.append("Sign in again with “Continue in your browser”.")
        else:
            help_text = provider_help(account)
            if help_text:
                lines.append(help_text)
            elif not google:
                lines.append("If the mailbox uses two-factor authentication, create an app "
                             "password at your provider and use it here.")
    elif reason_code == "auth_method_disabled":
        if microsoft or not google:
            lines.append("A Microsoft 365 tenant may have disabled SMTP AUTH (5.7.139): ask your "
                         "administrator to enable “Authenticated SMTP” for this mailbox.")
        lines.append("IMAP access may be turned off in the mailbox's settings at the provider.")
    elif reason_code == "web_login_required":
        lines.append("Open the provider's webmail in a browser, sign in and confirm the "
                     "security check; then press Next again.")
    elif reason_code == "token_expired":
        lines.append("Press “Continue in your browser” and sign in as "
                     f"{account.email} again.")
    elif reason_code == "tls_error":
        lines.append("Port 993 (IMAP) and 465 (SMTP) use SSL; ports 143 and 587 use STARTTLS.")
    elif info is not None and info.transient:
        lines.append("This looks temporary; you can also close the wizard: mailmonitor keeps "
                     "retrying by itself.")
    if diagnostics:
        lines.append(DIAGNOSTICS_HINT)
    return lines


# --- OAuth sign-in hook -------------------------------------------------------------------------

SignIn = Callable[..., Any]


def oauth_hook(name: str = "sign_in") -> SignIn | None:
    """A browser sign-in function of the OAuth service (another module), if this build has one:
    `mailmonitor.services.auth.oauth.sign_in(account, timeout)` re-authenticates an account and
    `add_account(spec, timeout, now)` signs in a new one; both block and raise on failure."""
    try:
        module = importlib.import_module("mailmonitor.services.auth.oauth")
    except ImportError:
        return None
    hook = getattr(module, name, None)
    return hook if callable(hook) else None
