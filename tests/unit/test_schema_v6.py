"""Schema version 6 (deliverability): a version-2 database gains the bounce, sending-hold,
suppression, unsubscribe-token and domain tables and the round-trip column of checks, keeping
its rows; the step is idempotent (it may meet tables another path created)."""

from __future__ import annotations

from pathlib import Path

from mailmonitor.models import Account, Check, Suppression, close_db, db, open_db
from mailmonitor.models.deliverability import DELIVERABILITY_MODELS
from mailmonitor.models.migrations import MIGRATIONS, current_version
from tests.schema_support import reopen_as_version


def test_a_version_2_database_is_brought_to_version_6(data_dir: Path) -> None:
    path = data_dir / "mailmonitor.sqlite3"
    open_db(path)
    account = Account.create(email="keep@ex.test")
    Check.create(account=account, status="connected")
    db.drop_tables(DELIVERABILITY_MODELS)
    db.execute_sql('ALTER TABLE "check" DROP COLUMN round_trip')
    reopen_as_version(path, 2)
    try:
        assert current_version() >= 6
        assert "round_trip" in {c.name for c in db.get_columns("check")}
        assert all(model.table_exists() for model in DELIVERABILITY_MODELS)
        assert Check.get().round_trip is None and Account.get().email == "keep@ex.test"
        Suppression.create(email="gone@x.example")
        MIGRATIONS[6]()  # again: nothing breaks, nothing is lost
        assert Suppression.select().count() == 1
        assert list(data_dir.glob("mailmonitor.sqlite3.v2.*.bak"))
    finally:
        close_db()
