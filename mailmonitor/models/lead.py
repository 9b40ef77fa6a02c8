"""Leads in a campaign (one row per campaign and address) and their send records."""

from __future__ import annotations

import peewee as pw

from mailmonitor.clock import utcnow
from mailmonitor.models.account import Account
from mailmonitor.models.base import BaseModel, JSONField
from mailmonitor.models.campaign import Campaign
from mailmonitor.models.states import FINAL_STATES, SENDABLE_STATES, LeadState, SendState

__all__ = ["FINAL_STATES", "LEAD_STATES", "SENDABLE_STATES", "Lead", "LeadState", "SendRecord",
           "SendState"]

LEAD_STATES = tuple(LeadState)  # in the order reports list them


class Lead(BaseModel):
    campaign = pw.ForeignKeyField(Campaign, backref="leads", on_delete="CASCADE")
    email = pw.CharField()
    fields = JSONField(default=dict)
    mailbox = pw.ForeignKeyField(Account, null=True, backref="leads", on_delete="SET NULL")
    cursor = pw.IntegerField(default=0)  # index of the next step to send
    next_due_at = pw.DateTimeField(null=True)
    # Indexed by (state, mailbox, campaign) below: a lookup by state alone uses its prefix.
    state = pw.CharField(default=LeadState.PENDING)
    messages_sent = pw.IntegerField(default=0)
    last_message_id = pw.CharField(null=True)
    first_subject = pw.TextField(null=True)  # subject of step 1, for "Re:" threading
    flag = pw.TextField(null=True)  # why the lead needs the rep (e.g. a template field is missing)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("campaign", "email"), True),
            (("mailbox", "state"), False),
            # The attention model counts halted leads per mailbox and campaign and unassigned
            # ones per campaign at every reconcile: from the index alone (schema version 14).
            (("state", "mailbox", "campaign"), False),
        )

    @property
    def contacted(self) -> bool:
        return bool(self.messages_sent > 0)


# The few leads flagged for the rep (a template field missing, …), per campaign: a partial index,
# so finding them reads those leads only, not every lead (schema version 14).
FLAGGED_INDEX = "lead_flagged"
Lead.add_index(Lead.index(Lead.campaign, where=Lead.flag.is_null(False), name=FLAGGED_INDEX))


class SendRecord(BaseModel):
    """One email of one step to one lead. Written as `sending` before SMTP, `sent` after.

    `handed_over_at` is committed just before the end-of-data mark (the final ".") goes to the
    server. While a record is `sending`, NULL there proves the server cannot have accepted the
    message (RFC 5321: a transaction without its end of data is discarded); set, the answer may
    have been lost and the record is reconciled (services/reconcile.py)."""

    lead = pw.ForeignKeyField(Lead, backref="sends", on_delete="CASCADE")
    campaign = pw.ForeignKeyField(Campaign, backref="sends", on_delete="CASCADE")
    account = pw.ForeignKeyField(Account, backref="sends", on_delete="CASCADE")
    step = pw.IntegerField()
    message_id = pw.CharField(unique=True)
    subject = pw.TextField(default="")
    state = pw.CharField(default=SendState.SENDING, index=True)  # sending | sent | failed | unknown
    error = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    handed_over_at = pw.DateTimeField(null=True)
    sent_at = pw.DateTimeField(null=True)
