"""Schema versions. Each migration runs inside a transaction; a SQLite file is copied first
(a server database is backed up by its administrator: PostgreSQL runs every step of a migration in
one transaction). A database whose schema is newer than this app is never touched."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import peewee as pw

from mailmonitor.clock import utcnow
from mailmonitor.models.base import BaseModel, db

log = logging.getLogger(__name__)


# pg_advisory_xact_lock key held while a PostgreSQL schema is created or migrated.
SCHEMA_LOCK_KEY = 0x6D6D0001


class SchemaTooNew(Exception):
    """The database was set up by a newer mailmonitor; this one would misread it."""

    def __init__(self, found: int, supported: int) -> None:
        super().__init__(
            f"the database's schema is version {found}, newer than this mailmonitor understands "
            f"(version {supported}): update mailmonitor on this computer; nothing was changed")
        self.found, self.supported = found, supported


class SchemaVersion(BaseModel):
    version = pw.IntegerField()
    applied_at = pw.DateTimeField(default=utcnow)


def _v2_sending_engine() -> None:
    """Sending engine: the hand-over mark of a send record and the reply-poll cursor table."""
    from playhouse.migrate import SchemaMigrator
    from playhouse.migrate import migrate as apply

    from mailmonitor.models.sync import MailboxSync

    columns = {c.name for c in db.get_columns("send_record")}
    if "handed_over_at" not in columns:
        # The migrator for whatever database is bound (SQLite today; PostgreSQL can follow).
        apply(SchemaMigrator.from_database(db.obj).add_column(
            "send_record", "handed_over_at", pw.DateTimeField(null=True)))
    MailboxSync.create_table(safe=True)


def _v3_alert_channels() -> None:
    """Alert channels and their outbox; the stop warning, sending limit and secret age of
    accounts. Idempotent: columns and tables are only added when missing."""
    from playhouse.migrate import SchemaMigrator
    from playhouse.migrate import migrate as apply

    from mailmonitor.models.notify import NotifyChannel, OutboxMessage

    columns = {c.name for c in db.get_columns("account")}
    migrator = SchemaMigrator.from_database(db.obj)
    wanted = {
        "stop_warned_at": pw.DateTimeField(null=True),
        "stop_notice_at": pw.DateTimeField(null=True),
        "send_limit_until": pw.DateTimeField(null=True),
        "secret_set_at": pw.DateTimeField(null=True),
        "password_rotation_days": pw.IntegerField(null=True),
    }
    operations = [migrator.add_column("account", name, field)
                  for name, field in wanted.items() if name not in columns]
    if operations:
        apply(*operations)
    NotifyChannel.create_table(safe=True)
    OutboxMessage.create_table(safe=True)


def _v4_rejoined_accounts() -> None:
    """Accounts that came back after their grace period (only never-emailed leads for them)."""
    from playhouse.migrate import SchemaMigrator
    from playhouse.migrate import migrate as apply

    columns = {c.name for c in db.get_columns("account")}
    if "rejoined_at" not in columns:
        apply(SchemaMigrator.from_database(db.obj).add_column(
            "account", "rejoined_at", pw.DateTimeField(null=True)))


def _v6_deliverability() -> None:
    """Deliverability (issue 14): bounces, sending holds, the suppression list, unsubscribe
    tokens, domain authentication results, and the round-trip result of a check. Idempotent."""
    from playhouse.migrate import SchemaMigrator
    from playhouse.migrate import migrate as apply

    from mailmonitor.models.deliverability import DELIVERABILITY_MODELS

    columns = {c.name for c in db.get_columns("check")}
    if "round_trip" not in columns:
        from mailmonitor.models.base import JSONField

        apply(SchemaMigrator.from_database(db.obj).add_column(
            "check", "round_trip", JSONField(null=True)))
    db.create_tables(DELIVERABILITY_MODELS, safe=True)


def _v8_team_leases() -> None:
    """Several processes on one database: a lease per mailbox and the running copies. New
    tables only (idempotent), so it composes with the other versions in any order."""
    from mailmonitor.models.lease import MailboxLease, Runner

    MailboxLease.create_table(safe=True)
    Runner.create_table(safe=True)


def _v9_team_owners() -> None:
    """Team view: an owner per mailbox, campaign and alert channel (existing rows belong to
    this copy's member, who set them up), the team's members, and which alerts each member's
    tray showed. Idempotent: columns and tables are only added when missing."""
    from playhouse.migrate import SchemaMigrator
    from playhouse.migrate import migrate as apply

    from mailmonitor.models.alert import AlertSeen
    from mailmonitor.models.team import TeamMember, this_member

    migrator = SchemaMigrator.from_database(db.obj)
    for table in ("account", "campaign", "notify_channel"):
        if "owner" not in {c.name for c in db.get_columns(table)}:
            apply(migrator.add_column(table, "owner", pw.CharField(default=this_member())))
            if table != "notify_channel":
                apply(migrator.add_index(table, ["owner"]))
    TeamMember.create_table(safe=True)
    AlertSeen.create_table(safe=True)


def _v10_attention() -> None:
    """The attention model (issue 25): what each alert says now (mailboxes, campaigns, deadline,
    action, count, muted), the feed of changes the channels read, maintenance windows; the
    state the model reads (a mailbox's sending problem, its last reconnect, a campaign's error).
    Idempotent: columns and tables are only added when missing."""
    from playhouse.migrate import SchemaMigrator
    from playhouse.migrate import migrate as apply

    from mailmonitor.models.alert import AlertChange, Maintenance
    from mailmonitor.models.base import JSONField

    migrator = SchemaMigrator.from_database(db.obj)
    wanted = {
        "alert": {"mailboxes": JSONField(default=list), "campaigns": JSONField(default=list),
                  "deadline": pw.DateTimeField(null=True), "action": pw.CharField(null=True),
                  "count": pw.IntegerField(default=1),
                  "last_seen_at": pw.DateTimeField(null=True),
                  "muted": pw.BooleanField(default=False),
                  "reminded_at": pw.DateTimeField(null=True),
                  "position": pw.IntegerField(default=0)},
        "account": {"send_problem_kind": pw.CharField(null=True),
                    "send_problem": pw.TextField(null=True),
                    "send_problem_at": pw.DateTimeField(null=True),
                    "reconnected_at": pw.DateTimeField(null=True)},
        "campaign": {"pause_detail": pw.TextField(null=True)},
    }
    for table, fields in wanted.items():
        columns = {c.name for c in db.get_columns(table)}
        operations = [migrator.add_column(table, name, field)
                      for name, field in fields.items() if name not in columns]
        if operations:
            apply(*operations)
    # Alerts opened by the rules of earlier versions are resolved: the reconciler derives the
    # open ones from the state at its first run.
    db.execute_sql("UPDATE alert SET resolved_at = CURRENT_TIMESTAMP WHERE resolved_at IS NULL")
    AlertChange.create_table(safe=True)
    Maintenance.create_table(safe=True)


def _v11_login_budget() -> None:
    """The login budget (issue 24): the failed logins of the last minutes, shared by every copy
    of a team. A new table only (idempotent)."""
    from mailmonitor.models.check import LoginFailure

    LoginFailure.create_table(safe=True)


def _v12_hand_over() -> None:
    """Handing a sign-in over to a running copy: each copy's public key on its Runner row and
    the sealed sign-ins on their way. Idempotent (columns and tables only added when missing),
    so it composes with the other versions in any order."""
    from playhouse.migrate import SchemaMigrator
    from playhouse.migrate import migrate as apply

    from mailmonitor.models.lease import SealedSecret

    migrator = SchemaMigrator.from_database(db.obj)
    columns = {c.name for c in db.get_columns("runner")}
    for name in ("public_key", "fingerprint"):
        if name not in columns:
            apply(migrator.add_column("runner", name, pw.CharField(null=True)))
    SealedSecret.create_table(safe=True)


def _v13_check_trigger_index() -> None:
    """An index on the checks' kind and mailbox: the attention model reads each mailbox's latest
    test email at every reconcile (the window's each minute, every command's at its end), and
    found it by reading the whole check history: 36 ms at 54,000 checks and growing with it,
    0.4 ms with the index. Idempotent."""
    from playhouse.migrate import SchemaMigrator
    from playhouse.migrate import migrate as apply

    if not any(index.columns == ["trigger", "account_id"] for index in db.get_indexes("check")):
        apply(SchemaMigrator.from_database(db.obj).add_index("check", ["trigger", "account_id"]))


def _v14_lead_counts() -> None:
    """The leads' indexes the attention model counts from: (state, mailbox, campaign) replaces
    the index on the state alone (its prefix serves every lookup by state), and a partial
    index finds the flagged leads. With 200,000 leads a reconcile read 30,000 halted leads'
    rows (23 ms) and every lead for the flagged and unassigned ones (22 and 31 ms); from the
    indexes 6, 0.2 and 0.2 ms. Idempotent."""
    from mailmonitor.models.lead import Lead

    Lead._schema.create_indexes(safe=True)
    db.execute_sql('DROP INDEX IF EXISTS "lead_state"')


# version -> function that brings the schema from version-1 to version. Version 1 is the
# initial schema created by `create_tables`; later versions append here.
MIGRATIONS: dict[int, Callable[[], None]] = {
    2: _v2_sending_engine, 3: _v3_alert_channels, 4: _v4_rejoined_accounts,
    6: _v6_deliverability, 8: _v8_team_leases, 9: _v9_team_owners, 10: _v10_attention,
    11: _v11_login_budget, 12: _v12_hand_over, 13: _v13_check_trigger_index,
    14: _v14_lead_counts,
}
CURRENT_VERSION = 14


def current_version() -> int:
    if not SchemaVersion.table_exists():
        return 0
    row = SchemaVersion.select(pw.fn.MAX(SchemaVersion.version)).scalar()
    return int(row or 0)


def backup_database(path: Path) -> Path:
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.v{current_version()}.{stamp}.bak")
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy2(path, target)
    log.info("database backed up to %s before migrating", target)
    return target


def migrate(path: Path | None, migrations: dict[int, Callable[[], None]] | None = None,
            target: int | None = None) -> int:
    """Bring the schema up to `target` (default: CURRENT_VERSION). Returns the new version."""
    steps = MIGRATIONS if migrations is None else migrations
    goal = CURRENT_VERSION if target is None else target
    version = current_version()
    if version > goal:
        raise SchemaTooNew(version, goal)
    if version >= goal:
        return version
    if path is not None and path.exists() and version > 0:
        backup_database(path)
    for number in range(version + 1, goal + 1):
        with db.atomic():
            if number in steps:
                steps[number]()
            SchemaVersion.create(version=number)
        log.info("database schema now at version %d", number)
    return goal
