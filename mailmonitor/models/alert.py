"""Alerts: the conditions that need the rep, as the attention model derived them (one row per
cause while it holds, kept after it resolves as history), the feed of their changes that alert
channels read, and maintenance windows that mute them."""

from __future__ import annotations

import peewee as pw

from mailmonitor.clock import utcnow
from mailmonitor.models.account import Account
from mailmonitor.models.base import BaseModel, JSONField
from mailmonitor.models.campaign import Campaign

SEVERITIES = ("critical", "warning", "info")
CHANGES = ("opened", "changed", "resolved", "reminder")
MAINTENANCE_SCOPES = ("mailbox", "domain", "all")


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
    # What the attention model says of the condition now (services/alerts/attention.py).
    mailboxes = JSONField(default=list)  # the addresses it names
    campaigns = JSONField(default=list)  # the campaign names it affects
    deadline = pw.DateTimeField(null=True)  # something irreversible happens then
    action = pw.CharField(null=True)  # what the main button does: reconnect, reallocate, …
    count = pw.IntegerField(default=1)  # failed checks (or repeats) seen while it held
    last_seen_at = pw.DateTimeField(null=True)  # the latest evidence
    muted = pw.BooleanField(default=False)  # inside a maintenance window
    reminded_at = pw.DateTimeField(null=True)  # the channels' last reminder while it holds
    position = pw.IntegerField(default=0)  # its place in the model's order (most urgent: 0)


class AlertSeen(BaseModel):
    """On a team database: the alerts whose notification a member's tray has shown (each
    member's tray shows its own; `Alert.notified` says only that some tray did)."""

    member = pw.CharField()
    alert = pw.ForeignKeyField(Alert, backref="seen_by", on_delete="CASCADE")
    seen_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("member", "alert"), True),)


class AlertChange(BaseModel):
    """One change of a condition, as alert channels hear of it: opened, changed (in what it
    says, not in a repeat of the same failure), resolved, or a reminder while it holds. Written
    by the reconciler in the transaction that changes the alert; the channels' digest reads them
    in id order (setting `notify_change_cursor`), so each goes out once."""

    alert = pw.ForeignKeyField(Alert, backref="changes", on_delete="CASCADE")
    change = pw.CharField()  # one of CHANGES
    at = pw.DateTimeField(default=utcnow, index=True)
    kind = pw.CharField()
    severity = pw.CharField()
    title = pw.CharField()
    message = pw.TextField(default="")
    muted = pw.BooleanField(default=False)  # inside a maintenance window: no message goes out
    # The channel event it belongs to when not the kind's own: "reconnected" for a mailbox that
    # works again, "leads_stopping" for leads that were stopped, "reminder" for a reminder.
    event = pw.CharField(null=True)


class Maintenance(BaseModel):
    """A maintenance window: no alert and no message for the mailboxes it covers from
    `starts_at` to `ends_at`; the timeline shows it hatched and uptime leaves it out."""

    scope = pw.CharField()  # mailbox | domain | all
    target = pw.CharField(default="")  # the address (lower case), the domain, or "" for all
    starts_at = pw.DateTimeField(index=True)
    ends_at = pw.DateTimeField(index=True)
    note = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    removed_at = pw.DateTimeField(null=True)  # ended early by the rep (kept for the timeline)
