"""Several processes on one (PostgreSQL) database: who serves which mailbox.

A `MailboxLease` row per mailbox says which running copy of mailmonitor checks and sends from it
(`holder`, its machine, a heartbeat and an expiry). A `Runner` row per running copy says it is
alive and which mailboxes its keyring can serve. Neither holds a secret."""

from __future__ import annotations

import peewee as pw

from mailmonitor.models.account import Account
from mailmonitor.models.base import BaseModel, JSONField


class MailboxLease(BaseModel):
    account = pw.ForeignKeyField(Account, unique=True, backref="leases", on_delete="CASCADE")
    holder = pw.CharField(null=True)  # Runner.holder; NULL = free
    machine = pw.CharField(default="")  # what the window shows ("served by …")
    taken_at = pw.DateTimeField(null=True)
    heartbeat_at = pw.DateTimeField(null=True)
    expires_at = pw.DateTimeField(null=True, index=True)  # after it, anyone eligible may take it
    generation = pw.IntegerField(default=0)  # +1 each time it changes hands (hand-over history)


class Runner(BaseModel):
    """A running copy (window or `run --headless`) of mailmonitor on this database."""

    holder = pw.CharField(unique=True)  # machine:pid:random
    machine = pw.CharField()
    pid = pw.IntegerField()
    kind = pw.CharField(default="headless")  # headless | window
    started_at = pw.DateTimeField()
    heartbeat_at = pw.DateTimeField()
    expires_at = pw.DateTimeField(index=True)
    can_serve = JSONField(default=list)  # account ids whose secret this copy's keyring holds
