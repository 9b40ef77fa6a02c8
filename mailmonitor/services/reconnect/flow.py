"""The reconnect wizard's navigation and its effects, without Qt (spec §5).

The steps reps know from other tools: select the paused campaign → Edit Warm-up (a pop-up with the
warm-up and sending settings) → its Previous button returns to the connection page →
re-authenticate (password / app password, or sign in through the browser for OAuth accounts) →
Next tests the connection for real and only continues on success → Save & Resume.

`ReconnectFlow` holds the state of one wizard run. It never does network or keyring I/O itself:
the window runs the blocking parts (`run_check`, `store_secret`) in worker threads and feeds the
results back (`start_test` / `finish_test`), so the whole path can be unit-tested with fake
probe results. The Qt pages (`ui/reconnect_wizard.py`) only render `flow.page`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from mailmonitor import __version__
from mailmonitor.logsetup import redact, register_secret
from mailmonitor.models import Account, Campaign, CampaignMailbox, Check, Lead
from mailmonitor.models.account import DEFAULT_DAILY_LIMIT, DEFAULT_MIN_GAP_SECONDS
from mailmonitor.models.campaign import PAUSE_NO_MAILBOX
from mailmonitor.services.accounts.adding import AccountSpec, clean_password
from mailmonitor.services.accounts.providers import PRESETS, preset_for_email, preset_for_host
from mailmonitor.services.auth import secrets
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.campaigns.rules import CampaignError, resume_campaign
from mailmonitor.services.monitoring.account_state import ProbeLike
from mailmonitor.services.monitoring.reasons import REASONS, Status, label_for
from mailmonitor.services.monitoring.status_rules import Outcome, combine


class Page(StrEnum):
    SELECT_CAMPAIGN = "select_campaign"
    EDIT_WARMUP = "edit_warmup"  # the pop-up over the connection page
    CONNECTION = "connection"
    TESTING = "testing"  # Next was pressed: the real check runs
    READY = "ready"  # the check passed: Save & Resume
    DONE = "done"


# page -> action -> next page. Anything not listed here is refused (FlowError).
TRANSITIONS: dict[Page, dict[str, Page]] = {
    Page.SELECT_CAMPAIGN: {"edit_warmup": Page.EDIT_WARMUP, "skip": Page.CONNECTION},
    Page.EDIT_WARMUP: {"previous": Page.CONNECTION},
    Page.CONNECTION: {"edit_warmup": Page.EDIT_WARMUP, "back": Page.SELECT_CAMPAIGN,
                      "next": Page.TESTING},
    Page.TESTING: {"passed": Page.READY, "failed": Page.CONNECTION},
    Page.READY: {"back": Page.CONNECTION, "save": Page.DONE},
    Page.DONE: {},
}

OAUTH_NOT_CONFIGURED = (
    "Google/Microsoft sign-in is not configured in this copy of mailmonitor. Ask whoever set it "
    "up to configure it, or use an app password (IMAP/SMTP) for this mailbox instead."
)


class FlowError(Exception):
    """A step the wizard cannot take now, with a message for the rep."""


@dataclass
class SendingSettings:
    """The Edit Warm-up pop-up: sending speed, daily limit and the warm-up ramp."""

    daily_limit: int = DEFAULT_DAILY_LIMIT
    min_gap_seconds: int = DEFAULT_MIN_GAP_SECONDS
    warmup_enabled: bool = False
    warmup_start: int = 5
    warmup_step: int = 5

    @classmethod
    def of(cls, account: Account) -> SendingSettings:
        if account.detached_at is not None:
            # A two-step disconnect resets settings when the account comes back (§5).
            return cls()
        return cls(
            daily_limit=int(account.daily_limit), min_gap_seconds=int(account.min_gap_seconds),
            warmup_enabled=account.warmup_start is not None,
            warmup_start=int(account.warmup_start or 5), warmup_step=int(account.warmup_step or 5),
        )

    def problems(self) -> list[str]:
        found = []
        if self.daily_limit < 1:
            found.append("The daily limit must be at least 1 email.")
        if self.min_gap_seconds < 0:
            found.append("The time between emails cannot be negative.")
        if self.warmup_enabled and (self.warmup_start < 1 or self.warmup_step < 0):
            found.append("The warm-up starts with at least 1 email and grows by 0 or more.")
        return found

    def apply_to(self, account: Account, now: datetime) -> None:
        ramp = (self.warmup_start, self.warmup_step) if self.warmup_enabled else None
        previous = ((account.warmup_start, account.warmup_step)
                    if account.warmup_start is not None else None)
        account.daily_limit = self.daily_limit
        account.min_gap_seconds = self.min_gap_seconds
        if ramp is None:
            account.warmup_start = account.warmup_step = account.warmup_started_on = None
        elif ramp != previous or account.warmup_started_on is None:
            account.warmup_start, account.warmup_step = ramp
            account.warmup_started_on = now.date()


@dataclass(frozen=True)
class CampaignChoice:
    id: int
    name: str
    status: str
    pause_reason: str | None
    waiting_leads: int  # leads of this campaign halted for this account

    @property
    def paused(self) -> bool:
        return self.status == "paused"

    @property
    def status_text(self) -> str:
        if self.status != "paused":
            return self.status.capitalize()
        return ("Paused: no mailbox can send" if self.pause_reason == PAUSE_NO_MAILBOX
                else "Paused by you")


@dataclass(frozen=True)
class TestOutcome:
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

    @property
    def label(self) -> str:
        return label_for(self.status, self.reason)

    @classmethod
    def of(cls, imap: ProbeLike, smtp: ProbeLike) -> TestOutcome:
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


@dataclass(frozen=True)
class SaveResult:
    resumed_campaign: str | None  # the selected campaign, if it runs again
    campaign_note: str  # why it did not, when it did not
    active_campaigns: int


@dataclass
class ReconnectFlow:
    """One run of the reconnect wizard for one account."""

    account_id: int
    email: str = ""
    page: Page = Page.SELECT_CAMPAIGN
    campaign_id: int | None = None
    campaigns: list[CampaignChoice] = field(default_factory=list)
    settings: SendingSettings = field(default_factory=SendingSettings)
    settings_edited: bool = False
    last_test: TestOutcome | None = None
    signed_in: bool = False  # OAuth: the browser sign-in finished
    result: SaveResult | None = None
    _password: str | None = field(default=None, repr=False)
    _tested_password: str | None = field(default=None, repr=False)

    @classmethod
    def start(cls, account_id: int, at: Page = Page.SELECT_CAMPAIGN,
              campaign_id: int | None = None) -> ReconnectFlow:
        """A new run. The Reconnect shortcut starts `at=Page.CONNECTION` with the first paused
        campaign of the account preselected."""
        if at not in (Page.SELECT_CAMPAIGN, Page.CONNECTION):
            raise FlowError("The wizard starts at the campaign or the connection page.")
        account = Account.get_by_id(account_id)
        flow = cls(account_id=account_id, email=account.email, page=at,
                   campaigns=campaign_choices(account),
                   settings=SendingSettings.of(account))
        ids = [c.id for c in flow.campaigns]
        if campaign_id is not None and campaign_id in ids:
            flow.campaign_id = campaign_id
        else:
            paused = [c.id for c in flow.campaigns if c.paused]
            flow.campaign_id = paused[0] if paused else (ids[0] if ids else None)
        return flow

    # --- reading -----------------------------------------------------------------------------

    @property
    def account(self) -> Account:
        return Account.get_by_id(self.account_id)

    @property
    def is_oauth(self) -> bool:
        return bool(self.account.is_oauth)

    @property
    def selected_campaign(self) -> CampaignChoice | None:
        return next((c for c in self.campaigns if c.id == self.campaign_id), None)

    @property
    def has_password(self) -> bool:
        return bool(self._password)

    def allowed(self) -> set[str]:
        return set(TRANSITIONS[self.page])

    def failure_help(self) -> list[str]:
        """What to do after a failed test, specific to the reason and the provider."""
        if self.last_test is None or self.last_test.ok:
            return []
        return failure_help(self.account, self.last_test.reason)

    # --- navigation ---------------------------------------------------------------------------

    def _go(self, action: str) -> Page:
        target = TRANSITIONS[self.page].get(action)
        if target is None:
            raise FlowError(f"“{action}” is not possible on the {self.page.value} page.")
        self.page = target
        return target

    def select_campaign(self, campaign_id: int | None) -> None:
        if campaign_id is not None and campaign_id not in {c.id for c in self.campaigns}:
            raise FlowError("That campaign does not send from this mailbox.")
        self.campaign_id = campaign_id

    def edit_warmup(self) -> Page:
        return self._go("edit_warmup")

    def set_settings(self, settings: SendingSettings) -> None:
        problems = settings.problems()
        if problems:
            raise FlowError(" ".join(problems))
        self.settings = settings
        self.settings_edited = True

    def previous(self) -> Page:
        """In the Edit Warm-up pop-up, Previous returns to the connection page. A failed test
        from before is no longer shown there: the rep is about to try again."""
        if self.last_test is not None and not self.last_test.ok:
            self.last_test = None
        return self._go("previous")

    def skip(self) -> Page:
        return self._go("skip")

    def back(self) -> Page:
        if self.page is Page.READY:
            self.last_test = None  # the rep may change the password: test again
        return self._go("back")

    def set_password(self, password: str) -> None:
        account = self.account
        cleaned = clean_password(AccountSpec(email=account.email, kind=account.kind,
                                             imap_host=account.imap_host), password)
        register_secret(cleaned)  # never in a log, a report or a diagnostics copy
        self._password = cleaned or None

    def mark_signed_in(self) -> None:
        """The OAuth hook finished a browser sign-in (it stored the new tokens itself)."""
        self.signed_in = True

    def can_test(self) -> tuple[bool, str]:
        if self.page is not Page.CONNECTION:
            return False, "Open the connection page first."
        if self.is_oauth:
            return True, ""
        if not self._password:
            return False, "Enter the password (or a new app password) first."
        return True, ""

    def start_test(self) -> str | None:
        """Next was pressed: returns the password to test with (None: OAuth, the token comes
        from the OAuth service). The caller runs the real check and calls `finish_test`."""
        ok, why = self.can_test()
        if not ok:
            raise FlowError(why)
        self._go("next")
        self._tested_password = None if self.is_oauth else self._password
        return self._tested_password

    def finish_test(self, imap: ProbeLike, smtp: ProbeLike) -> TestOutcome:
        if self.page is not Page.TESTING:
            raise FlowError("No connection test is running.")
        self.last_test = TestOutcome.of(imap, smtp)
        self._go("passed" if self.last_test.ok else "failed")
        return self.last_test

    def test_crashed(self, message: str) -> TestOutcome:
        """The check itself failed to run (a bug or a stuck library): say so, stay on the page."""
        detail = redact(message)
        self.last_test = TestOutcome(
            ok=False, status=Status.DISCONNECTED.value, reason="request_invalid", detail=detail,
            imap_ok=False, smtp_ok=False, imap_latency_ms=0, smtp_latency_ms=0,
            imap_detail=detail, smtp_detail=detail)
        if self.page is Page.TESTING:
            self._go("failed")
        return self.last_test

    # --- Save & Resume ------------------------------------------------------------------------

    def store_secret(self) -> None:
        """Blocking (keyring): run it in a worker thread, before `apply`. Stores exactly the
        password that passed the test. No database access here (it runs off the loop)."""
        if self.page is not Page.READY:
            raise FlowError("Save & Resume comes after a successful connection test.")
        if self._tested_password:
            secrets.set_secret(self.email, "password", self._tested_password)

    def apply(self, now: datetime) -> SaveResult:
        """Database part of Save & Resume: settings, the reconnect rules (§4.4, §5) and the
        selected campaign resumed. Everything else about the account is kept."""
        if self.page is not Page.READY or self.last_test is None:
            raise FlowError("Save & Resume comes after a successful connection test.")
        account = self.account
        lifecycle.reconnected(account, now, detail=self.last_test.detail)
        account = self.account  # reattach (two-step disconnect) may have reset settings
        self.settings.apply_to(account, now)
        account.save()
        resumed, note = None, ""
        if self.campaign_id is not None:
            campaign = Campaign.get_by_id(self.campaign_id)
            if campaign.status == "paused":
                try:
                    if resume_campaign(campaign, now):
                        resumed = campaign.name
                    else:
                        note = (f"“{campaign.name}” stays paused: none of its mailboxes can "
                                "send yet.")
                except CampaignError as exc:
                    note = str(exc)
            elif campaign.status == "active":
                resumed = campaign.name
            else:
                note = f"“{campaign.name}” is {campaign.status}."
        active = sum(1 for c in campaign_choices(account) if c.status == "active")
        self._password = self._tested_password = None
        self.result = SaveResult(resumed, note, active)
        self._go("save")
        return self.result

    def diagnostics(self, now: datetime) -> str:
        return diagnostics_report(self.account, now, self.last_test)


def campaign_choices(account: Account) -> list[CampaignChoice]:
    """Campaigns this account sends for (or sent for, before a two-step disconnect); paused
    ones first, since those are the ones to resume."""
    campaigns = list(
        Campaign.select().join(CampaignMailbox)
        .where(CampaignMailbox.account == account).order_by(Campaign.name)
    )
    choices = []
    for campaign in campaigns:
        waiting = Lead.select().where(
            (Lead.campaign == campaign) & (Lead.mailbox == account) & (Lead.state == "halted")
        ).count()
        choices.append(CampaignChoice(campaign.id, campaign.name, campaign.status,
                                      campaign.pause_reason, int(waiting)))
    return sorted(choices, key=lambda c: (not c.paused, c.name.lower()))


def provider_help(account: Account) -> str:
    preset = (PRESETS.get(account.kind) if account.kind in PRESETS else None) \
        or preset_for_email(account.email) or preset_for_host(account.imap_host)
    return preset.app_password_help if preset is not None else ""


def _is_google(account: Account) -> bool:
    return account.kind == "gmail" or account.imap_host.endswith(("gmail.com", "google.com"))


def _is_microsoft(account: Account) -> bool:
    return account.kind == "microsoft" or account.imap_host.endswith(
        ("office365.com", "outlook.com"))


def failure_help(account: Account, reason_code: str | None) -> list[str]:
    """Plain sentences for the connection page after a failed test, most useful first."""
    info = REASONS.get(reason_code or "")
    lines: list[str] = []
    if info is not None:
        lines.append(f"{info.label}: {info.advice}")
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
    lines.append("Still stuck? “Copy diagnostics” copies a report without passwords for a support "
                 "request.")
    return lines


def diagnostics_report(account: Account, now: datetime, test: TestOutcome | None = None,
                       checks: int = 10) -> str:
    """A support report: settings, recent checks and server answers. Never a secret: the
    database holds none, and every line goes through the log redactor."""
    warmup = (f"{account.warmup_start} first day, +{account.warmup_step} a day"
              if account.warmup_start is not None else "off")
    lines = [
        f"mailmonitor {__version__} diagnostics, {now:%Y-%m-%d %H:%M} UTC",
        "",
        f"Account: {account.email} ({account.name or 'no sender name'})",
        f"Provider kind: {account.kind}; sign-in: {account.auth_method}; "
        f"username: {account.login}",
        f"IMAP: {account.imap_host}:{account.imap_port} {account.imap_security}",
        f"SMTP: {account.smtp_host}:{account.smtp_port} {account.smtp_security}",
        f"Custom CA file: {account.ca_file or 'none'}",
        f"Sending: daily limit {account.daily_limit}, {account.min_gap_seconds} s between "
        f"emails, warm-up {warmup}",
        f"Check interval: {account.check_interval_seconds} s; monitoring "
        f"{'on' if account.monitoring_enabled else 'off'}",
        f"Status: {account.status} — {label_for(account.status, account.reason)}"
        + (f" (since {_ts(account.status_since)})" if account.status_since else ""),
        f"Last checked: {_ts(account.checked_at)}",
        f"Certificate expires: {_ts(account.cert_expires_at)}",
        f"Last server answer: {account.detail or '—'}",
    ]
    if test is not None:
        lines += [
            "",
            "Wizard connection test: " + ("passed" if test.ok else f"failed — {test.label}"),
            f"  IMAP {'ok' if test.imap_ok else 'failed'} ({test.imap_latency_ms} ms): "
            f"{test.imap_detail or '—'}",
            f"  SMTP {'ok' if test.smtp_ok else 'failed'} ({test.smtp_latency_ms} ms): "
            f"{test.smtp_detail or '—'}",
        ]
    recent = list(Check.select().where(Check.account == account)
                  .order_by(Check.checked_at.desc(), Check.id.desc()).limit(checks))
    lines += ["", f"Last {len(recent)} checks:"]
    for check in recent:
        lines.append(f"  {_ts(check.checked_at)} [{check.trigger}] {check.status}"
                     f"{' ' + check.reason if check.reason else ''}, {check.latency_ms} ms")
        for name, data in (("IMAP", check.imap), ("SMTP", check.smtp)):
            if data:
                lines.append(f"    {name}: {'ok' if data.get('ok') else 'failed'}"
                             f" — {data.get('error') or 'no error'}")
    return redact("\n".join(lines)) + "\n"


def _ts(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value else "never"


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
