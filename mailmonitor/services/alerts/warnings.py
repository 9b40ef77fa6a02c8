"""What is known ahead about a mailbox that still works, as the attention model reads it: when a
Google or Microsoft sign-in ends (Google apps in "testing": 7 days; Microsoft: 90 days without
use), when a password is due for the rotation the rep set; and the rep's clock for the words.
The conditions themselves are derived in ``attention``; the stop's warning is campaign state
(``campaigns.stop_warnings``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailmonitor.models import Account, get_setting


def rep_time(value: datetime) -> str:
    """A naive-UTC moment in the rep's time zone (this computer's), e.g. "Tue 03 Dec 14:05 CET"."""
    local = value.replace(tzinfo=UTC).astimezone()
    return local.strftime("%a %d %b %H:%M %Z").strip()


def rep_clock(value: datetime) -> str:
    """HH:MM in the rep's time zone."""
    return value.replace(tzinfo=UTC).astimezone().strftime("%H:%M")


GOOGLE_TESTING_DAYS = 7  # refresh tokens of apps whose consent screen is in "Testing"
MICROSOFT_INACTIVITY_DAYS = 90  # refresh tokens unused this long die
SIGN_IN_WARNING = timedelta(days=1)  # how early an ending sign-in is announced
PASSWORD_WARNING = timedelta(days=3)


def _google_testing() -> bool:
    """The team's Google client is in "Testing" status (setting, or MAILMONITOR_GOOGLE_APP_TESTING
    =1): its sign-ins end after 7 days."""
    import os

    env = os.environ.get("MAILMONITOR_GOOGLE_APP_TESTING", "").strip().lower()
    return env in ("1", "yes", "true") or bool(get_setting("google_app_testing"))


def sign_in_ends_at(account: Account) -> tuple[datetime, str] | None:
    """When an OAuth sign-in is known to end, and why (None: no known lifetime)."""
    signed_in = account.secret_set_at or account.created_at
    if not account.is_oauth or signed_in is None:
        return None
    if account.kind == "gmail" and _google_testing():
        return (signed_in + timedelta(days=GOOGLE_TESTING_DAYS),
                "Google ends sign-ins of apps in \u201cTesting\u201d status after 7 days")
    if account.kind == "microsoft":
        used = max(v for v in (signed_in, account.checked_at) if v is not None)
        return (used + timedelta(days=MICROSOFT_INACTIVITY_DAYS),
                "Microsoft ends sign-ins that are not used for 90 days")
    return None


def default_rotation_days() -> int | None:
    """The team-wide reminder period (setting `password_rotation_days`; None = no reminder)."""
    value = get_setting("password_rotation_days")
    return int(value) if value else None


def rotation_days(account: Account) -> int | None:
    """How often this mailbox's password should change: its own period, else the team-wide
    default (None: no reminder). OAuth mailboxes have no password and never get one."""
    if account.is_oauth:
        return None
    own = account.password_rotation_days
    return int(own) if own else default_rotation_days()


def password_due(account: Account) -> datetime | None:
    """When the password is due for its change: the clock starts when it was last stored (a
    reconnect or an edit with a new one resets it), else when the mailbox was added."""
    days = rotation_days(account)
    changed: datetime | None = account.secret_set_at or account.created_at
    if not days or changed is None:
        return None
    return changed + timedelta(days=int(days))
