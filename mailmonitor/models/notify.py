"""Alert channels (email, Slack-compatible and JSON webhooks) and their outbox.

An outbox row is one digest for one channel, written before anything is sent and settled after,
like a campaign email's send record (services/alerts/outbox.py tells the lifecycle). Secrets of
a channel (webhook signing secret, relay password) live in the OS keyring, never here.
"""

from __future__ import annotations

import peewee as pw

from mailmonitor.clock import utcnow
from mailmonitor.models.account import Account
from mailmonitor.models.base import BaseModel, JSONField
from mailmonitor.models.team import this_member

CHANNEL_KINDS = ("email", "slack", "webhook")
OUTBOX_STATES = ("pending", "sending", "sent", "failed", "unknown")


class NotifyChannel(BaseModel):
    name = pw.CharField(unique=True)
    kind = pw.CharField()  # email | slack | webhook
    target = pw.CharField()  # an address (email) or an https:// URL (webhooks)
    events = JSONField(default=list)  # event names (services/alerts/digest.py EVENTS)
    # email: the mailbox to send from (None: any connected one); never the broken one
    from_account = pw.ForeignKeyField(Account, null=True, on_delete="SET NULL")
    relay = JSONField(null=True)  # email through an SMTP relay: host, port, security, username,
    #                               from; its password in the keyring
    has_secret = pw.BooleanField(default=False)  # a signing secret / relay password is stored
    enabled = pw.BooleanField(default=True)
    # The team member it belongs to: it carries that member's alerts (all of them for an admin)
    owner = pw.CharField(default=this_member)
    created_at = pw.DateTimeField(default=utcnow)
    last_ok_at = pw.DateTimeField(null=True)
    last_error = pw.TextField(null=True)
    last_error_at = pw.DateTimeField(null=True)


class OutboxMessage(BaseModel):
    channel = pw.ForeignKeyField(NotifyChannel, backref="outbox", on_delete="CASCADE")
    delivery_id = pw.CharField(unique=True)  # also the email's Message-ID and a webhook header
    round_at = pw.DateTimeField(index=True)  # the collection round that made it
    title = pw.CharField()
    text = pw.TextField()
    items = JSONField(default=list)  # one dict per alert: event, account, reason, label, …
    stop_warning_accounts = JSONField(default=list)  # accounts whose stop warning it carries
    state = pw.CharField(default="pending", index=True)
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(null=True, index=True)
    created_at = pw.DateTimeField(default=utcnow)
    started_at = pw.DateTimeField(null=True)
    handed_over_at = pw.DateTimeField(null=True)  # the last byte may have reached the receiver
    sent_at = pw.DateTimeField(null=True)
    last_error = pw.TextField(null=True)
    via = pw.CharField(null=True)  # email: the mailbox or relay it went through
