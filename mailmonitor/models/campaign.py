"""Campaigns, their sequence steps and their sending mailboxes (inbox rotation)."""

from __future__ import annotations

import peewee as pw

from mailmonitor.clock import utcnow
from mailmonitor.models.account import Account
from mailmonitor.models.base import BaseModel, JSONField
from mailmonitor.models.states import CampaignStatus, PauseReason
from mailmonitor.models.team import this_member

PAUSE_USER = PauseReason.USER
PAUSE_NO_MAILBOX = PauseReason.NO_MAILBOX
PAUSE_ERROR = PauseReason.ERROR  # an unexpected error while sending it: the others keep sending
# How each pause reads after "Paused" (window, wizard).
PAUSE_WORDS: dict[str, str] = {PAUSE_USER: " by you", PAUSE_NO_MAILBOX: ": no mailbox can send",
               PAUSE_ERROR: " after an error (see Alerts)"}


class Campaign(BaseModel):
    name = pw.CharField(unique=True)
    status = pw.CharField(default=CampaignStatus.DRAFT, index=True)
    pause_reason = pw.CharField(null=True)
    paused_at = pw.DateTimeField(null=True)
    pause_detail = pw.TextField(null=True)  # what went wrong, for a pause after an error
    # Sending window: None = always; else
    # {"days": [0..6], "start": "09:00", "end": "17:00", "tz": "Europe/Berlin"}
    window = JSONField(null=True)
    auto_resume = pw.BooleanField(default=True)  # resume after reconnect when mailmonitor paused it
    auto_reallocate_minutes = pw.IntegerField(null=True)  # None = off
    owner = pw.CharField(default=this_member, index=True)  # the member who created it; editable
    created_at = pw.DateTimeField(default=utcnow)


class Step(BaseModel):
    campaign = pw.ForeignKeyField(Campaign, backref="steps", on_delete="CASCADE")
    position = pw.IntegerField()  # 0-based
    subject = pw.TextField()
    body = pw.TextField()
    delay_days = pw.FloatField(default=0)

    class Meta:
        indexes = ((("campaign", "position"), True),)


class CampaignMailbox(BaseModel):
    """An account sending for a campaign. `active` is False while it is detached (two-step
    disconnect) or after it left the campaign; the row stays so the grace period can restore it."""

    campaign = pw.ForeignKeyField(Campaign, backref="mailboxes", on_delete="CASCADE")
    account = pw.ForeignKeyField(Account, backref="campaign_links", on_delete="CASCADE")
    active = pw.BooleanField(default=True)
    added_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("campaign", "account"), True),)
