"""Check history: one connection test of one account (spec §1)."""

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
