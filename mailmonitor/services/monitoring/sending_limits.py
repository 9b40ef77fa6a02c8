"""A provider's sending quota, as its own status: "Sending limit reached — resumes at HH:MM".

Providers answer a mailbox that sent too much with codes that mean "not now, later": Gmail
`550 5.4.5 Daily user sending limit exceeded` (a rolling 24 hours), Microsoft 365
`5.2.121`/`5.2.122` (hourly recipient/sender rate), `5.1.90` (daily recipient limit) and
`5.7.708` (outbound traffic held for the day). Such an answer is not a broken mailbox: it
signs in fine. mailmonitor shows it as `warning` with reason `sending_limit` (leads wait, the
campaign is not paused), stops sending from it until the resume time, then returns it to
`connected` by itself. The time is shown in the rep's time zone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from mailmonitor.models import Account
from mailmonitor.services.alerts import registry as alerts
from mailmonitor.services.common.reasons import Status
from mailmonitor.services.monitoring.account_state import update_status

REASON = "sending_limit"
ALERT_KIND = "sending_limit"

# (pattern, how long the provider holds the mailbox's mail)
_QUOTAS: tuple[tuple[re.Pattern[str], timedelta], ...] = (
    (re.compile(r"\b5\.4\.5\b|daily user sending (?:quota|limit)", re.I), timedelta(hours=24)),
    (re.compile(r"\b5\.1\.90\b|daily (?:recipient|sending) limit", re.I), timedelta(hours=24)),
    (re.compile(r"\b5\.7\.708\b", re.I), timedelta(hours=24)),
    (re.compile(r"\b5\.2\.12[12]\b|(?:per[- ]hour|hourly) .*limit", re.I), timedelta(hours=1)),
    (re.compile(r"\b4\.7\.28\b|sending (?:quota|limit)|quota exceeded|rate limit(?:ed)?", re.I),
     timedelta(hours=1)),
)


def quota_wait(answer: str) -> timedelta | None:
    """How long the server's answer holds this mailbox's mail; None: it is no quota answer."""
    for pattern, wait in _QUOTAS:
        if pattern.search(answer or ""):
            return wait
    return None


def resume_words(until: datetime) -> str:
    """"Sending limit reached — resumes at HH:MM" in the rep's time zone (Settings)."""
    from mailmonitor.services.common.rep_day import rep_zone

    local = until.replace(tzinfo=UTC).astimezone(rep_zone())
    return f"Sending limit reached — resumes at {local:%H:%M}"


def status_words(account: Account, label: str) -> str:
    """The words for an account's status: the label, or the limit with its resume time."""
    if account.reason == REASON and account.send_limit_until is not None:
        return resume_words(account.send_limit_until)
    return label


def apply_sending_limit(account: Account, answer: str, now: datetime) -> datetime | None:
    """The server refused this mailbox's mail for quota: hold it until the resume time.
    Returns that time, or None when the answer is no quota answer."""
    wait = quota_wait(answer)
    if wait is None:
        return None
    until = now + wait
    words = resume_words(until)
    account = Account.get_by_id(account.id)
    Account.update(send_limit_until=until).where(Account.id == account.id).execute()
    account.send_limit_until = until
    update_status(account, Status.WARNING.value, REASON, f"{words}. The server said: {answer}",
                  now)
    alerts.raise_alert(
        alerts.account_key(account, ALERT_KIND), ALERT_KIND, f"{account.email}: {words}",
        f"The provider limits how much one mailbox may send ({answer}). Its leads keep their "
        "place and continue then; other mailboxes keep sending.", now, severity="warning",
        account=account)
    return until


def release_sending_limits(now: datetime) -> int:
    """Mailboxes whose hold is over send again (their sign-in was fine all along)."""
    released = 0
    for account in Account.select().where(
            (Account.reason == REASON) & Account.send_limit_until.is_null(False)
            & (Account.send_limit_until <= now) & Account.removed_at.is_null()):
        update_status(account, Status.CONNECTED.value, None, "Sending limit over", now)
        alerts.resolve_alert(alerts.account_key(account, ALERT_KIND), now)
        released += 1
    return released


def holding(account: Account, now: datetime) -> bool:
    """Is the mailbox held by a sending limit (a passing check must not end it early)?"""
    return account.reason == REASON and account.send_limit_until is not None \
        and now < account.send_limit_until
