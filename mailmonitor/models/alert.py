"""Alerts: things the rep must know or do. De-duplicated by key, resolved automatically."""

from __future__ import annotations

import peewee as pw

from mailmonitor.clock import utcnow
from mailmonitor.models.account import Account
from mailmonitor.models.base import BaseModel
from mailmonitor.models.campaign import Campaign

SEVERITIES = ("info", "warning", "error")


class Alert(BaseModel):
    key = pw.CharField(index=True)  # de-duplication: one open alert per key
    kind = pw.CharField()  # account_disconnected, campaign_paused, leads_halted, grace_ending, ...
    severity = pw.CharField(default="warning")
    account = pw.ForeignKeyField(Account, null=True, backref="alerts", on_delete="CASCADE")
    campaign = pw.ForeignKeyField(Campaign, null=True, backref="alerts", on_delete="CASCADE")
    title = pw.CharField()
    message = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    resolved_at = pw.DateTimeField(null=True, index=True)
    notified = pw.BooleanField(default=False)  # the tray/notification layer has shown it


class AlertSeen(BaseModel):
    """On a team database: the alerts whose notification a member's tray has shown (each
    member's tray shows its own; `Alert.notified` says only that some tray did)."""

    member = pw.CharField()
    alert = pw.ForeignKeyField(Alert, backref="seen_by", on_delete="CASCADE")
    seen_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("member", "alert"), True),)
