"""Statements that a sweep runs hundreds of times, with their SQL rendered once.

peewee takes longer to render a statement than SQLite takes to run it (about 1 ms against
0.1 ms for a check's insert): a sweep of 500 mailboxes records 500 checks and updates 500
accounts on the event loop's thread. These helpers let peewee render each statement once per
model, set of fields and database — with a marker where each value goes, so the order of the
parameters is read off the SQL rather than guessed — and then run it with the values converted
as the fields convert them (`db_value`). Same SQL, same conversions as `create` / `save`."""

from __future__ import annotations

import sqlite3
from typing import Any, TypeVar

import peewee as pw

from mailmonitor.models.base import db

M = TypeVar("M", bound=pw.Model)
_MARK = "__mm_value_{}__"


_rendered_sql: dict[tuple[str, str, tuple[str, ...], str], tuple[str, tuple[str, ...]]] = {}


def _rendered(kind: str, model: type[pw.Model], names: tuple[str, ...], database: pw.Database
              ) -> tuple[str, tuple[str, ...]]:
    """(SQL with the database's placeholders, the field names in placeholder order; an
    update's row id is named "\0id"), rendered once per statement and kind of database."""
    key = (kind, model._meta.table_name, names, type(database).__name__)
    found = _rendered_sql.get(key)
    if found is None:
        found = _rendered_sql[key] = _render(kind, model, names, database)
    return found


def _render(kind: str, model: type[pw.Model], names: tuple[str, ...], database: pw.Database
            ) -> tuple[str, tuple[str, ...]]:
    fields = model._meta.fields
    marks = {name: _MARK.format(i) for i, name in enumerate(names)}
    values = {fields[name]: pw.SQL(mark) for name, mark in marks.items()}
    pk = model._meta.primary_key
    query: Any
    if kind == "insert":
        query = model.insert(values)
        if database.returning_clause:
            query = query.returning(pk)
    elif kind == "select":
        marks = {"\0id": _MARK.format("id")}
        query = model.select(*(fields[name] for name in names)).where(pk == pw.SQL(marks["\0id"]))
    else:
        marks["\0id"] = _MARK.format("id")
        query = model.update(values).where(pk == pw.SQL(marks["\0id"]))
    sql, params = query.sql()
    if params:  # a value peewee rendered itself (a default): not safe to cache
        raise ValueError(f"{model.__name__}: every field must be given ({params!r})")
    order = tuple(sorted(marks, key=lambda name: sql.index(marks[name])))
    for mark in marks.values():
        sql = sql.replace(mark, database.param)
    return sql, order


def _complete(model: type[pw.Model], values: dict[str, Any]) -> dict[str, Any]:
    """`values` with the fields' defaults (as `create` fills them) for the ones not given."""
    out = dict(values)
    for name, field in model._meta.fields.items():
        if name not in out and not isinstance(field, pw.AutoField) and field.default is not None:
            out[name] = field.default() if callable(field.default) else field.default
    return out


def insert_row(model: type[M], **values: Any) -> M:
    """`model.create(**values)`, with SQL rendered once for this set of fields."""
    values = _complete(model, values)
    database = db.obj
    sql, order = _rendered("insert", model, tuple(sorted(values)), database)
    fields = model._meta.fields
    cursor = database.execute_sql(sql, [fields[n].db_value(values[n]) for n in order])
    row_id = cursor.fetchone()[0] if database.returning_clause else cursor.lastrowid
    instance: M = model(**values)
    instance.id = row_id
    instance._dirty.clear()
    return instance


def _rendered_many(model: type[pw.Model], names: tuple[str, ...], count: int,
                   database: pw.Database) -> tuple[str, tuple[tuple[int, str], ...]]:
    """A `count`-row INSERT that returns the rows' ids (RETURNING); its parameters as (row,
    field name). peewee renders it once per model, fields and kind of database, with two rows:
    every other row count repeats that statement's row of values (a sweep's batches come in
    every size up to `MANY_ROWS`: each rendered by peewee cost a millisecond and more, issue 22).
    Should peewee's two rows not be the same row twice, each count is rendered by peewee."""
    key = (f"insert*{count}", model._meta.table_name, names, type(database).__name__)
    found = _rendered_many_sql.get(key)
    if found is None:
        shape = _rows_shape(model, names, database)
        if shape is None:
            found = _peewee_many(model, names, count, database)
        else:
            head, values, tail, order = shape
            found = (head + ", ".join([values] * count) + tail,
                     tuple((row, name) for row in range(count) for name in order))
        _rendered_many_sql[key] = found
    return found


# Per model, fields and kind of database: the multi-row INSERT's text before its rows of
# values, one row of values, the text after them, and the fields in a row's order (None: the
# rendering is not a row repeated; each count is rendered by peewee).
_shapes: dict[tuple[str, tuple[str, ...], str],
              tuple[str, str, str, tuple[str, ...]] | None] = {}


def _rows_shape(model: type[pw.Model], names: tuple[str, ...], database: pw.Database
                ) -> tuple[str, str, str, tuple[str, ...]] | None:
    key = (model._meta.table_name, names, type(database).__name__)
    if key in _shapes:
        return _shapes[key]
    sql, order = _peewee_many(model, names, 2, database)
    param = database.param
    first = sql.find(param)
    row_order = tuple(name for row, name in order if row == 0)
    start = sql.rfind("(", 0, first)
    end = sql.find(")", first) + 1
    values = sql[start:end]
    head, rest = sql[:start], sql[end:]
    shape: tuple[str, str, str, tuple[str, ...]] | None = None
    if start >= 0 and end > 0 and rest.startswith(", " + values) \
            and order == tuple((row, name) for row in range(2) for name in row_order):
        tail = rest[len(", " + values):]
        if head + values + ", " + values + tail == sql and param not in tail:
            shape = (head, values, tail, row_order)
    _shapes[key] = shape
    return shape


def _peewee_many(model: type[pw.Model], names: tuple[str, ...], count: int,
                 database: pw.Database) -> tuple[str, tuple[tuple[int, str], ...]]:
    """The `count`-row INSERT … RETURNING as peewee renders it, with its parameters' order."""
    fields = model._meta.fields
    marks = {(row, name): _MARK.format(f"{row}_{i}")
             for row in range(count) for i, name in enumerate(names)}
    query: Any = model.insert_many(
        [{fields[name]: pw.SQL(marks[row, name]) for name in names} for row in range(count)])
    query = query.returning(model._meta.primary_key)
    sql, params = query.sql()
    if params:
        raise ValueError(f"{model.__name__}: every field must be given ({params!r})")
    order = tuple(sorted(marks, key=lambda place: sql.index(marks[place])))
    for mark in marks.values():
        sql = sql.replace(mark, database.param)
    return sql, order


def _returns_ids(database: pw.Database) -> bool:
    if isinstance(database, pw.SqliteDatabase):
        return sqlite3.sqlite_version_info >= (3, 35)
    return bool(database.returning_clause)


_rendered_many_sql: dict[tuple[str, str, tuple[str, ...], str],
                         tuple[str, tuple[tuple[int, str], ...]]] = {}
MANY_ROWS = 64  # rows an INSERT of `insert_rows` carries at most


def insert_rows(model: type[M], rows: list[dict[str, Any]]) -> list[M]:
    """`insert_row` for each of `rows`, in that order, in as few statements as it takes (one
    per `MANY_ROWS` rows of the same fields): the statements a sweep runs for its checks. The
    ids come back with RETURNING (PostgreSQL; SQLite 3.35 and later, which peewee does not
    assume); without it, row by row."""
    database = db.obj
    if len(rows) == 1 or not _returns_ids(database):
        return [insert_row(model, **values) for values in rows]
    fields = model._meta.fields
    out: list[M] = []
    done = 0
    while done < len(rows):
        first = _complete(model, rows[done])
        names = tuple(sorted(first))
        chunk = [first]
        while done + len(chunk) < len(rows) and len(chunk) < MANY_ROWS:
            values = _complete(model, rows[done + len(chunk)])
            if tuple(sorted(values)) != names:
                break
            chunk.append(values)
        sql, order = _rendered_many(model, names, len(chunk), database)
        cursor = database.execute_sql(
            sql, [fields[name].db_value(chunk[row][name]) for row, name in order])
        ids = [found[0] for found in cursor.fetchall()]
        if len(ids) != len(chunk):
            raise pw.DatabaseError(f"{len(chunk)} rows inserted, {len(ids)} ids returned")
        # RETURNING gives the ids in the order of the VALUES rows (SQLite and PostgreSQL).
        for values, row_id in zip(chunk, ids, strict=True):
            instance: M = model(**values)
            instance.id = row_id
            instance._dirty.clear()
            out.append(instance)
        done += len(chunk)
    return out


def select_fields(model: type[pw.Model], names: tuple[str, ...], row_id: int
                  ) -> dict[str, Any] | None:
    """`model.select(*fields).where(id == row_id).dicts().first()`, with SQL rendered once:
    the named fields of one row, converted as the fields convert them (None: no such row)."""
    sql, _order = _rendered("select", model, names, db.obj)
    found = db.obj.execute_sql(sql, (row_id,)).fetchone()
    if found is None:
        return None
    fields = model._meta.fields
    return {name: fields[name].python_value(value)
            for name, value in zip(names, found, strict=True)}


def select_many_fields(model: type[pw.Model], names: tuple[str, ...], row_ids: list[int]
                       ) -> dict[int, dict[str, Any]]:
    """`select_fields` of each of `row_ids` (by id; a row that is gone is missing), in one
    query, its SQL rendered once (the list of ids is as long as it is)."""
    if not row_ids:
        return {}
    database = db.obj
    key = ("select-in", model._meta.table_name, names, type(database).__name__)
    found = _rendered_sql.get(key)
    if found is None:
        fields = model._meta.fields
        pk = model._meta.primary_key
        mark = _MARK.format("ids")
        sql, params = model.select(pk, *(fields[name] for name in names)).where(
            pk.in_(pw.SQL(mark))).sql()
        if params or sql.count(mark) != 1:
            raise ValueError(f"{model.__name__}: cannot render {sql!r} ({params!r})")
        found = _rendered_sql[key] = (sql, (mark,))
    sql, (mark,) = found
    sql = sql.replace(mark, "(" + ", ".join([database.param] * len(row_ids)) + ")")
    fields = model._meta.fields
    return {row[0]: {name: fields[name].python_value(value)
                     for name, value in zip(names, row[1:], strict=True)}
            for row in database.execute_sql(sql, list(row_ids)).fetchall()}


def save_changes(instance: pw.Model) -> int:
    """`instance.save()` of the fields set since it was read (only_save_dirty), with SQL
    rendered once for this set of fields. Returns the rows changed (0: nothing to write)."""
    dirty = sorted(f.name for f in instance.dirty_fields if f.name != "id")
    if not dirty:
        return 0
    model: type[pw.Model] = type(instance)
    sql, order = _rendered("update", model, tuple(dirty), db.obj)
    fields = model._meta.fields
    params = [instance.id if n == "\0id" else fields[n].db_value(instance.__data__.get(n))
              for n in order]
    cursor = db.obj.execute_sql(sql, params)
    instance._dirty.clear()
    return int(cursor.rowcount)


def save_many(instances: list[M]) -> int:
    """`save_changes` of each of `instances`, those with the same fields set in one
    `executemany` (a sweep's accounts, each with the fields its check set). Returns the number
    of statements it ran."""
    groups: dict[tuple[type[pw.Model], tuple[str, ...]], list[M]] = {}
    for instance in instances:
        dirty = tuple(sorted(f.name for f in instance.dirty_fields if f.name != "id"))
        if dirty:
            groups.setdefault((type(instance), dirty), []).append(instance)
    database = db.obj
    for (model, dirty), members in groups.items():
        sql, order = _rendered("update", model, dirty, database)
        fields = model._meta.fields
        params = [[member.id if n == "\0id" else fields[n].db_value(member.__data__.get(n))
                   for n in order] for member in members]
        if len(params) == 1 or not database.in_transaction():
            for one in params:  # each a statement of its own, as `save_changes` runs it
                database.execute_sql(sql, one)
        else:  # inside the caller's transaction: errors as peewee raises them
            with pw.__exception_wrapper__:
                database.cursor().executemany(sql, params)
        for member in members:
            member._dirty.clear()
    return len(groups)


class Statement:
    """Any query a sweep runs for every mailbox, rendered once per kind of database.

    `build(param)` makes the query with `param(name, field)` where each value goes (the value
    is converted as `field` converts it); `execute(**values)` runs it with those values:

        RESOLVE = Statement(lambda p: Alert.update(resolved_at=p("now", Alert.resolved_at))
                            .where(Alert.key == p("key", Alert.key)))
        RESOLVE.execute(now=now, key=key)
    """

    def __init__(self, build: Any) -> None:
        self._build = build
        self._rendered: dict[str, tuple[str, tuple[tuple[str, pw.Field], ...]]] = {}

    def _render(self, database: pw.Database) -> tuple[str, tuple[tuple[str, pw.Field], ...]]:
        marks: dict[str, tuple[str, pw.Field]] = {}

        def param(name: str, field: pw.Field) -> pw.SQL:
            mark = _MARK.format(f"{name}_{len(marks)}")
            marks[mark] = (name, field)
            return pw.SQL(mark)

        sql, params = self._build(param).sql()
        if params:  # a value peewee rendered itself: its place in the SQL is not known here
            raise ValueError(f"every value must be a parameter ({params!r})")
        order = tuple(marks[m] for m in sorted(marks, key=sql.index))
        for mark in marks:
            sql = sql.replace(mark, database.param)
        return sql, order

    def execute(self, **values: Any) -> Any:
        """Run it on the bound database; returns the cursor."""
        database = db.obj
        kind = type(database).__name__
        found = self._rendered.get(kind)
        if found is None:
            found = self._rendered[kind] = self._render(database)
        sql, order = found
        return database.execute_sql(sql, [field.db_value(values[name]) for name, field in order])
