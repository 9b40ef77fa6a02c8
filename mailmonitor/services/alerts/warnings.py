"""Warnings before something breaks or is lost for good (no Qt, no network).

**Before leads are stopped** (spec §4.6, §5): leads that received an email from a mailbox become
Campaign Stopped — irreversibly — 9 days after it disconnected (setting) or when the grace period
of a two-step disconnect ends (1 hour, setting). `stop_warning_hours` (24) before that, a "leads
will be stopped at … unless you reconnect" alert is raised; every alert channel carries it. The
stop itself waits until the warning has *reached the rep* (a channel delivered it, or none is set
up for it: the window's alert is then the delivery) and a full warning period has passed since:
a rep whose computer was closed past the deadline is warned at start and gets the whole period,
it is never announced and done in the same moment. A grace period shorter than the warning
period is warned about at its start, and the period is the grace period itself.

**While still connected**: an OAuth sign-in nearing a known lifetime (Google apps in "testing":
7 days; Microsoft: 90 days without use), a password unchanged for the rotation period the rep set.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailmonitor.models import Account, Lead, NotifyChannel, SendRecord, db, get_setting
from mailmonitor.models.lead import FINAL_STATES
from mailmonitor.services.alerts import registry as alerts
from mailmonitor.services.alerts.subscriptions import STOP_WARNING_KIND, channels_for_kind
from mailmonitor.services.common.reasons import Status

STOP_WARNING_CAUSE = "stop_warning"


def rep_time(value: datetime) -> str:
    """A naive-UTC moment in the rep's time zone (this computer's), e.g. "Tue 03 Dec 14:05 CET"."""
    local = value.replace(tzinfo=UTC).astimezone()
    return local.strftime("%a %d %b %H:%M %Z").strip()


def rep_clock(value: datetime) -> str:
    """HH:MM in the rep's time zone."""
    return value.replace(tzinfo=UTC).astimezone().strftime("%H:%M")


def warning_hours() -> timedelta:
    return timedelta(hours=float(get_setting("stop_warning_hours")))


def stop_deadline(account: Account) -> tuple[datetime, datetime] | None:
    """(start, deadline) of the stop that threatens this account's contacted leads, if any."""
    if account.removed_at is not None:
        return None
    if account.detached_at is not None and not account.grace_expired \
            and account.grace_until is not None:
        return account.detached_at, account.grace_until
    if account.status == Status.DISCONNECTED.value and account.disconnected_since is not None \
            and not account.long_wait_applied:
        days = float(get_setting("long_wait_days"))
        return account.disconnected_since, account.disconnected_since + timedelta(days=days)
    return None


def warning_period(start: datetime, deadline: datetime) -> timedelta:
    return max(timedelta(0), min(warning_hours(), deadline - start))


def leads_at_risk(account: Account) -> int:
    """Leads of this mailbox that already received its email: the ones a stop ends for good."""
    contacted = SendRecord.select(SendRecord.lead).where(
        (SendRecord.account == account) & SendRecord.state.in_(("sent", "sending", "unknown")))
    return int(Lead.select().where(
        (Lead.mailbox == account) & Lead.state.not_in(FINAL_STATES)
        & Lead.id.in_(contacted)).count())


def _channels_carry_stop_warnings() -> bool:
    return bool(channels_for_kind(STOP_WARNING_KIND))


def raise_stop_warnings(now: datetime) -> int:
    """Raise the warning for every account whose stop is within the warning period (or past,
    when the app was closed). Returns how many were raised."""
    raised = 0
    candidates = Account.select().where(
        Account.stop_warned_at.is_null() & Account.removed_at.is_null()
        & (Account.detached_at.is_null(False) | (Account.status == Status.DISCONNECTED.value)))
    for account in candidates:
        window = stop_deadline(account)
        if window is None:
            continue
        start, deadline = window
        period = warning_period(start, deadline)
        if now < deadline - period:
            continue
        at_risk = leads_at_risk(account)
        if not at_risk:
            continue  # nothing irreversible happens: the others are simply re-allocated
        stop_at = max(deadline, now + period)
        with db.atomic():
            alerts.raise_alert(
                alerts.account_key(account, STOP_WARNING_CAUSE), STOP_WARNING_KIND,
                f"{at_risk} leads of {account.email} will be stopped at {rep_time(stop_at)} "
                "unless you reconnect",
                "They already received email from this mailbox, so their follow-ups can only "
                "come from it. At that time they are set to Campaign Stopped for good; its other "
                "leads move to the campaigns' other mailboxes. Reconnect it to keep them all.",
                now, severity="error", account=account,
            )
            account.stop_warned_at = now
            # With no channel to carry it, the window's alert is the delivery.
            account.stop_notice_at = None if _channels_carry_stop_warnings() else now
            Account.update(stop_warned_at=account.stop_warned_at,
                           stop_notice_at=account.stop_notice_at).where(
                Account.id == account.id).execute()
        raised += 1
    return raised


def stop_allowed(account: Account, now: datetime) -> bool:
    """May the irreversible stop happen now? Only past the deadline, and only a full warning
    period after the warning reached the rep (nothing at risk: no warning needed)."""
    window = stop_deadline(account)
    if window is None:
        return True
    start, deadline = window
    if now < deadline:
        return False
    if not leads_at_risk(account):
        return True
    if account.stop_notice_at is None:
        return False
    return bool(now >= account.stop_notice_at + warning_period(start, deadline))


def effective_stop_at(account: Account, now: datetime) -> datetime | None:
    """When the stop will happen as things stand (None: no stop threatens). A warning still on
    its way counts as delivered now."""
    window = stop_deadline(account)
    if window is None:
        return None
    start, deadline = window
    if account.stop_warned_at is None:
        return deadline
    notice = account.stop_notice_at or now
    return max(deadline, notice + warning_period(start, deadline))


def clear_stop_warning(account: Account, now: datetime) -> None:
    """The threat is over (reconnected) or starts anew (a new disconnection)."""
    account.stop_warned_at = account.stop_notice_at = None
    alerts.resolve_alert(alerts.account_key(account, STOP_WARNING_CAUSE), now)


def mark_stop_notice(account_ids: list[int], now: datetime) -> None:
    """The warnings of these accounts reached the rep now (first delivery wins)."""
    if account_ids:
        Account.update(stop_notice_at=now).where(
            Account.id.in_(account_ids) & Account.stop_warned_at.is_null(False)
            & Account.stop_notice_at.is_null()).execute()


# --- proactive warnings while connected ------------------------------------------------------

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


def raise_proactive_warnings(now: datetime) -> int:
    """Sign-ins about to end and passwords due for rotation, for connected mailboxes."""
    raised = 0
    for account in Account.select().where(
            (Account.status == Status.CONNECTED.value) & Account.removed_at.is_null()):
        raised += _sign_in_warning(account, now) + _password_warning(account, now)
    return raised


def _sign_in_warning(account: Account, now: datetime) -> int:
    key = alerts.account_key(account, "sign_in_expiring")
    ends = sign_in_ends_at(account)
    if ends is None or now < ends[0] - SIGN_IN_WARNING:
        alerts.resolve_alert(key, now)
        return 0
    when, why = ends
    alerts.raise_alert(
        key, "sign_in_expiring",
        f"The sign-in of {account.email} ends at {rep_time(when)}",
        f"{why}. Sign in again with Reconnect before then and nothing stops; campaigns keep "
        "their place either way.", now, severity="warning", account=account)
    return 1


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


def review_password_warning(account_id: int, now: datetime) -> int:
    """Re-evaluate one mailbox's password reminder at once (after its period or its password
    changed) instead of at the next housekeeping run; the same rule as that run."""
    account = Account.get_or_none(Account.id == account_id)
    if account is None or account.removed_at is not None \
            or account.status != Status.CONNECTED.value:
        return 0  # housekeeping only warns connected mailboxes; it picks this one up later
    return _password_warning(account, now)


def _password_warning(account: Account, now: datetime) -> int:
    key = alerts.account_key(account, "password_rotation")
    days = rotation_days(account)
    # The clock starts when the password was last stored (a reconnect or an edit with a new
    # one resets it), else when the mailbox was added.
    changed = account.secret_set_at or account.created_at
    if account.is_oauth or not days or changed is None:
        alerts.resolve_alert(key, now)
        return 0
    due = changed + timedelta(days=int(days))
    if now < due - PASSWORD_WARNING:
        alerts.resolve_alert(key, now)
        return 0
    alerts.raise_alert(
        key, "password_rotation",
        f"The password of {account.email} is due for a change on {rep_time(due)}",
        f"You asked to be reminded every {days} days. Change it at the provider, then "
        "Reconnect with the new one: campaigns keep their place.",
        now, severity="warning", account=account)
    return 1


def channels_exist() -> bool:
    return bool(NotifyChannel.select().where(NotifyChannel.enabled).exists())
