"""Where reply polling stopped in each mailbox's INBOX (IMAP UIDVALIDITY and last UID seen)."""

from __future__ import annotations

import peewee as pw

from mailmonitor.models.account import Account
from mailmonitor.models.base import BaseModel


class MailboxSync(BaseModel):
    account = pw.ForeignKeyField(Account, backref="syncs", on_delete="CASCADE")
    folder = pw.CharField(default="INBOX")
    uidvalidity = pw.BigIntegerField(null=True)
    last_uid = pw.BigIntegerField(default=0)
    polled_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("account", "folder"), True),)
