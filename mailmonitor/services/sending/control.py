"""Pause all sending / Resume from the tray menu. Only the campaigns this paused are resumed,
so a campaign the rep paused on purpose stays paused."""

from __future__ import annotations

from datetime import datetime

from mailmonitor.models import Campaign
from mailmonitor.models.states import CampaignStatus, PauseReason
from mailmonitor.services.campaigns.rules import CampaignError, pause_campaign, resume_campaign


def pause_all_sending(now: datetime) -> list[int]:
    """Pause every active campaign (as the rep). Returns their ids, for `resume_sending`."""
    paused = []
    active = Campaign.select().where(Campaign.status == CampaignStatus.ACTIVE)
    for campaign in active.order_by(Campaign.id):
        pause_campaign(campaign, now, PauseReason.USER)
        paused.append(campaign.id)
    return paused


def resume_sending(campaign_ids: list[int], now: datetime) -> int:
    """Resume the campaigns `pause_all_sending` paused (unless the rep resumed them already).
    Returns how many run again."""
    running = 0
    for campaign in Campaign.select().where(Campaign.id.in_(campaign_ids)):
        if (campaign.status != CampaignStatus.PAUSED
                or campaign.pause_reason != PauseReason.USER):
            continue
        try:
            if resume_campaign(campaign, now):
                running += 1
        except CampaignError:
            continue
    return running
