"""This copy's own team settings: `team.json` in the data folder (not in the database, since
they say *which* database and *who* this copy is).

    {"member": "alice", "database_url": "postgresql://alice@db.example/sales?sslmode=verify-full"}

`member`: the team member name of this copy's user (default: the computer's user name);
MAILMONITOR_MEMBER overrides it. `database_url`: the team database the window and the command
line use when neither `--database` nor MAILMONITOR_DATABASE_URL is given (Settings → Team
writes it; it never holds a password, `models.database.parse_database_url` refuses one).
A damaged file is ignored with a log line (the personal database is used), never fatal."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from mailmonitor.models import set_this_member
from mailmonitor.models.database import (
    DATABASE_URL_ENV,
    DatabaseTarget,
    parse_database_url,
    resolve_database,
)
from mailmonitor.models.team import clean_member_name

log = logging.getLogger(__name__)

FILENAME = "team.json"
MEMBER_ENV = "MAILMONITOR_MEMBER"
MAX_BYTES = 16_384
# Set at start-up (cli._main): this copy's data folder, the database it chose and whether
# `--database` / MAILMONITOR_DATABASE_URL chose it (then team.json's URL does not apply).
_started: dict[str, Any] = {}


def data_dir() -> Path | None:
    found: Path | None = _started.get("data_dir")
    return found


def started_on() -> DatabaseTarget | None:
    found: DatabaseTarget | None = _started.get("target")
    return found


def chosen_outside() -> bool:
    """The database came from --database or MAILMONITOR_DATABASE_URL (not team.json)."""
    return bool(_started.get("outside"))


def read(data_dir: Path) -> dict[str, Any]:
    path = data_dir / FILENAME
    try:
        if not path.exists():
            return {}
        if path.stat().st_size > MAX_BYTES:
            raise ValueError("too large")
        value = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(value, dict):
            raise ValueError("not an object")
        return {k: v for k, v in value.items() if k in ("member", "database_url")
                and isinstance(v, str)}
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return {}


def write(data_dir: Path, **changes: str | None) -> None:
    """Change keys of team.json (None removes one); written whole, then renamed into place."""
    values: dict[str, Any] = read(data_dir)
    for key, value in changes.items():
        if key not in ("member", "database_url"):
            raise KeyError(key)
        if value:
            values[key] = value
        else:
            values.pop(key, None)
    path = data_dir / FILENAME
    temp = path.with_suffix(".json.tmp")
    temp.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.chmod(temp, 0o600)
    temp.replace(path)


def apply(data_dir: Path) -> None:
    """Set this copy's member name (before any database is opened: the schema step that adds
    owners gives existing rows to this member)."""
    _started.clear()
    _started["data_dir"] = data_dir
    raw = os.environ.get(MEMBER_ENV) or read(data_dir).get("member") or ""
    set_this_member(clean_member_name(raw) or None)


def database_for(cli_value: str | None, data_dir: Path, filename: str) -> DatabaseTarget:
    """`--database`, else MAILMONITOR_DATABASE_URL, else team.json's URL, else the personal
    SQLite file. A bad URL in team.json is ignored (logged) so the window always starts."""
    if (cli_value or os.environ.get(DATABASE_URL_ENV) or "").strip():
        target = resolve_database(cli_value, data_dir, filename)
        _started.update(target=target, outside=True)
        return target
    url = read(data_dir).get("database_url", "").strip()
    target = resolve_database(None, data_dir, filename)
    if url:
        try:
            target = parse_database_url(url)
        except ValueError as exc:
            log.warning("ignoring the team database URL in %s: %s", FILENAME, exc)
    _started.update(target=target, outside=False)
    return target
