"""peewee models and the database binding. Import models from here.

Imports nothing from ``mailmonitor.services``: the states rows can be in are in ``states``."""

from __future__ import annotations

import logging
from pathlib import Path

import peewee as pw

from mailmonitor.models.account import Account, account_by_email, active_accounts, emails_match
from mailmonitor.models.alert import Alert
from mailmonitor.models.base import BaseModel, db
from mailmonitor.models.campaign import Campaign, CampaignMailbox, Step
from mailmonitor.models.check import Check
from mailmonitor.models.deliverability import (
    Bounce,
    DomainAuth,
    SendingHold,
    Suppression,
    UnsubscribeToken,
)
from mailmonitor.models.lead import Lead, SendRecord
from mailmonitor.models.migrations import CURRENT_VERSION, SchemaVersion, migrate
from mailmonitor.models.notify import NotifyChannel, OutboxMessage
from mailmonitor.models.setting import (
    Setting,
    all_settings,
    forget_settings,
    get_setting,
    set_setting,
)
from mailmonitor.models.states import CampaignStatus, LeadState, PauseReason, SendState, Status
from mailmonitor.models.sync import MailboxSync

log = logging.getLogger(__name__)

ALL_MODELS: list[type[BaseModel]] = [
    SchemaVersion, Setting, Account, Campaign, Step, CampaignMailbox, Lead, SendRecord, Check,
    Alert, MailboxSync, NotifyChannel, OutboxMessage,
    Bounce, SendingHold, Suppression, UnsubscribeToken, DomainAuth,
]

__all__ = [
    "ALL_MODELS",
    "CURRENT_VERSION",
    "Account",
    "Alert",
    "Bounce",
    "Campaign",
    "CampaignMailbox",
    "CampaignStatus",
    "Check",
    "DomainAuth",
    "Lead",
    "LeadState",
    "MailboxSync",
    "NotifyChannel",
    "OutboxMessage",
    "PauseReason",
    "SendRecord",
    "SendState",
    "SendingHold",
    "Setting",
    "Status",
    "Step",
    "Suppression",
    "UnsubscribeToken",
    "account_by_email",
    "active_accounts",
    "all_settings",
    "close_db",
    "db",
    "emails_match",
    "get_setting",
    "open_db",
    "set_setting",
]

DB_FILENAME = "mailmonitor.sqlite3"


def open_db(path: Path | str) -> pw.Database:
    """Open (creating if needed) the SQLite database and bring its schema up to date."""
    path = Path(path)
    database = pw.SqliteDatabase(
        str(path),
        pragmas={
            "journal_mode": "wal",
            "foreign_keys": 1,
            "synchronous": "normal",
            "busy_timeout": 10000,
            "cache_size": -16000,
        },
        check_same_thread=False,
    )
    forget_settings()
    db.initialize(database)
    database.connect(reuse_if_open=True)
    is_new = not SchemaVersion.table_exists()
    if is_new:
        with database.atomic():
            database.create_tables(ALL_MODELS)
            SchemaVersion.create(version=CURRENT_VERSION)
    else:
        migrate(path)
    return database


def close_db() -> None:
    forget_settings()
    if db.obj is not None and not db.is_closed():
        db.close()
