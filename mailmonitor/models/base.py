"""The database handle: one peewee Proxy bound at start-up (SQLite by default)."""

from __future__ import annotations

import json
from typing import Any

import peewee as pw

db = pw.DatabaseProxy()


class BaseModel(pw.Model):  # type: ignore[misc]  # peewee is untyped here (pyproject.toml)
    id = pw.AutoField()

    class Meta:
        database = db
        legacy_table_names = False


class JSONField(pw.TextField):  # type: ignore[misc]  # as above
    """A dict/list stored as JSON text (portable: no SQLite-only JSON type)."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value: Any) -> Any:
        return None if value is None else json.loads(value)
