"""Several processes on one (PostgreSQL) database: who serves which mailbox.

A `MailboxLease` row per mailbox says which running copy of mailmonitor checks and sends from it
(`holder`, its machine, a heartbeat and an expiry). A `Runner` row per running copy says it is
alive, which mailboxes its keyring can serve and the public key a sign-in can be sealed to. A
`SealedSecret` is a sign-in handed over to one copy, sealed to its public key (only that copy's
private key, in its keyring, opens it), until that copy stored it. None holds a secret in the
clear."""

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
    # Hand-over (services/team/handover.py): the copy's public key (X25519, base64) and its
    # fingerprint; NULL for a copy whose keyring cannot hold the private key.
    public_key = pw.CharField(null=True)
    fingerprint = pw.CharField(null=True)


class SealedSecret(BaseModel):
    """A mailbox's sign-in on its way to one running copy: ciphertext only (libsodium's sealed
    box to `to_fingerprint`'s public key). The receiver stores it in its keyring and deletes the
    row, or writes why it could not (`error`); the sender deletes a row nobody picked up."""

    account = pw.ForeignKeyField(Account, backref="sealed_secrets", on_delete="CASCADE")
    to_fingerprint = pw.CharField(index=True)
    to_machine = pw.CharField()
    from_machine = pw.CharField()
    ciphertext = pw.TextField()
    created_at = pw.DateTimeField()
    expires_at = pw.DateTimeField(index=True)
    error = pw.TextField(null=True)

    class Meta:
        table_name = "sealed_secret"
