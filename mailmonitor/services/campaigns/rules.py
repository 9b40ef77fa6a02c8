"""What a mailbox's status does to campaigns and leads (spec §4.1–§4.4).

Every rule is one named function; `apply_account_status` is the single entry point the monitor,
the sender and the reconnect flow call after an account's status changed.
"""

from __future__ import annotations

from datetime import datetime

from mailmonitor.events import CAMPAIGN_CHANGED, LEADS_CHANGED, bus
from mailmonitor.models import Account, Alert, Campaign, CampaignMailbox, Lead, db, get_setting
from mailmonitor.models.states import BROKEN_STATUSES as BROKEN_STATUSES  # re-exported
from mailmonitor.models.states import (
    FINAL_STATES,
    RUNNING_CAMPAIGN_STATUSES,
    SENDABLE_STATES,
    CampaignStatus,
    LeadState,
    PauseReason,
    Status,
)
from mailmonitor.services.alerts import registry as alerts
from mailmonitor.services.common.reasons import SENDING_REASONS, label_for
from mailmonitor.wording import count, verb


class CampaignError(Exception):
    """A campaign action that cannot be done, with a message for the rep."""


def is_usable(account: Account) -> bool:
    """A mailbox counts for a campaign unless the rep must act on it. `warning` (retrying) and
    `offline` are temporary: sends wait, but the campaign is not paused for them."""
    return account.removed_at is None and account.status not in BROKEN_STATUSES


def campaign_accounts(campaign: Campaign) -> list[Account]:
    """The campaign's current sending mailboxes (inbox rotation), in the order they were added."""
    return list(
        Account.select()
        .join(CampaignMailbox)
        .where((CampaignMailbox.campaign == campaign) & CampaignMailbox.active)
        .order_by(CampaignMailbox.id)
    )


def campaigns_of(account: Account) -> list[Campaign]:
    return list(
        Campaign.select()
        .join(CampaignMailbox)
        .where((CampaignMailbox.account == account) & CampaignMailbox.active)
        .order_by(Campaign.id)
    )


def usable_mailboxes(campaign: Campaign) -> list[Account]:
    return [a for a in campaign_accounts(campaign) if is_usable(a)]


def halt_leads_of(account: Account, now: datetime) -> int:
    """§4.1: leads of a mailbox that cannot send get no email. Nothing is skipped: the cursor
    and due time stay exactly as they are."""
    count = (
        Lead.update(state=LeadState.HALTED, updated_at=now)
        .where((Lead.mailbox == account) & Lead.state.in_(SENDABLE_STATES))
        .execute()
    )
    return int(count)


def resume_leads_of(account: Account, now: datetime) -> int:
    """§4.4: halted leads continue from their cursor. Pacing of the backlog is the sending
    engine's job (minimum gap per mailbox), so nothing here makes them all due at once."""
    with db.atomic():
        to_active = (
            Lead.update(state=LeadState.ACTIVE, updated_at=now)
            .where((Lead.mailbox == account) & (Lead.state == LeadState.HALTED)
                   & (Lead.cursor > 0))
            .execute()
        )
        to_pending = (
            Lead.update(state=LeadState.PENDING, updated_at=now)
            .where((Lead.mailbox == account) & (Lead.state == LeadState.HALTED)
                   & (Lead.cursor == 0))
            .execute()
        )
    return int(to_active) + int(to_pending)


def set_campaign_status(campaign: Campaign, status: CampaignStatus, now: datetime,
                        pause_reason: PauseReason | None = None) -> None:
    """Write a campaign's status. Leaving mailmonitor's pause (for any status but that pause)
    resolves its "campaign paused" alert; listeners hear of the change."""
    campaign.status, campaign.pause_reason = status, pause_reason
    campaign.paused_at = now if status == CampaignStatus.PAUSED else None
    campaign.save()
    if pause_reason != PauseReason.NO_MAILBOX:
        alerts.resolve_alert(alerts.campaign_key(campaign, "paused"), now)
    if pause_reason != PauseReason.ERROR:
        alerts.resolve_alert(alerts.campaign_key(campaign, "error"), now)
    bus.emit(CAMPAIGN_CHANGED, campaign.id)


def pause_campaign(campaign: Campaign, now: datetime,
                   reason: PauseReason = PauseReason.USER) -> None:
    if campaign.status not in RUNNING_CAMPAIGN_STATUSES:
        raise CampaignError(f"Campaign {campaign.name!r} is {campaign.status}; only an active "
                            "campaign can be paused.")
    if campaign.status == CampaignStatus.PAUSED and campaign.pause_reason == PauseReason.USER:
        return
    set_campaign_status(campaign, CampaignStatus.PAUSED, now, reason)


def pause_after_error(campaign_id: int, error: str, now: datetime) -> bool:
    """An unexpected error while sending one campaign pauses that campaign, with an alert, so
    the sending loop and every other campaign go on. Its leads keep their place; the rep
    resumes it. Returns False when it was not active (nothing to pause)."""
    campaign = Campaign.get_or_none(Campaign.id == campaign_id)
    if campaign is None or campaign.status != "active":
        return False
    set_campaign_status(campaign, CampaignStatus.PAUSED, now, PauseReason.ERROR)
    alerts.raise_alert(
        alerts.campaign_key(campaign, "error"), "campaign_error",
        f"Campaign “{campaign.name}” paused after an unexpected error",
        f"Sending it failed in a way mailmonitor did not expect ({error[:300]}), so it was "
        "paused and the other campaigns keep sending. Its leads keep their place. Resume it "
        "to try again; if it happens again, send the log (Help → Open log folder) to support.",
        now, severity="error", campaign=campaign,
    )
    return True


def resume_campaign(campaign: Campaign, now: datetime) -> bool:
    """The rep resumes (or starts) a campaign. Returns False when it had to stay paused because
    none of its mailboxes can send (it is then paused with reason no_active_mailbox)."""
    if campaign.status == CampaignStatus.COMPLETED:
        raise CampaignError(f"Campaign {campaign.name!r} is completed.")
    if not campaign_accounts(campaign):
        raise CampaignError(f"Campaign {campaign.name!r} has no mailbox: add one first.")
    set_campaign_status(campaign, CampaignStatus.ACTIVE, now)
    return not auto_pause_if_no_mailbox(campaign, now)


def auto_pause_if_no_mailbox(campaign: Campaign, now: datetime) -> bool:
    """§4.2: an active campaign with no usable mailbox left is paused (no_active_mailbox)."""
    if campaign.status != CampaignStatus.ACTIVE or usable_mailboxes(campaign):
        return False
    set_campaign_status(campaign, CampaignStatus.PAUSED, now, PauseReason.NO_MAILBOX)
    broken = ", ".join(a.email for a in campaign_accounts(campaign)) or "none"
    alerts.raise_alert(
        alerts.campaign_key(campaign, "paused"), "campaign_paused",
        f"Campaign “{campaign.name}” paused: no mailbox can send",
        f"Mailboxes: {broken}. Reconnect one, or add a connected mailbox to the campaign; it "
        "resumes where it left off.",
        now, severity="error", campaign=campaign,
    )
    return True


def auto_resume_if_possible(campaign: Campaign, now: datetime) -> bool:
    """§4.4: campaigns mailmonitor paused come back when a mailbox can send again (setting
    "resume automatically after reconnect"). A campaign the rep paused is never resumed here."""
    if (campaign.status != CampaignStatus.PAUSED
            or campaign.pause_reason != PauseReason.NO_MAILBOX):
        return False
    if not (get_setting("auto_resume") and campaign.auto_resume):
        return False
    if not usable_mailboxes(campaign):
        return False
    set_campaign_status(campaign, CampaignStatus.ACTIVE, now)
    return True


def complete_finished_campaigns(now: datetime) -> list[int]:
    """A campaign whose every lead is finished (completed, replied, bounced or stopped) is
    `completed`; one still in draft or without leads is left alone. Returns their ids."""
    open_leads = Lead.select(Lead.campaign).where(Lead.state.not_in(FINAL_STATES))
    with_leads = Lead.select(Lead.campaign)
    done = list(Campaign.select().where(
        Campaign.status.in_(RUNNING_CAMPAIGN_STATUSES) & Campaign.id.in_(with_leads)
        & Campaign.id.not_in(open_leads)))
    for campaign in done:
        set_campaign_status(campaign, CampaignStatus.COMPLETED, now)
    return [c.id for c in done]


def waiting_leads_count(campaign: Campaign, account: Account) -> int:
    return int(
        Lead.select()
        .where((Lead.campaign == campaign) & (Lead.mailbox == account)
               & (Lead.state == LeadState.HALTED))
        .count()
    )


def refresh_halted_alert(campaign: Campaign, account: Account, now: datetime) -> None:
    """The "leads are waiting for this mailbox" alert of one campaign: raised or updated with the
    current count, resolved once no lead waits (reconnected, re-allocated or stopped)."""
    key = alerts.campaign_key(campaign, f"halted:{account.id}")
    waiting = waiting_leads_count(campaign, account)
    if not waiting:
        alerts.resolve_alert(key, now)
        return
    alerts.raise_alert(
        key, "leads_halted",
        f"{count(waiting, 'lead')} of “{campaign.name}” {verb(waiting, 'is', 'are')} waiting "
        f"for {account.email}",
        "They keep their place in the sequence. Reconnect the mailbox or "
        "re-allocate them to the campaign's other mailboxes.",
        now, severity="warning", account=account, campaign=campaign,
    )


def refresh_halted_alerts(campaign: Campaign, now: datetime) -> None:
    """Bring every open "leads are waiting" alert of the campaign up to date."""
    open_ones = Alert.select().where(
        (Alert.campaign == campaign) & (Alert.kind == "leads_halted") & Alert.resolved_at.is_null()
    )
    for alert in list(open_ones):
        refresh_halted_alert(campaign, alert.account, now)


def apply_account_status(account: Account, old_status: str | None, now: datetime) -> None:
    """Run every campaign rule that follows from the account's (already saved) status."""
    new_status = account.status
    campaigns = campaigns_of(account)
    if new_status in BROKEN_STATUSES:
        with db.atomic():
            # A "connected again" note from an earlier recovery is no longer true.
            alerts.resolve_alert(alerts.account_key(account, "reconnected"), now)
            halted = halt_leads_of(account, now)
            for campaign in campaigns:
                auto_pause_if_no_mailbox(campaign, now)
                refresh_halted_alert(campaign, account, now)
        if new_status == Status.DISCONNECTED:
            what = "stopped sending" if account.reason in SENDING_REASONS else "is disconnected"
            alerts.raise_alert(
                alerts.account_key(account, "disconnected"), "account_disconnected",
                f"{account.email} {what}: {label_for(account.status, account.reason)}",
                account.detail or "", now, severity="error", account=account,
            )
        if halted:
            for campaign in campaigns:
                bus.emit(LEADS_CHANGED, campaign.id)
    elif new_status == Status.CONNECTED:
        with db.atomic():
            resumed = resume_leads_of(account, now)
            for campaign in campaigns:
                auto_resume_if_possible(campaign, now)
                alerts.resolve_alert(alerts.campaign_key(campaign, f"halted:{account.id}"), now)
            # Also after disconnected → warning → connected: its leads waited until now.
            was_broken = old_status in BROKEN_STATUSES or resumed > 0
            alerts.resolve_account_alerts(
                account, now, kinds=("account_disconnected", "account_reminder", "leads_halted",
                                     "leads_stopping", "sending_limit"))
            if was_broken:
                alerts.raise_alert(
                    alerts.account_key(account, "reconnected"), "reconnected",
                    f"{account.email} is connected again",
                    f"{count(resumed, 'waiting lead')} "
                    f"{verb(resumed, 'continues', 'continue')} where they left off.",
                    now, severity="info", account=account,
                )
        if resumed:
            for campaign in campaigns:
                bus.emit(LEADS_CHANGED, campaign.id)
