"""Check history: one connection test of one account (spec §1); the failed logins of the last
minutes, which every copy of a team reads before it tries another (the login budget)."""

from __future__ import annotations

import peewee as pw

from mailmonitor.clock import utcnow
from mailmonitor.models.account import Account
from mailmonitor.models.base import BaseModel, JSONField


class Check(BaseModel):
    account = pw.ForeignKeyField(Account, backref="checks", on_delete="CASCADE")
    checked_at = pw.DateTimeField(default=utcnow, index=True)
    status = pw.CharField()
    reason = pw.CharField(null=True)
    detail = pw.TextField(default="")  # server text, secrets redacted
    latency_ms = pw.IntegerField(null=True)
    imap = JSONField(null=True)  # per-protocol result: ok, latency_ms, error, phases
    smtp = JSONField(null=True)
    trigger = pw.CharField(default="schedule")  # schedule | manual | reconnect | confirm | send
    # | round_trip
    # A round-trip test (send to itself, find it over IMAP): outcome, folder, timings.
    round_trip = JSONField(null=True)

    class Meta:
        # Each mailbox's latest check of a kind (its latest test email, which every reconcile
        # of the attention model reads) without reading the whole history (schema version 13).
        indexes = ((("trigger", "account"), False),)


class LoginFailure(BaseModel):
    """One sign-in a server refused (a wrong password, a token it rejects, a method it turned
    off), as the server counts it: one per authentication attempt. Kept for the budget's window
    (services/monitoring/login_budget.py), then pruned. Not a foreign key to the account: the
    budget counts per server across mailboxes, and a mailbox being added has no row yet."""

    server = pw.CharField(index=True)  # the host name, lower case
    mailbox = pw.CharField()  # the address, lower case
    at = pw.DateTimeField(index=True)
    protocol = pw.CharField(default="")  # imap | smtp
