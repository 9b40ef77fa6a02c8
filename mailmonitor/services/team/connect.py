"""Settings → Team, without Qt: which database this copy uses, testing a team database URL,
saving the choice (team.json, read at the next start), moving the personal SQLite database
into the team database, and the restart that follows.

The move runs the same code as `mailmonitor db copy --to URL` in a child process (the window's
own database binding is never swapped under its feet) and reports a line per table. Before
it, every active campaign of the personal database is paused, so no email leaves from it while
its rows are copied (nothing is sent twice); after a successful copy the same campaigns are
resumed *in the team database* and stay paused in the personal one."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import peewee as pw

from mailmonitor.models import DB_FILENAME, db, is_postgres
from mailmonitor.models.database import (
    DatabaseTarget,
    DatabaseURLError,
    connect_database,
    first_line,
    parse_database_url,
)
from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.team import local

TEST_TIMEOUT_SECONDS = 10  # libpq's connect_timeout (models/database.py) bounds the wait too
COPY_TIMEOUT_SECONDS = 30 * 60
_restart = {"asked": False}


@dataclass(frozen=True)
class InUse:
    description: str  # a file path or postgresql://user@host:port/db (never a password)
    is_team: bool
    chosen_outside: bool  # --database / MAILMONITOR_DATABASE_URL: the saved choice waits
    saved_url: str  # team.json's database_url ("" = none)
    personal_path: Path | None  # the data folder's SQLite file (what "Move" copies)


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    text: str  # one line for the rep


def in_use() -> InUse:
    database = db.obj
    if is_postgres(database):
        params = database.connect_params
        user = f"{params['user']}@" if params.get("user") else ""
        description = f"postgresql://{user}{params.get('host')}:{params.get('port')}/" \
                      f"{database.database}"
    else:
        description = str(getattr(database, "database", ""))
    folder = local.data_dir()
    return InUse(description, is_postgres(database), local.chosen_outside(),
                 local.read(folder).get("database_url", "") if folder else "",
                 folder / DB_FILENAME if folder else None)


def team_target(raw: str) -> DatabaseTarget:
    """A team database URL, or InvalidInput with one line (a SQLite path is not a team)."""
    try:
        target = parse_database_url(raw)
    except DatabaseURLError as exc:
        raise InvalidInput(str(exc)) from None
    if not target.is_server:
        raise InvalidInput("a team database is a PostgreSQL URL: postgresql://user@host/dbname")
    return target


def test_connection(raw: str) -> ConnectionResult:
    """Connect and look (blocking: run it off the Qt thread). Changes nothing."""
    try:
        target = team_target(raw)
    except InvalidInput as exc:
        return ConnectionResult(False, str(exc))
    database = connect_database(target)
    try:
        database.connect()
        version = database.execute_sql("SHOW server_version").fetchone()[0]
        row = database.execute_sql(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        tls = "encrypted" if row and row[0] else "NOT encrypted (add ?sslmode=verify-full)"
        tables = set(database.get_tables())
        if "schema_version" in tables:
            schema = int(database.execute_sql(
                "SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)
            accounts = int(database.execute_sql('SELECT COUNT(*) FROM "account"').fetchone()[0])
            contents = f"schema version {schema}, {accounts} mailboxes"
        else:
            contents = "empty (mailmonitor sets it up on first use)"
        return ConnectionResult(True, f"Connected to {target.describe()}: PostgreSQL "
                                      f"{version}, {tls}, {contents}.")
    except pw.DatabaseError as exc:
        return ConnectionResult(False, f"Cannot connect to {target.describe()}: "
                                       f"{first_line(exc)}")
    finally:
        if not database.is_closed():
            database.close()


def save_choice(raw: str | None) -> None:
    """Use this team database from the next start (None or "": the personal database)."""
    folder = local.data_dir()
    if folder is None:
        raise InvalidInput("this window has no data folder of its own (demo): nothing saved")
    url = (raw or "").strip()
    if url:
        team_target(url)
    local.write(folder, database_url=url or None)


def copy_command(url: str) -> list[str]:
    """The child process that copies the personal database into `url` (`db copy`)."""
    folder = local.data_dir()
    personal = in_use().personal_path
    if folder is None or personal is None:
        raise InvalidInput("this window has no data folder of its own (demo): nothing to move")
    team_target(url)
    base = [sys.executable] if getattr(sys, "frozen", False) else \
        [sys.executable, "-m", "mailmonitor"]
    return [*base, "db", "copy", "--to", url.strip(), "--progress",
            "--data-dir", str(folder), "--database", str(personal)]


def child_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MAILMONITOR_DATABASE_URL", None)  # --database names the source explicitly
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def parse_progress(line: str) -> tuple[str, int, int] | None:
    parts = line.split()
    if len(parts) == 4 and parts[0] == "progress" and parts[2].isdigit() and \
            parts[3].isdigit():
        return parts[1], int(parts[2]), int(parts[3])
    return None


def pause_for_move(now: datetime) -> list[int]:
    """Before the copy: nothing sends from the personal database (the campaigns paused)."""
    from mailmonitor.services.sending.control import pause_all_sending

    return pause_all_sending(now)


def resume_in_team(url: str, campaign_ids: list[int]) -> int:
    """After the copy: the campaigns paused for it run again in the team database (those
    still paused by the rep there; the engine re-checks their mailboxes). Blocking."""
    if not campaign_ids:
        return 0
    from mailmonitor.models import Campaign
    from mailmonitor.models.states import CampaignStatus, PauseReason

    database = connect_database(team_target(url))
    try:
        database.connect()
        query = Campaign.update(status=CampaignStatus.ACTIVE, pause_reason=None,
                                paused_at=None).where(
            Campaign.id.in_(campaign_ids), Campaign.status == CampaignStatus.PAUSED,
            Campaign.pause_reason == PauseReason.USER)
        with database.atomic():
            return int(database.rows_affected(database.execute(query)))
    finally:
        if not database.is_closed():
            database.close()


def resume_here(campaign_ids: list[int], now: datetime) -> int:
    """The move failed: the personal database's campaigns run again as before."""
    from mailmonitor.services.sending.control import resume_sending

    return resume_sending(campaign_ids, now)


def request_restart() -> None:
    _restart["asked"] = True


def restart_requested() -> bool:
    return _restart["asked"]


def restart_if_requested(code: int) -> int:
    """After the window closed (cli): start again in this process's place when asked."""
    if not _restart["asked"] or code != 0:
        return code
    _restart["asked"] = False
    argv = list(getattr(sys, "orig_argv", [])) or [sys.executable, *sys.argv]
    os.execv(argv[0], argv)  # does not return  # pragma: no cover
    return code  # pragma: no cover
