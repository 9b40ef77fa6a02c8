"""Statements that a sweep runs hundreds of times, with their SQL rendered once.

peewee takes longer to render a statement than SQLite takes to run it (about 1 ms against
0.1 ms for a check's insert): a sweep of 500 mailboxes records 500 checks and updates 500
accounts on the event loop's thread. These helpers let peewee render each statement once per
model, set of fields and database — with a marker where each value goes, so the order of the
parameters is read off the SQL rather than guessed — and then run it with the values converted
as the fields convert them (`db_value`). Same SQL, same conversions as `create` / `save`."""

from __future__ import annotations

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
