"""Connection statuses and reason codes (product spec §2), with the words reps see.

This table is the single source for labels, severities and whether a reason is transient.
"""

from __future__ import annotations

from dataclasses import dataclass

# The statuses are stored on accounts, so the enum lives with the models; it is re-exported here
# next to the words for them.
from mailmonitor.models.states import BROKEN_STATUSES, Status

__all__ = ["BROKEN_STATUSES", "CREDENTIAL_REASONS", "REASONS", "SEVERITY", "STATUS_LABELS",
           "Reason", "Status", "advice_for", "label_for", "reason", "worse"]

# How bad a status is when two results are combined (IMAP and SMTP): higher wins.
SEVERITY = {
    Status.CONNECTED: 0,
    Status.CHECKING: 0,
    Status.OFFLINE: 1,
    Status.WARNING: 2,
    Status.DISCONNECTED: 3,
    Status.STOPPED: 4,
}

STATUS_LABELS = {
    Status.CONNECTED: "Connected",
    Status.CHECKING: "Checking…",
    Status.WARNING: "Retrying",
    Status.DISCONNECTED: "Disconnected",
    Status.OFFLINE: "Offline",
    Status.STOPPED: "Stopped",
}


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    status: Status
    explanation: str  # one plain sentence for the rep: what is wrong
    action: str  # what the rep should do

    @property
    def advice(self) -> str:
        """What is wrong and what to do, as one text for the rep."""
        return f"{self.explanation} {self.action}"

    @property
    def transient(self) -> bool:
        return self.status is Status.WARNING

    @property
    def credential_problem(self) -> bool:
        """Rejected credentials must not be retried in a loop (RFC 5530)."""
        return self.code in CREDENTIAL_REASONS


_D = Status.DISCONNECTED
_W = Status.WARNING

REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason("invalid_credentials", "Invalid Credentials", _D,
               "The server rejected the username or password.",
               "Re-enter the password (or a new app password) and reconnect."),
        Reason("app_password_required", "App Password Required", _D,
               "The provider requires an app password instead of the account password.",
               "Create an app password (needs 2-Step Verification) and reconnect with it."),
        Reason("web_login_required", "Sign-in Required", _D,
               "The provider blocked the sign-in until you confirm it in a web browser.",
               "Sign in to the mailbox in a browser, confirm the security check, then reconnect."),
        Reason("token_expired", "Token Expired", _D,
               "The sign-in has expired or was revoked at the provider.",
               "Sign in again with Reconnect; everything else is kept."),
        Reason("account_disabled", "Account Disabled", _D,
               "The provider says this mailbox is disabled or suspended.",
               "Contact the mailbox's administrator or provider, then reconnect."),
        Reason("auth_method_disabled", "Auth Method Disabled", _D,
               "The server does not allow this way of signing in (e.g. SMTP AUTH or IMAP is off).",
               "Ask your administrator to enable IMAP/SMTP AUTH for this mailbox."),
        Reason("tls_error", "TLS Error", _D,
               "A secure connection could not be established (certificate or TLS settings).",
               "Check the server name, port and security setting, or the certificate."),
        Reason("request_invalid", "Request is Invalid", _D,
               "The server answered in a way mailmonitor did not understand.",
               "Check the server names, ports and security settings."),
        Reason("sync_error", "Sync Error", _D,
               "Signing in works, but the inbox could not be opened.",
               "Check the mailbox on the provider's website; then reconnect."),
        Reason("mailbox_full", "Mailbox Full", _D,
               "The mailbox is over its storage quota.",
               "Free up space in the mailbox, then reconnect."),
        # What real sends showed while logins pass (services/deliverability): the rep decides
        # when sending starts again.
        Reason("high_bounce_rate", "Paused: high bounce rate", _D,
               "Too many emails from this mailbox bounced recently; providers block mailboxes "
               "that keep sending to bad addresses.",
               "Remove the bounced addresses from your lists, then choose Resume sending."),
        Reason("sending_blocked", "Sending Blocked", _D,
               "The provider refused this mailbox's emails as spam or blocked its sending.",
               "Check the mailbox's reputation and SPF/DKIM/DMARC (Deliverability), then "
               "choose Resume sending."),
        Reason("no_service_connection", "No Service Connection", _D,
               "The server has been unreachable for too long.",
               "Check the server settings or the provider's status page."),
        Reason("server_unavailable", "Retrying: server unavailable", _W,
               "The server is temporarily unavailable.",
               "Nothing to do yet: mailmonitor keeps retrying."),
        Reason("rate_limited", "Retrying: too many logins", _W,
               "The provider is limiting logins for now.",
               "Nothing to do yet: mailmonitor backs off and retries."),
        Reason("timeout", "Retrying: timed out", _W,
               "The server did not answer in time.",
               "Nothing to do yet: mailmonitor keeps retrying."),
        Reason("network", "Retrying: cannot reach server", _W,
               "The server could not be reached.",
               "Nothing to do yet: mailmonitor keeps retrying."),
        # From the sending engine, never from a check: the sign-in works (sending/limits.py).
        Reason("sending_limit", "Sending limit reached", _W,
               "The provider holds this mailbox's mail for now: its sending limit is reached.",
               "Nothing to do: sending resumes by itself; its leads keep their place."),
    )
}

CREDENTIAL_REASONS = frozenset(
    {"invalid_credentials", "app_password_required", "web_login_required", "token_expired",
     "account_disabled", "auth_method_disabled"}
)


# Reasons set from what real sends showed, never by a connection check (a check that passes
# keeps them: only the rep's Resume sending lifts them).
SENDING_REASONS = frozenset({"high_bounce_rate", "sending_blocked"})


def reason(code: str) -> Reason:
    return REASONS[code]


def advice_for(code: str | None, answer: str = "") -> str:
    """What is wrong and what to do, for a reason and the server's answer that gave it: the
    reason's advice, and when the answer carries the marker of a known provider change (Microsoft's
    `535 5.7.139`, Outlook.com's `550 5.7.515`, …) the change by name with its fix. Every "what to
    do" of a reason goes through here: alerts, the channels, the wizards' failure help."""
    # The provider changes' table is read here, not with this module: `check` reads the
    # reasons' words at start-up and gives advice only for a failure (issue 22: 3.5 ms).
    from mailmonitor.services.common.policies import change_advice

    info = REASONS.get(code or "")
    parts = [info.advice if info is not None else "", change_advice(answer)]
    return " ".join(p for p in parts if p)


def label_for(status: str, reason_code: str | None) -> str:
    """The words shown for an account: the reason's label when there is one."""
    if reason_code and reason_code in REASONS:
        return REASONS[reason_code].label
    try:
        return STATUS_LABELS[Status(status)]
    except ValueError:
        return status


def worse(a: tuple[str, str | None], b: tuple[str, str | None]) -> tuple[str, str | None]:
    """The worse of two (status, reason) results; on a tie the first wins."""
    return b if SEVERITY[Status(b[0])] > SEVERITY[Status(a[0])] else a
