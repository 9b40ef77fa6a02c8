"""models/fast_sql.py: the check's insert and the account's update with SQL rendered once
write exactly what `create` and `save` write, on both databases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from mailmonitor.models import Account, Check
from mailmonitor.models.fast_sql import insert_row, save_changes, select_fields
from tests.factories import make_account

pytestmark = pytest.mark.both_databases
NOW = datetime(2026, 12, 2, 9, 30)


def row(check: Check) -> dict[str, Any]:
    data = dict(Check.select().where(Check.id == check.id).dicts().get())
    data.pop("id")
    return data


def test_an_insert_stores_what_create_stores(db: object) -> None:
    account = make_account("fast@x.test")
    values: dict[str, Any] = dict(
        account=account, checked_at=NOW, status="connected", reason=None, detail="OK",
        latency_ms=12, imap={"ok": True, "phases": {"auth": 3.5}}, smtp={"ok": True},
        trigger="cli")
    made = Check.create(**values)
    fast = insert_row(Check, **values)
    assert fast.id != made.id and fast.id == Check.select().order_by(Check.id.desc()).get().id
    assert row(fast) == row(made)
    again = insert_row(Check, **{**values, "latency_ms": 99})  # the cached statement, again
    assert row(again)["latency_ms"] == 99 and Check.select().count() == 3


def test_fields_not_given_get_their_defaults_as_create_gives_them(db: object) -> None:
    account = make_account("defaults@x.test")
    fast = insert_row(Check, account=account, status="warning")
    stored = Check.get_by_id(fast.id)
    assert (stored.detail, stored.trigger, stored.imap, stored.round_trip) == (
        "", "schedule", None, None)
    assert stored.checked_at is not None  # the callable default ran


def test_saving_writes_only_the_fields_set_and_leaves_the_rest(db: object) -> None:
    account = make_account("edit@x.test", daily_limit=40)
    stale = Account.get_by_id(account.id)
    Account.update(daily_limit=25, name="Renamed").where(Account.id == account.id).execute()
    assert save_changes(stale) == 0  # nothing set: nothing written
    stale.last_latency_ms, stale.checked_at, stale.detail = 31, NOW, "fine"
    assert save_changes(stale) == 1
    fresh = Account.get_by_id(account.id)
    assert (fresh.last_latency_ms, fresh.checked_at, fresh.detail) == (31, NOW, "fine")
    assert (fresh.daily_limit, fresh.name) == (25, "Renamed")  # the rep's edit survives
    assert stale.dirty_fields == []
    stale.transient_since = None  # a None, and a different set of fields
    stale.consecutive_failures = 2
    assert save_changes(stale) == 1
    assert Account.get_by_id(account.id).consecutive_failures == 2


def test_a_select_reads_what_peewee_reads(db: object) -> None:
    account = make_account("read@x.test", status="warning", reason="timeout")
    Account.update(transient_since=NOW).where(Account.id == account.id).execute()
    names = ("status", "reason", "transient_since", "removed_at", "monitoring_enabled")
    fields = [Account._meta.fields[n] for n in names]
    expected = Account.select(*fields).where(Account.id == account.id).dicts().first()
    assert select_fields(Account, names, account.id) == expected
    assert select_fields(Account, names, account.id + 1000) is None


def test_a_statement_renders_once_and_converts_its_values_as_the_fields_do(db: object) -> None:
    from mailmonitor.models import Alert
    from mailmonitor.models.fast_sql import Statement

    builds: list[int] = []

    def build(p: Any) -> Any:
        builds.append(1)
        return Alert.update(resolved_at=p("now", Alert.resolved_at)).where(
            (Alert.key == p("key", Alert.key)) & Alert.resolved_at.is_null())

    resolve = Statement(build)
    for key in ("a", "b"):
        Alert.create(key=key, kind="k", title="t", message="m", created_at=NOW, updated_at=NOW)
    assert resolve.execute(now=NOW, key="a").rowcount == 1
    assert resolve.execute(now=NOW, key="a").rowcount == 0  # resolved already: not again
    assert resolve.execute(now=NOW, key="nope").rowcount == 0
    stored = {a.key: a.resolved_at for a in Alert.select()}
    assert stored == {"a": NOW, "b": None}  # a datetime back, as peewee's own update stores it
    assert builds == [1]


def test_a_statement_refuses_a_value_it_cannot_place(db: object) -> None:
    from mailmonitor.models import Alert
    from mailmonitor.models.fast_sql import Statement

    with pytest.raises(ValueError, match="parameter"):
        Statement(lambda p: Alert.update(resolved_at=NOW).where(
            Alert.key == p("key", Alert.key))).execute(key="a")


def test_a_many_row_insert_is_peewees_and_stores_what_create_stores(db: object) -> None:
    """insert_rows: one row of values repeated as often as the batch has rows is the SQL peewee
    renders for that many (both databases' placeholders), and 70 rows (a full statement and a
    short one) are stored as 70 `create`s store them, their ids in order."""
    from mailmonitor.models.base import db as bound
    from mailmonitor.models.fast_sql import (
        MANY_ROWS,
        _peewee_many,
        _rendered_many,
        _returns_ids,
        _rows_shape,
        insert_rows,
    )

    names = ("account", "checked_at", "detail", "imap", "latency_ms", "reason", "smtp",
             "status", "trigger")
    if _returns_ids(bound.obj):
        assert _rows_shape(Check, names, bound.obj) is not None  # repeated, not re-rendered
        for count in (1, 2, 3, 31, MANY_ROWS):
            assert _rendered_many(Check, names, count, bound.obj) == _peewee_many(
                Check, names, count, bound.obj)
    account = make_account("many@x.test")
    values = [dict(account=account, checked_at=NOW, status="connected", reason=None,
                   detail=f"OK {i}", latency_ms=i, imap={"ok": True, "n": i}, smtp=None,
                   trigger="cli") for i in range(70)]
    made = [Check.create(**v) for v in values]
    fast = insert_rows(Check, values)
    assert [c.id for c in fast] == sorted(c.id for c in fast)
    assert [row(c) for c in fast] == [row(c) for c in made]
    assert [c.latency_ms for c in fast] == list(range(70))
