"""Schema version 4 (issue 11): accounts gain `rejoined_at`, keeping their rows; the step runs
again harmlessly (missing version numbers of parallel work are skipped)."""

from __future__ import annotations

from pathlib import Path

from mailmonitor.models import Account, close_db, db, open_db
from mailmonitor.models.migrations import (
    CURRENT_VERSION,
    _v4_rejoined_accounts,
    current_version,
)
from tests.schema_support import reopen_as_version


def test_a_version_3_database_gains_the_rejoined_mark_and_keeps_its_accounts(data_dir: Path
                                                                             ) -> None:
    path = data_dir / "mailmonitor.sqlite3"
    open_db(path)
    Account.create(email="keep@ex.test", daily_limit=17)
    db.execute_sql("ALTER TABLE account DROP COLUMN rejoined_at")
    reopen_as_version(path, 3)
    try:
        assert current_version() == CURRENT_VERSION >= 4
        assert "rejoined_at" in {c.name for c in db.get_columns("account")}
        account = Account.get(Account.email == "keep@ex.test")
        assert (account.daily_limit, account.rejoined_at) == (17, None)
        _v4_rejoined_accounts()  # idempotent
        assert list(data_dir.glob("mailmonitor.sqlite3.v3.*.bak"))
    finally:
        close_db()
