"""What a mailbox's status does to campaigns and leads (spec §4.1–§4.4).

Every rule is one named function; `apply_account_status` is the single entry point the monitor,
the sender and the reconnect flow call after an account's status changed.
"""

from __future__ import annotations

from datetime import datetime

from mailmonitor.events import CAMPAIGN_CHANGED, LEADS_CHANGED, bus
from mailmonitor.models import Account, Campaign, CampaignMailbox, Lead, db, get_setting
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
                        pause_reason: PauseReason | None = None, detail: str | None = None
                        ) -> None:
    """Write a campaign's status (and, for a pause after an error, what went wrong); listeners
    hear of the change. What the rep is told follows from it (the attention model)."""
    campaign.status, campaign.pause_reason = status, pause_reason
    campaign.paused_at = now if status == CampaignStatus.PAUSED else None
    campaign.pause_detail = detail if pause_reason == PauseReason.ERROR else None
    campaign.save()
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
    """An unexpected error while sending one campaign pauses that campaign (the rep is told
    what went wrong), so the sending loop and every other campaign go on. Its leads keep their
    place; the rep resumes it. Returns False when it was not active (nothing to pause)."""
    campaign = Campaign.get_or_none(Campaign.id == campaign_id)
    if campaign is None or campaign.status != "active":
        return False
    set_campaign_status(campaign, CampaignStatus.PAUSED, now, PauseReason.ERROR, error[:300])
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


def apply_account_status(account: Account, old_status: str | None, now: datetime) -> None:
    """Run every campaign rule that follows from the account's (already saved) status."""
    new_status = account.status
    campaigns = campaigns_of(account)
    if new_status in BROKEN_STATUSES:
        with db.atomic():
            halted = halt_leads_of(account, now)
            for campaign in campaigns:
                auto_pause_if_no_mailbox(campaign, now)
        if halted:
            for campaign in campaigns:
                bus.emit(LEADS_CHANGED, campaign.id)
    elif new_status == Status.CONNECTED:
        with db.atomic():
            resumed = resume_leads_of(account, now)
            for campaign in campaigns:
                auto_resume_if_possible(campaign, now)
        if resumed:
            for campaign in campaigns:
                bus.emit(LEADS_CHANGED, campaign.id)
