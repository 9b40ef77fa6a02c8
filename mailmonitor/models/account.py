"""Accounts (mailboxes) and their settings (spec §1). Secrets are never stored here."""

from __future__ import annotations

import peewee as pw

from mailmonitor.clock import utcnow
from mailmonitor.models.base import BaseModel
from mailmonitor.models.states import Status
from mailmonitor.models.team import this_member

KINDS = ("imap", "gmail", "microsoft")
SECURITIES = ("ssl", "starttls", "plain")
AUTH_METHODS = ("password", "app_password", "oauth2")

DEFAULT_DAILY_LIMIT = 50
DEFAULT_MIN_GAP_SECONDS = 600
DEFAULT_CHECK_INTERVAL_SECONDS = 300


class Account(BaseModel):
    class Meta:
        # save() writes the fields that were set, not all forty: a check (hundreds per sweep)
        # writes a few, and a stale copy never overwrites what the rep changed meanwhile.
        only_save_dirty = True

    email = pw.CharField(unique=True)
    name = pw.CharField(default="")
    signature = pw.TextField(default="")
    kind = pw.CharField(default="imap")
    auth_method = pw.CharField(default="password")
    username = pw.CharField(default="")

    imap_host = pw.CharField(default="")
    imap_port = pw.IntegerField(default=993)
    imap_security = pw.CharField(default="ssl")
    smtp_host = pw.CharField(default="")
    smtp_port = pw.IntegerField(default=465)
    smtp_security = pw.CharField(default="ssl")
    ca_file = pw.CharField(null=True)

    # Sending settings
    daily_limit = pw.IntegerField(default=DEFAULT_DAILY_LIMIT)
    min_gap_seconds = pw.IntegerField(default=DEFAULT_MIN_GAP_SECONDS)
    warmup_start = pw.IntegerField(null=True)  # emails on the first day; None = no ramp
    warmup_step = pw.IntegerField(null=True)  # more each day
    warmup_started_on = pw.DateField(null=True)

    # Monitoring settings
    check_interval_seconds = pw.IntegerField(default=DEFAULT_CHECK_INTERVAL_SECONDS)
    monitoring_enabled = pw.BooleanField(default=True)

    # Connection state (spec §2). A new account is `checking` until its first check.
    status = pw.CharField(default=Status.CHECKING, index=True)
    reason = pw.CharField(null=True)
    detail = pw.TextField(default="")
    checked_at = pw.DateTimeField(null=True)
    status_since = pw.DateTimeField(null=True)
    consecutive_failures = pw.IntegerField(default=0)
    transient_since = pw.DateTimeField(null=True)  # start of the current run of transient trouble
    next_check_at = pw.DateTimeField(null=True)
    cert_expires_at = pw.DateTimeField(null=True)
    last_latency_ms = pw.IntegerField(null=True)

    # Long disconnection (§4.6): when it started and how many reminders went out
    disconnected_since = pw.DateTimeField(null=True)
    reminders_sent = pw.IntegerField(default=0)
    long_wait_applied = pw.BooleanField(default=False)
    # The 24-hour warning before leads are stopped (alerts/warnings.py): when it was raised and
    # when it reached the rep (a channel delivered it, or none was set up)
    stop_warned_at = pw.DateTimeField(null=True)
    stop_notice_at = pw.DateTimeField(null=True)

    # Proactive warnings: the server's sending quota, the age of a password / sign-in
    send_limit_until = pw.DateTimeField(null=True)
    # Sending stopped for a reason that is not the mailbox's status: the server refuses to send
    # for now ("refused") or a batch failed unexpectedly ("error"); cleared by the next send.
    send_problem_kind = pw.CharField(null=True)
    send_problem = pw.TextField(null=True)
    send_problem_at = pw.DateTimeField(null=True)
    reconnected_at = pw.DateTimeField(null=True)  # the last time it came back from broken
    secret_set_at = pw.DateTimeField(null=True)  # password stored or OAuth sign-in done
    password_rotation_days = pw.IntegerField(null=True)  # set by the rep; None = no reminder

    # Two-step disconnect (§5): set while the account is detached from its campaigns
    detached_at = pw.DateTimeField(null=True)
    grace_until = pw.DateTimeField(null=True)
    grace_expired = pw.BooleanField(default=False)
    # Connected again after a grace period ended, or added again after removal (§5): from then
    # on only leads that never received an email may be assigned to it.
    rejoined_at = pw.DateTimeField(null=True)

    # The team member who added it (models/team.py); editable
    owner = pw.CharField(default=this_member, index=True)
    removed_at = pw.DateTimeField(null=True)  # removed by the rep; kept for history
    last_sent_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)

    @property
    def is_oauth(self) -> bool:
        return bool(self.auth_method == "oauth2")

    @property
    def login(self) -> str:
        return str(self.username or self.email)

    @property
    def display(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    def can_send(self) -> bool:
        return self.status == Status.CONNECTED and self.removed_at is None


def active_accounts() -> pw.ModelSelect:
    return Account.select().where(Account.removed_at.is_null())


def account_by_email(email: str, *, include_removed: bool = False) -> Account | None:
    """The account with this address, whatever its case (`Sales@x.test` is `sales@x.test`).
    With `include_removed`, a removed one is found too (an active one first)."""
    query = Account.select().where(pw.fn.LOWER(Account.email) == (email or "").strip().lower())
    if not include_removed:
        query = query.where(Account.removed_at.is_null())
    found: Account | None = query.order_by(Account.removed_at.is_null(False),
                                           Account.id.desc()).first()
    return found


def emails_match(emails: list[str]) -> pw.Expression:
    """A WHERE clause: the account's address is one of these, whatever the case."""
    return pw.fn.LOWER(Account.email).in_([e.strip().lower() for e in emails])
