"""For the schema tests: a database made by this version, taken back to an older one by the
test, is opened again as the app opens it (its migrations since that version run)."""

from __future__ import annotations

from pathlib import Path

from mailmonitor.models import close_db, open_db
from mailmonitor.models.migrations import SchemaVersion


def reopen_as_version(path: Path, version: int) -> None:
    """Record the schema as `version`, close the database and open it again."""
    SchemaVersion.delete().execute()
    SchemaVersion.create(version=version)
    close_db()
    open_db(path)
