"""Schema version 14: a version-13 database gains the leads' index on (state, mailbox, campaign)
and the partial index of flagged leads, loses the index on the state alone (the new one's prefix
serves it), keeps its rows; the attention model's counts are read from the indexes; the step is
idempotent."""

from __future__ import annotations

from pathlib import Path

from mailmonitor.models import Account, Campaign, Lead, close_db, db, open_db
from mailmonitor.models.lead import FLAGGED_INDEX
from mailmonitor.models.migrations import MIGRATIONS, current_version
from tests.schema_support import reopen_as_version

COUNTS = ["state", "mailbox_id", "campaign_id"]


def _indexes() -> dict[str, list[str]]:
    return {index.name: index.columns for index in db.get_indexes("lead")}


def _plan(sql: str, *params: object) -> str:
    return " ".join(str(row) for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params))


def test_a_version_13_database_gains_the_lead_count_indexes(data_dir: Path) -> None:
    path = data_dir / "mailmonitor.sqlite3"
    open_db(path)
    indexes = _indexes()
    assert COUNTS in indexes.values() and FLAGGED_INDEX in indexes  # new databases have them
    assert ["state"] not in indexes.values()
    campaign = Campaign.create(name="Spring")
    mailbox = Account.create(email="keep@ex.test")
    Lead.create(campaign=campaign, email="a@b.test", mailbox=mailbox, state="halted", flag="x")
    for name, columns in indexes.items():
        if columns == COUNTS or name == FLAGGED_INDEX:
            db.execute_sql(f'DROP INDEX "{name}"')
    db.execute_sql('CREATE INDEX "lead_state" ON "lead" ("state")')  # as version 13 had it
    reopen_as_version(path, 13)
    try:
        assert current_version() >= 14
        indexes = _indexes()
        assert list(indexes.values()).count(COUNTS) == 1 and FLAGGED_INDEX in indexes
        assert "lead_state" not in indexes
        halted = _plan('SELECT state, mailbox_id, campaign_id, COUNT(id) FROM "lead" '
                       "WHERE state IN (?, ?) GROUP BY state, mailbox_id, campaign_id",
                       "halted", "unassigned")
        assert "COVERING INDEX" in halted and "lead_state_mailbox_id_campaign_id" in halted, \
            halted
        flagged = _plan('SELECT campaign_id, email, flag FROM "lead" WHERE flag IS NOT NULL')
        assert FLAGGED_INDEX in flagged, flagged
        MIGRATIONS[14]()  # again: nothing breaks, nothing doubled
        assert _indexes() == indexes
        lead = Lead.get()
        assert (lead.email, lead.state, lead.flag, lead.mailbox.email) == \
            ("a@b.test", "halted", "x", "keep@ex.test")
    finally:
        close_db()
