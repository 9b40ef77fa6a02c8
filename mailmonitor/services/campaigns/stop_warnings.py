"""The warning before leads are stopped for good (spec §4.6, §5), as state.

Leads that received an email from a mailbox become Campaign Stopped — irreversibly — 9 days after
it disconnected (setting) or when the grace period of a two-step disconnect ends (1 hour,
setting). `stop_warning_hours` (24) before that, the stop's warning period begins
(`Account.stop_warned_at`); the attention model turns it into the "leads will be stopped at …
unless you reconnect" condition, which every alert channel carries. The stop itself waits until
the warning has *reached the rep* (`stop_notice_at`: a channel delivered it, or none carries it
and the window's alert is the delivery) and a full warning period has passed since: a rep whose
computer was closed past the deadline is warned at start and gets the whole period; it is never
announced and done in the same moment. A grace period shorter than the warning period is warned
about at its start, and the period is the grace period itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from mailmonitor.models import Account, Lead, SendRecord, get_setting
from mailmonitor.models.lead import FINAL_STATES
from mailmonitor.services.common.reasons import Status


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


def start_stop_warnings(now: datetime) -> int:
    """Begin the warning period of every account whose stop is within it (or past, when the app
    was closed) and has leads at risk. Returns how many began. The warning has not reached the
    rep yet: whoever tells the rep (a channel's delivery, or the window when no channel carries
    it) marks `stop_notice_at` (`mark_stop_notice`)."""
    started = 0
    candidates = Account.select().where(
        Account.stop_warned_at.is_null() & Account.removed_at.is_null()
        & (Account.detached_at.is_null(False) | (Account.status == Status.DISCONNECTED.value)))
    for account in candidates:
        window = stop_deadline(account)
        if window is None:
            continue
        start, deadline = window
        if now < deadline - warning_period(start, deadline):
            continue
        if not leads_at_risk(account):
            continue  # nothing irreversible happens: the others are simply re-allocated
        Account.update(stop_warned_at=now, stop_notice_at=None).where(
            Account.id == account.id).execute()
        started += 1
    return started


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


def effective_stop_at(account: Account) -> datetime | None:
    """When the stop will happen as things stand (None: no stop threatens). A warning still on
    its way counts as delivered when it began: what the rep is told stays put while a channel
    retries (a deadline moving every round would be a new message every round); once it is
    delivered, the deadline is the delivery's, which the stop never comes before."""
    window = stop_deadline(account)
    if window is None:
        return None
    start, deadline = window
    if account.stop_warned_at is None:
        return deadline
    notice: datetime = account.stop_notice_at or account.stop_warned_at
    return max(deadline, notice + warning_period(start, deadline))


def clear_stop_warning(account: Account) -> None:
    """The threat is over (reconnected) or starts anew (a new disconnection)."""
    account.stop_warned_at = account.stop_notice_at = None


def mark_stop_notice(account_ids: list[int], now: datetime) -> None:
    """The warnings of these accounts reached the rep now (first delivery wins)."""
    if account_ids:
        Account.update(stop_notice_at=now).where(
            Account.id.in_(account_ids) & Account.stop_warned_at.is_null(False)
            & Account.stop_notice_at.is_null()).execute()
