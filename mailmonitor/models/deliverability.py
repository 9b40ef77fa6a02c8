"""Deliverability (issue 14): what happens to the mail after the server accepted it.

- `Bounce`: one delivery failure of one send (from a DSN in the INBOX or an SMTP refusal of the
  recipient), hard (5.x.x) or soft (4.x.x); the bounce guard counts these.
- `SendingHold`: a mailbox the app stopped sending from although its logins pass (bounce rate
  too high, or its mail refused as spam/blocked); lifted only by the rep.
- `Suppression`: addresses that unsubscribed (or were imported as such); never emailed again
  from any campaign of this database.
- `UnsubscribeToken`: the per-lead token carried by the List-Unsubscribe mailto.
- `DomainAuth`: the last SPF / DMARC / DKIM check of one sending domain.
"""

from __future__ import annotations

import peewee as pw

from mailmonitor.clock import utcnow
from mailmonitor.models.account import Account
from mailmonitor.models.base import BaseModel, JSONField
from mailmonitor.models.lead import Lead, SendRecord

HARD, SOFT = "hard", "soft"


class Bounce(BaseModel):
    account = pw.ForeignKeyField(Account, backref="bounces", on_delete="CASCADE")
    send = pw.ForeignKeyField(SendRecord, null=True, backref="bounces", on_delete="CASCADE")
    lead = pw.ForeignKeyField(Lead, null=True, backref="bounces", on_delete="SET NULL")
    email = pw.CharField()  # the address that bounced
    kind = pw.CharField()  # hard | soft
    status = pw.CharField(default="")  # RFC 3463 status, e.g. 5.1.1
    diagnostic = pw.TextField(default="")
    source = pw.CharField(default="dsn")  # dsn | smtp
    received_at = pw.DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("send", "email"), True),)


class SendingHold(BaseModel):
    account = pw.ForeignKeyField(Account, backref="holds", on_delete="CASCADE")
    reason = pw.CharField()  # a §2 reason code: high_bounce_rate | sending_blocked
    detail = pw.TextField(default="")
    since = pw.DateTimeField(default=utcnow)
    lifted_at = pw.DateTimeField(null=True, index=True)


class Suppression(BaseModel):
    email = pw.CharField(unique=True)  # lower-case
    reason = pw.CharField(default="unsubscribed")  # unsubscribed | imported
    source = pw.TextField(default="")  # how it arrived (a reply, the mailto link, a CSV)
    created_at = pw.DateTimeField(default=utcnow)


class UnsubscribeToken(BaseModel):
    token = pw.CharField(unique=True)
    lead = pw.ForeignKeyField(Lead, backref="unsubscribe_tokens", unique=True,
                              on_delete="CASCADE")
    created_at = pw.DateTimeField(default=utcnow)


class DomainAuth(BaseModel):
    domain = pw.CharField(unique=True)
    dkim_selector = pw.CharField(null=True)  # one the rep named
    checked_at = pw.DateTimeField(null=True)
    result = JSONField(null=True)  # spf / dmarc / dkim findings (services/deliverability)


DELIVERABILITY_MODELS: list[type[BaseModel]] = [
    Bounce, SendingHold, Suppression, UnsubscribeToken, DomainAuth,
]
