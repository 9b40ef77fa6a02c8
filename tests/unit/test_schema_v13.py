"""Schema version 13: a version-12 database gains the index on the checks' kind and mailbox
(each mailbox's latest test email is found without reading the whole history), keeping its
rows; the step is idempotent."""

from __future__ import annotations

from pathlib import Path

from mailmonitor.models import Account, Check, close_db, db, open_db
from mailmonitor.models.migrations import MIGRATIONS, current_version
from tests.schema_support import reopen_as_version


def _trigger_indexes() -> list[str]:
    return [index.name for index in db.get_indexes("check")
            if index.columns == ["trigger", "account_id"]]


def test_a_version_12_database_gains_the_check_kind_index(data_dir: Path) -> None:
    path = data_dir / "mailmonitor.sqlite3"
    open_db(path)
    assert _trigger_indexes()  # a new database has it from the start
    account = Account.create(email="keep@ex.test")
    Check.create(account=account, status="connected", trigger="round_trip")
    for name in _trigger_indexes():
        db.execute_sql(f'DROP INDEX "{name}"')
    reopen_as_version(path, 12)
    try:
        assert current_version() >= 13
        assert len(_trigger_indexes()) == 1
        plan = " ".join(str(row) for row in db.execute_sql(
            'EXPLAIN QUERY PLAN SELECT MAX(id) FROM "check" WHERE "trigger" = ? '
            "GROUP BY account_id", ("round_trip",)).fetchall())
        assert "check_trigger_account_id" in plan, plan
        MIGRATIONS[13]()  # again: nothing breaks, no second index
        assert len(_trigger_indexes()) == 1
        assert Check.get().trigger == "round_trip" and Account.get().email == "keep@ex.test"
    finally:
        close_db()
