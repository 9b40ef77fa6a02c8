"""Copy every row of one mailmonitor database into another, empty one (`mailmonitor db copy`):
a personal SQLite file into the team's PostgreSQL, or back.

The source is read in one consistent snapshot, the target is written in one transaction, and
the row counts of every table are compared before it commits: a copy is whole or nothing. Ids are
kept (send records, alerts and leads refer to each other by id); PostgreSQL's id sequences are
moved past the copied ids. The database holds no secrets, so none move: passwords and tokens stay
in this computer's keyring.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import peewee as pw

from mailmonitor.models.base import BaseModel, db
from mailmonitor.models.database import DatabaseTarget, connect_database, is_postgres
from mailmonitor.models.migrations import SchemaVersion
from mailmonitor.models.team import TeamMember

BATCH_ROWS = 1000


class CopyRefused(Exception):
    """The copy cannot be made; nothing was written. One line for the rep."""


@dataclass
class CopyReport:
    counts: dict[str, int] = field(default_factory=dict)  # table -> rows copied

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def copied_models() -> list[type[BaseModel]]:
    from mailmonitor.models import ALL_MODELS

    # The target keeps its own schema history; every other table moves.
    return [m for m in ALL_MODELS if m is not SchemaVersion]


@contextmanager
def bound_to(database: pw.Database) -> Iterator[None]:
    """Bind the models to another database for a moment (single-threaded commands only)."""
    previous = db.obj
    db.initialize(database)
    try:
        yield
    finally:
        db.initialize(previous)


def count_rows(database: pw.Database, model: type[BaseModel]) -> int:
    cursor = database.execute(model.select(pw.fn.COUNT(pw.SQL("*"))))
    return int(cursor.fetchone()[0])


Progress = Callable[[str, int, int], None]  # table, tables done, tables in all


def copy_database(target: DatabaseTarget, progress: Progress | None = None) -> CopyReport:
    """Copy the bound database (its schema up to date) into `target`, which must be empty.
    `progress` hears of each table once it is copied (inside the one transaction)."""
    from mailmonitor.models import prepare_schema

    source = db.obj
    destination = connect_database(target)
    destination.connect()
    try:
        with bound_to(destination):
            prepare_schema(destination, None)
            # Team members are merged, not refused: a team database knows its members
            # (the admin who set it up) before anyone moves a personal database into it.
            occupied = {m._meta.table_name: n for m in copied_models()
                        if m is not TeamMember and (n := count_rows(destination, m))}
        if occupied:
            listing = ", ".join(f"{n} {table}" for table, n in sorted(occupied.items()))
            raise CopyRefused(f"{target.describe()} already holds data ({listing}); copy only "
                              "into an empty database; nothing was changed")
        return _copy_rows(source, destination, progress)
    finally:
        destination.close()


def _copy_rows(source: pw.Database, destination: pw.Database,
               progress: Progress | None = None) -> CopyReport:
    report = CopyReport()
    models = copied_models()
    with source.atomic(), destination.atomic():
        if is_postgres(source):  # one snapshot for all tables, while others keep writing
            source.execute_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        expected: dict[str, int] = {}
        for done, model in enumerate(models, 1):
            table = model._meta.table_name
            if model is TeamMember:
                report.counts[table] = _merge_members(source, destination)
                if progress is not None:
                    progress(table, done, len(models))
                continue
            expected[table] = count_rows(source, model)
            fields = list(model._meta.sorted_fields)
            query = model.select(*fields).order_by(model._meta.primary_key).tuples()
            batch: list[tuple[object, ...]] = []
            copied = 0
            for row in query.iterator():
                batch.append(row)
                if len(batch) >= BATCH_ROWS:
                    copied += _insert(destination, model, fields, batch)
                    batch = []
            copied += _insert(destination, model, fields, batch)
            stored = count_rows(destination, model)
            if not (copied == stored == expected[table]):
                raise CopyRefused(f"{table}: {expected[table]} rows in the source, {stored} "
                                  "arrived; nothing was changed")
            report.counts[table] = stored
            if progress is not None:
                progress(table, done, len(models))
            if is_postgres(destination) and isinstance(model._meta.primary_key, pw.AutoField):
                destination.execute_sql(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM \"{table}\"), 0) + 1, false)")
    return report


def _merge_members(source: pw.Database, destination: pw.Database) -> int:
    """The source's members the destination lacks (by name; admin flags of known ones stay)."""
    fields = [TeamMember.name, TeamMember.admin, TeamMember.added_at]
    rows = list(source.execute(TeamMember.select(*fields).tuples()))
    known = {r[0] for r in destination.execute(TeamMember.select(TeamMember.name).tuples())}
    _insert(destination, TeamMember, fields, [r for r in rows if r[0] not in known])
    names = {r[0] for r in destination.execute(TeamMember.select(TeamMember.name).tuples())}
    missing = [r[0] for r in rows if r[0] not in names]
    if missing:
        raise CopyRefused(f"team_member: {missing[0]} did not arrive; nothing was changed")
    return len(rows)


def _insert(destination: pw.Database, model: type[BaseModel], fields: list[pw.Field],
            rows: list[tuple[object, ...]]) -> int:
    if not rows:
        return 0
    query = model.insert_many(rows, fields=fields).returning()  # no RETURNING needed
    destination.execute(query)
    return len(rows)
