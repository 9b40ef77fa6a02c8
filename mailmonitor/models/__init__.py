"""peewee models and the database binding. Import models from here.

Floor: below ``services``, above the base modules (clock, config, events, logsetup, wording): it
imports nothing from ``mailmonitor.services``, ``mailmonitor.ui`` or Qt (import-linter checks it);
the states rows can be in are in ``states``."""

from __future__ import annotations

import logging
from pathlib import Path

import peewee as pw

from mailmonitor.models.account import Account, account_by_email, active_accounts, emails_match
from mailmonitor.models.alert import Alert, AlertChange, AlertSeen, Maintenance
from mailmonitor.models.base import BaseModel, db
from mailmonitor.models.campaign import Campaign, CampaignMailbox, Step
from mailmonitor.models.check import Check, LoginFailure
from mailmonitor.models.database import (
    DatabaseTarget,
    connect_database,
    is_postgres,
    parse_database_url,
)
from mailmonitor.models.deliverability import (
    Bounce,
    DomainAuth,
    SendingHold,
    Suppression,
    UnsubscribeToken,
)
from mailmonitor.models.lead import Lead, SendRecord
from mailmonitor.models.lease import MailboxLease, Runner, SealedSecret
from mailmonitor.models.migrations import (
    CURRENT_VERSION,
    SCHEMA_LOCK_KEY,
    SchemaTooNew,
    SchemaVersion,
    migrate,
)
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
from mailmonitor.models.team import TeamMember, set_this_member, this_member

log = logging.getLogger(__name__)

ALL_MODELS: list[type[BaseModel]] = [
    SchemaVersion, Setting, Account, Campaign, Step, CampaignMailbox, Lead, SendRecord, Check,
    Alert, MailboxSync, NotifyChannel, OutboxMessage,
    Bounce, SendingHold, Suppression, UnsubscribeToken, DomainAuth, MailboxLease, Runner,
    SealedSecret,
    TeamMember, AlertSeen, AlertChange, Maintenance, LoginFailure,
]

__all__ = [
    "ALL_MODELS",
    "CURRENT_VERSION",
    "Account",
    "Alert",
    "AlertChange",
    "AlertSeen",
    "Bounce",
    "Campaign",
    "CampaignMailbox",
    "CampaignStatus",
    "Check",
    "DatabaseTarget",
    "DomainAuth",
    "Lead",
    "LeadState",
    "LoginFailure",
    "MailboxLease",
    "MailboxSync",
    "Maintenance",
    "NotifyChannel",
    "OutboxMessage",
    "PauseReason",
    "Runner",
    "SchemaTooNew",
    "SealedSecret",
    "SendRecord",
    "SendState",
    "SendingHold",
    "Setting",
    "Status",
    "Step",
    "Suppression",
    "TeamMember",
    "UnsubscribeToken",
    "account_by_email",
    "active_accounts",
    "all_settings",
    "close_db",
    "connect_database",
    "db",
    "emails_match",
    "get_setting",
    "is_postgres",
    "open_db",
    "parse_database_url",
    "prepare_schema",
    "set_setting",
    "set_this_member",
    "this_member",
]

DB_FILENAME = "mailmonitor.sqlite3"


def open_db(location: Path | str | DatabaseTarget, *, upgrade: bool = True) -> pw.Database:
    """Open the database (a SQLite file path, a URL or a target), bind it to the models and,
    with `upgrade`, create or migrate its schema. A schema newer than this app is refused
    (SchemaTooNew) before anything is written."""
    if isinstance(location, DatabaseTarget):
        target = location
    elif isinstance(location, Path):
        target = DatabaseTarget("sqlite", path=location)
    else:
        target = parse_database_url(location)
    database = connect_database(target)
    forget_settings()
    db.initialize(database)
    database.connect(reuse_if_open=True)
    if upgrade:
        try:
            prepare_schema(database, target.path if target.kind == "sqlite" else None)
        except BaseException:
            database.close()
            raise
    return database


def prepare_schema(database: pw.Database, path: Path | None) -> int:
    """Create the tables of a new database, or migrate an older one; returns the version.
    On PostgreSQL all of it is one transaction under an advisory lock, so processes starting
    together take turns and a failed step leaves the schema as it was."""
    if is_postgres(database):
        with database.atomic():
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
            return _create_or_migrate(database, None)
    return _create_or_migrate(database, path)


def _create_or_migrate(database: pw.Database, path: Path | None) -> int:
    if not SchemaVersion.table_exists():
        with database.atomic():
            database.create_tables(ALL_MODELS)
            SchemaVersion.create(version=CURRENT_VERSION)
        return CURRENT_VERSION
    return migrate(path)


def close_db() -> None:
    forget_settings()
    if db.obj is not None and not db.is_closed():
        db.close()
