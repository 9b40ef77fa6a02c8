"""Schema version 2 (sending engine): a version-1 database gains the hand-over mark of send
records and the reply-poll cursor table, keeping its rows."""

from __future__ import annotations

from pathlib import Path

from mailmonitor.models import Account, MailboxSync, SendRecord, close_db, db, open_db
from mailmonitor.models.migrations import CURRENT_VERSION, current_version
from tests.schema_support import reopen_as_version


def test_a_version_1_database_is_brought_to_version_2(data_dir: Path) -> None:
    path = data_dir / "mailmonitor.sqlite3"
    open_db(path)
    Account.create(email="keep@ex.test")
    # Make it look like version 1: no hand-over column, no sync table.
    db.execute_sql("ALTER TABLE send_record DROP COLUMN handed_over_at")
    db.execute_sql("DROP TABLE mailbox_sync")
    reopen_as_version(path, 1)
    try:
        assert current_version() == CURRENT_VERSION >= 2
        assert "handed_over_at" in {c.name for c in db.get_columns("send_record")}
        assert MailboxSync.table_exists()
        assert SendRecord.select().count() == 0
        assert Account.get(Account.email == "keep@ex.test")
        assert list(data_dir.glob("mailmonitor.sqlite3.v1.*.bak"))
    finally:
        close_db()
