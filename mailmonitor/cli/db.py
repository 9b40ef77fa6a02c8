"""`mailmonitor db init|status|migrate|copy --to URL`: the database for the admin.

Every command works on the database that `--database URL` / MAILMONITOR_DATABASE_URL picks (the
SQLite file in the data folder by default). Exit codes as in common.py: 0 done (for `status`: the
schema is current), 1 failed or not current, 3 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import peewee as pw

from mailmonitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Command, Parser, Subparsers
from mailmonitor.models import (
    CURRENT_VERSION,
    Account,
    Campaign,
    DatabaseTarget,
    Lead,
    SchemaTooNew,
    SendRecord,
    close_db,
    db,
    is_postgres,
    open_db,
    prepare_schema,
)
from mailmonitor.models.database import DatabaseURLError, first_line, parse_database_url
from mailmonitor.models.migrations import current_version


def add_parser(sub: Subparsers, common: Parser) -> dict[str, Command]:
    """`db` opens the database itself: `mailmonitor.cli` calls `cmd_db` before anything else
    opens it."""
    db_parser = sub.add_parser("db", parents=[common], help="the database (SQLite or PostgreSQL)")
    actions = db_parser.add_subparsers(dest="action", required=True, parser_class=Parser,
                                       metavar="ACTION")
    actions.add_parser("init", parents=[common], help="create the tables in an empty database")
    status = actions.add_parser("status", parents=[common], help="schema version and contents")
    status.add_argument("--json", action="store_true", help="print JSON")
    actions.add_parser("migrate", parents=[common], help="bring the schema up to date")
    copy = actions.add_parser("copy", parents=[common],
                              help="copy every row into another, empty database")
    copy.add_argument("--to", required=True, metavar="URL",
                      help="the empty database to copy into (postgresql://…)")
    # For Settings → Team (ui/team_settings.py), and scripts that show a progress bar.
    copy.add_argument("--progress", action="store_true",
                      help='print a "progress TABLE DONE ALL" line after each table')
    return {}


def fail(message: str) -> int:
    print(f"mailmonitor: {message}", file=sys.stderr)
    return EXIT_FAILED


def cmd_db(args: argparse.Namespace, target: DatabaseTarget) -> int:
    """Dispatch `db …`; the database is opened here (status and init must not migrate)."""
    try:
        open_db(target, upgrade=False)
    except pw.DatabaseError as exc:
        return fail(f"cannot open the database {target.describe()}: {first_line(exc)}")
    try:
        if args.action == "status":
            return db_status(target, args.json)
        if args.action == "init":
            return db_init(target)
        if args.action == "migrate":
            return db_migrate(target)
        if args.action == "copy":
            return db_copy(target, args.to, progress=args.progress)
        return fail(f"unknown action {args.action}")
    except SchemaTooNew as exc:
        return fail(str(exc))
    except pw.DatabaseError as exc:
        return fail(f"the database {target.describe()} failed: {first_line(exc)}; nothing was "
                    "changed")
    finally:
        close_db()


def server_details() -> dict[str, Any]:
    """Server version and whether this connection is encrypted (PostgreSQL's own view)."""
    if not is_postgres(db.obj):
        return {"engine": "sqlite", "version": str(db.execute_sql(
            "SELECT sqlite_version()").fetchone()[0]), "tls": None}
    version = str(db.execute_sql("SHOW server_version").fetchone()[0])
    row = db.execute_sql("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
                         ).fetchone()
    tls = (row[1] or "on") if row and row[0] else "off"
    return {"engine": "postgresql", "version": version, "tls": tls}


def db_status(target: DatabaseTarget, as_json: bool) -> int:
    version = current_version()
    counts: dict[str, int] = {}
    if version:
        counts = {"accounts": Account.select().where(Account.removed_at.is_null()).count(),
                  "campaigns": Campaign.select().count(), "leads": Lead.select().count(),
                  "send_records": SendRecord.select().count()}
    if version == 0:
        state, advice = "empty", "run `mailmonitor db init`"
    elif version < CURRENT_VERSION:
        state, advice = "older", "run `mailmonitor db migrate`"
    elif version > CURRENT_VERSION:
        state, advice = "newer", "update mailmonitor on this computer"
    else:
        state, advice = "current", ""
    info = {"database": target.describe(), **server_details(), "schema_version": version,
            "app_schema_version": CURRENT_VERSION, "schema": state, "counts": counts}
    if as_json:
        print(json.dumps(info, indent=2))
    else:
        engine = "PostgreSQL" if info["engine"] == "postgresql" else "SQLite"
        tls = f", TLS {info['tls']}" if info["tls"] is not None else ""
        print(f"Database: {info['database']} ({engine} {info['version']}{tls})")
        print(f"Schema:   version {version} (this mailmonitor: {CURRENT_VERSION}) — {state}"
              + (f": {advice}" if advice else ""))
        if counts:
            print("Contents: " + ", ".join(f"{n} {name.replace('_', ' ')}"
                                           for name, n in counts.items()))
    return EXIT_OK if state == "current" else EXIT_FAILED


def db_init(target: DatabaseTarget) -> int:
    version = current_version()
    if version:
        print(f"{target.describe()} is already set up (schema version {version}); "
              "nothing was changed")
        return EXIT_OK if version <= CURRENT_VERSION else fail(str(
            SchemaTooNew(version, CURRENT_VERSION)))
    prepare_schema(db.obj, target.path)
    print(f"Set up {target.describe()} (schema version {CURRENT_VERSION})")
    return EXIT_OK


def db_migrate(target: DatabaseTarget) -> int:
    before = current_version()
    after = prepare_schema(db.obj, target.path)
    if before == after:
        print(f"{target.describe()} is up to date (schema version {after})")
    elif before == 0:
        print(f"Set up {target.describe()} (schema version {after})")
    else:
        backup = " (the file was backed up first)" if target.kind == "sqlite" else ""
        print(f"Migrated {target.describe()} from schema version {before} to {after}{backup}")
    return EXIT_OK


def print_progress(table: str, done: int, total: int) -> None:
    print(f"progress {table} {done} {total}", flush=True)


def db_copy(source: DatabaseTarget, to: str, *, progress: bool = False) -> int:
    from mailmonitor.models.transfer import CopyRefused, copy_database

    try:
        target = parse_database_url(to)
    except DatabaseURLError as exc:
        print(f"mailmonitor: --to: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if target == source:
        print("mailmonitor: --to names the database being copied", file=sys.stderr)
        return EXIT_USAGE
    prepare_schema(db.obj, source.path)  # the source at this app's schema, like the target
    try:
        report = copy_database(target, print_progress if progress else None)
    except CopyRefused as exc:
        return fail(str(exc))
    except pw.DatabaseError as exc:
        return fail(f"cannot copy into {target.describe()}: {first_line(exc)}; nothing was "
                    "changed there")
    parts = ", ".join(f"{n} {table.replace('_', ' ')}" for table, n in report.counts.items())
    print(f"Copied {report.total} rows into {target.describe()} ({parts}); every table's "
          "count checked.")
    print("Passwords and sign-ins stay in this computer's keyring: on another computer, "
          "`mailmonitor accounts reconnect EMAIL` stores them there.")
    print(f"Use it with --database '{to}' (or MAILMONITOR_DATABASE_URL).")
    return EXIT_OK
