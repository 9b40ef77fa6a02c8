"""Reconnecting, disconnecting, the grace period and the long wait (spec §4.6, §5).

History (send records, checks) is never deleted by any of these.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

import peewee as pw

from mailmonitor.events import LEADS_CHANGED, bus
from mailmonitor.models import (
    Account,
    Campaign,
    CampaignMailbox,
    Lead,
    SendRecord,
    db,
    get_setting,
)
from mailmonitor.models.account import (
    DEFAULT_CHECK_INTERVAL_SECONDS,
    DEFAULT_DAILY_LIMIT,
    DEFAULT_MIN_GAP_SECONDS,
)
from mailmonitor.models.states import (
    ATTEMPTED_SEND_STATES,
    FINAL_STATES,
    RUNNING_CAMPAIGN_STATUSES,
    CampaignStatus,
    LeadState,
    PauseReason,
    Status,
)
from mailmonitor.services.alerts import registry as alerts
from mailmonitor.services.alerts import warnings
from mailmonitor.services.campaigns.reallocation import apply_reallocation, plan_reallocation
from mailmonitor.services.campaigns.rules import (
    CampaignError,
    auto_pause_if_no_mailbox,
    complete_finished_campaigns,
    refresh_halted_alerts,
)
from mailmonitor.services.common.reasons import label_for
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.services.monitoring.sending_limits import release_sending_limits
from mailmonitor.wording import count, duration_words


def contacted_by(account: Account) -> pw.ModelSelect:
    """Leads that received at least one email from this account."""
    return SendRecord.select(SendRecord.lead).where(
        (SendRecord.account == account) & SendRecord.state.in_(ATTEMPTED_SEND_STATES)
    )


def reconnected(account: Account, now: datetime, detail: str = "") -> None:
    """One-click reconnect (§5) succeeded: new credentials were verified by a real check.

    Everything is kept: settings, campaign membership, leads and cursors. An account that was
    detached by a two-step disconnect is re-attached instead (see `reattach`)."""
    if account.detached_at is not None:
        reattach(account, now)
    account.consecutive_failures = 0
    account.transient_since = None
    account.next_check_at = now + timedelta(seconds=account.check_interval_seconds)
    account.checked_at = now
    update_status(account, Status.CONNECTED, None, detail, now)


def disconnect(account: Account, now: datetime) -> int:
    """Two-step disconnect (§5): the account leaves every campaign's sending mailboxes, stops
    being checked and starts the grace period. Returns the number of leads it had."""
    grace = timedelta(minutes=int(get_setting("grace_period_minutes")))
    with db.atomic():
        campaigns = list(
            Campaign.select().join(CampaignMailbox).where(
                (CampaignMailbox.account == account) & CampaignMailbox.active)
        )
        CampaignMailbox.update(active=False).where(CampaignMailbox.account == account).execute()
        account.detached_at, account.grace_until, account.grace_expired = now, now + grace, False
        account.next_check_at = None
        account.stop_warned_at = account.stop_notice_at = None
        account.save()
        # Halts its leads (by mailbox); the campaigns it just left are paused below, since
        # apply_account_status only sees the ones it is still a member of.
        update_status(account, Status.STOPPED, None, "Disconnected by you", now)
        for campaign in campaigns:
            auto_pause_if_no_mailbox(campaign, now)
        leads = Lead.select().where(
            (Lead.mailbox == account) & Lead.state.not_in(FINAL_STATES)).count()
        alerts.raise_alert(
            alerts.account_key(account, "grace"), "grace_ending",
            f"{account.email} was disconnected: connect it again within "
            f"{duration_words(grace)} to keep its {count(leads, 'lead')}",
            f"Until {now + grace:%H:%M} UTC the same address gets its leads back. After that, "
            "leads it already emailed are stopped for good and the others move to the "
            "campaigns' other mailboxes.",
            now, severity="warning", account=account,
        )
    for campaign in campaigns:
        bus.emit(LEADS_CHANGED, campaign.id)
    # The grace period is shorter than the warning period: the warning goes out now.
    warnings.raise_stop_warnings(now)
    return int(leads)


def reattach(account: Account, now: datetime) -> None:
    """The same address is connected again after a two-step disconnect: its settings start
    fresh; within the grace period it also gets its campaigns and leads back."""
    # Within the grace period, or past it while the stop still waits for its warning.
    within_grace = not account.grace_expired and account.grace_until is not None \
        and (now <= account.grace_until or not warnings.stop_allowed(account, now))
    account.daily_limit = DEFAULT_DAILY_LIMIT
    account.min_gap_seconds = DEFAULT_MIN_GAP_SECONDS
    account.warmup_start = account.warmup_step = account.warmup_started_on = None
    account.check_interval_seconds = DEFAULT_CHECK_INTERVAL_SECONDS
    account.signature = ""
    account.monitoring_enabled = True
    account.detached_at = account.grace_until = None
    if not within_grace:  # §5: from now on only never-emailed leads may be assigned to it
        account.rejoined_at = now
    with db.atomic():
        warnings.clear_stop_warning(account, now)
        account.save()
        if within_grace:
            CampaignMailbox.update(active=True).where(CampaignMailbox.account == account).execute()
        else:
            apply_grace_expiry(account, now)
        alerts.resolve_alert(alerts.account_key(account, "grace"), now)


def stop_contacted_and_release_others(account: Account, now: datetime) -> tuple[int, int]:
    """Leads that received an email from this account become Campaign Stopped (irreversible);
    its other leads move to their campaign's connected mailboxes, or wait unassigned.
    Returns (stopped, released)."""
    with db.atomic():
        stopped = Lead.update(state=LeadState.CAMPAIGN_STOPPED, updated_at=now).where(
            (Lead.mailbox == account)
            & Lead.state.not_in(FINAL_STATES)
            & Lead.id.in_(contacted_by(account))
        ).execute()
        campaigns = list(Campaign.select().where(Campaign.id.in_(
            Lead.select(Lead.campaign).where(
                (Lead.mailbox == account) & Lead.state.not_in(FINAL_STATES))
        )))
        moved = 0
        for campaign in campaigns:
            # Only this account's leads: other broken mailboxes of the campaign keep theirs.
            with contextlib.suppress(CampaignError):
                moved += apply_reallocation(
                    plan_reallocation(campaign, now, sources=[account.id]), now)
        # What no connected mailbox could take waits unassigned; the campaign view says so.
        waiting = Lead.update(mailbox=None, state=LeadState.UNASSIGNED, updated_at=now).where(
            (Lead.mailbox == account) & Lead.state.not_in(FINAL_STATES)
        ).execute()
        for campaign in campaigns:
            refresh_halted_alerts(campaign, now)
    for campaign in campaigns:
        bus.emit(LEADS_CHANGED, campaign.id)
    return int(stopped), moved + int(waiting)


def apply_grace_expiry(account: Account, now: datetime) -> tuple[int, int]:
    if account.grace_expired:
        return 0, 0
    result = stop_contacted_and_release_others(account, now)
    # The memberships the disconnect suspended end here: a later disconnect-and-reconnect must
    # not bring the account back into campaigns it left for good. Send history stays.
    CampaignMailbox.delete().where(
        (CampaignMailbox.account == account) & ~CampaignMailbox.active).execute()
    account.grace_expired = True
    account.save()
    alerts.resolve_alert(alerts.account_key(account, "grace"), now)
    alerts.resolve_alert(alerts.account_key(account, warnings.STOP_WARNING_CAUSE), now)
    if result[0] or result[1]:
        alerts.raise_alert(
            alerts.account_key(account, "grace_over"), "leads_stopped",
            f"Grace period of {account.email} ended",
            f"{result[0]} leads it had emailed were stopped; {result[1]} others were "
            "re-allocated or wait for a mailbox.",
            now, severity="info", account=account,
        )
    return result


def expire_grace_periods(now: datetime) -> int:
    expired = Account.select().where(
        Account.grace_until.is_null(False) & (Account.grace_until < now) & ~Account.grace_expired
        & Account.detached_at.is_null(False)
    )
    count = 0
    for account in expired:
        if not warnings.stop_allowed(account, now):
            continue  # the 24-hour warning has not reached the rep long enough ago
        apply_grace_expiry(account, now)
        count += 1
    return count


def send_reminders(now: datetime) -> int:
    """§4.6: remind about an account that stays disconnected (1, 3, 7 and 8 days after)."""
    offsets = [float(d) for d in get_setting("reminder_days")]
    long_wait = float(get_setting("long_wait_days"))
    sent = 0
    broken = Account.select().where(
        (Account.status == Status.DISCONNECTED) & Account.disconnected_since.is_null(False)
        & Account.removed_at.is_null()
    )
    for account in broken:
        due, since = account.reminders_sent, account.disconnected_since
        while due < len(offsets) and now >= since + timedelta(days=offsets[due]):
            due += 1
        if due == account.reminders_sent:
            continue
        days = offsets[due - 1]
        stop_at = account.disconnected_since + timedelta(days=long_wait)
        at_risk = Lead.select().where(
            (Lead.mailbox == account) & Lead.state.not_in(FINAL_STATES)
            & Lead.id.in_(contacted_by(account))
        ).count()
        with db.atomic():
            for earlier in range(due):
                alerts.resolve_alert(alerts.account_key(account, f"reminder:{earlier}"), now)
            alerts.raise_alert(
                alerts.account_key(account, f"reminder:{due - 1}"), "account_reminder",
                f"{account.email} has been disconnected for "
                f"{duration_words(timedelta(days=days))} "
                f"({label_for(account.status, account.reason)})",
                f"On {stop_at:%Y-%m-%d} its {at_risk} contacted leads will be set to Campaign "
                "Stopped for good. Reconnect it to keep them.",
                now, severity="error" if stop_at - now <= timedelta(days=1) else "warning",
                account=account,
            )
            account.reminders_sent = due
            account.save()
        sent += 1
    return sent


def apply_long_wait(now: datetime) -> int:
    """§4.6: after `long_wait_days`, leads emailed by a still-disconnected account are stopped
    and its other leads are re-allocated or wait unassigned."""
    long_wait = timedelta(days=float(get_setting("long_wait_days")))
    accounts = Account.select().where(
        (Account.status == Status.DISCONNECTED) & ~Account.long_wait_applied
        & Account.disconnected_since.is_null(False)
        & (Account.disconnected_since <= now - long_wait)
    )
    count = 0
    for account in accounts:
        if not warnings.stop_allowed(account, now):
            continue  # the 24-hour warning has not reached the rep long enough ago
        stopped, released = stop_contacted_and_release_others(account, now)
        account.long_wait_applied = True
        account.save()
        alerts.resolve_alert(alerts.account_key(account, warnings.STOP_WARNING_CAUSE), now)
        alerts.raise_alert(
            alerts.account_key(account, "long_wait"), "leads_stopped",
            f"{account.email} stayed disconnected for {duration_words(long_wait)}",
            f"{stopped} leads it had emailed were set to Campaign Stopped; {released} others "
            "were re-allocated or wait for a mailbox.",
            now, severity="error", account=account,
        )
        count += 1
    return count


def auto_reallocate(now: datetime) -> int:
    """Optional per campaign: move leads of a mailbox broken for longer than the wait."""
    moved = 0
    default_wait = get_setting("auto_reallocate_minutes")
    for campaign in Campaign.select().where(Campaign.status.in_(RUNNING_CAMPAIGN_STATUSES)):
        if (campaign.status == CampaignStatus.PAUSED
                and campaign.pause_reason == PauseReason.USER):
            continue
        wait = campaign.auto_reallocate_minutes or default_wait
        if not wait:
            continue
        halted = Lead.select(Lead.mailbox).distinct().where(
            (Lead.campaign == campaign) & (Lead.state == LeadState.HALTED))
        ready = []
        for account in Account.select().where(Account.id.in_(halted)):
            since = _broken_since(account)
            if since is not None and now - since >= timedelta(minutes=int(wait)):
                ready.append(account.id)
        if not ready:
            continue
        try:
            plan = plan_reallocation(campaign, now, sources=ready)
        except CampaignError:
            continue
        if plan.total:
            moved += apply_reallocation(plan, now)
    return moved


def _broken_since(account: Account) -> datetime | None:
    """Since when the mailbox cannot send, for the auto re-allocation wait. None during a two-step
    disconnect's grace period: the same address may still come back for its leads."""
    if account.detached_at is not None and not account.grace_expired:
        return None
    since: datetime | None = account.disconnected_since or account.status_since
    return since


def remove_account(account: Account, now: datetime) -> None:
    """Remove an account from the app. Its history stays (send records, checks); it is treated
    like a disconnect whose grace period is already over."""
    with db.atomic():
        if account.detached_at is None:
            disconnect(account, now)
        apply_grace_expiry(account, now)
        account.removed_at = now
        account.save()
        alerts.resolve_account_alerts(account, now)


def run_housekeeping(now: datetime) -> None:
    """Time-based rules; the monitor calls this every minute, the CLI at start."""
    send_reminders(now)
    warnings.raise_stop_warnings(now)
    warnings.raise_proactive_warnings(now)
    release_sending_limits(now)
    expire_grace_periods(now)
    apply_long_wait(now)
    auto_reallocate(now)
    complete_finished_campaigns(now)
