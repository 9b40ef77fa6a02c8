"""Which database the models use: the SQLite file in the data folder (the default) or a team's
PostgreSQL server, chosen by `--database URL` or MAILMONITOR_DATABASE_URL.

    postgresql://USER@HOST[:PORT]/DBNAME[?sslmode=verify-full&sslrootcert=/path/ca.pem]
    sqlite:////absolute/path/to/file.sqlite3   (or a plain path)

A password never goes into the URL (it would end up in shell history, process lists and logs):
the server's client certificate options (`sslcert`, `sslkey`) or libpq's own password file
(~/.pgpass, PGPASSFILE) carry it.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee as pw

DATABASE_URL_ENV = "MAILMONITOR_DATABASE_URL"
POSTGRES_SCHEMES = ("postgresql", "postgres")
# Connection options passed to libpq as they are; anything else is a typo worth a clear line.
POSTGRES_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "connect_timeout",
                    "application_name", "target_session_attrs")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
CONNECT_TIMEOUT_SECONDS = 10
# Every statement is bounded: a server that stops answering becomes an error, not a hang.
STATEMENT_TIMEOUT_MS = 60_000
MAX_URL_LENGTH = 2000


class DatabaseURLError(ValueError):
    """A database URL that cannot be used; the message is one line for the rep."""


@dataclass(frozen=True)
class DatabaseTarget:
    """Where the data lives. `path` for SQLite; the connection options for PostgreSQL."""

    kind: str  # "sqlite" | "postgresql"
    path: Path | None = None
    name: str = ""
    host: str = ""
    port: int = 5432
    user: str = ""
    options: tuple[tuple[str, str], ...] = ()

    @property
    def is_server(self) -> bool:
        return self.kind == "postgresql"

    def describe(self) -> str:
        """For messages and logs (there is never a password in it)."""
        if self.kind == "sqlite":
            return str(self.path)
        user = f"{self.user}@" if self.user else ""
        return f"postgresql://{user}{self.host}:{self.port}/{self.name}"


def resolve_database(cli_value: str | None, data_dir: Path, filename: str) -> DatabaseTarget:
    """`--database`, else MAILMONITOR_DATABASE_URL, else the SQLite file in the data folder."""
    raw = (cli_value or os.environ.get(DATABASE_URL_ENV) or "").strip()
    if not raw:
        return DatabaseTarget("sqlite", path=data_dir / filename)
    return parse_database_url(raw)


def parse_database_url(raw: str) -> DatabaseTarget:
    raw = raw.strip()
    if not raw or len(raw) > MAX_URL_LENGTH:
        raise DatabaseURLError("the database URL is empty or too long")
    if "://" not in raw:
        return DatabaseTarget("sqlite", path=Path(raw).expanduser())
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise DatabaseURLError(f"the database URL is malformed ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if not parts.path or parts.path == "/":
            raise DatabaseURLError("a sqlite:// URL needs a file path (sqlite:////path/file)")
        return DatabaseTarget("sqlite", path=Path(unquote(parts.path)).expanduser())
    if scheme not in POSTGRES_SCHEMES:
        raise DatabaseURLError(f"unknown database type {parts.scheme!r}: use postgresql://… "
                               "or a SQLite file path")
    if parts.password is not None:
        raise DatabaseURLError("put the database password in ~/.pgpass (or use a client "
                               "certificate), not in the URL")
    name = unquote(parts.path.lstrip("/"))
    if not name or "/" in name:
        raise DatabaseURLError("the database URL needs a database name: "
                               "postgresql://user@host/DBNAME")
    if not parts.hostname:
        raise DatabaseURLError("the database URL needs a host: postgresql://user@HOST/dbname")
    options: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in POSTGRES_OPTIONS:
            raise DatabaseURLError(f"unknown database URL option {key!r} (known: "
                                   + ", ".join(POSTGRES_OPTIONS) + ")")
        if key == "sslmode" and value not in SSL_MODES:
            raise DatabaseURLError(f"sslmode must be one of {', '.join(SSL_MODES)}")
        if key == "connect_timeout" and not (value.isdigit() and 0 < int(value) <= 300):
            raise DatabaseURLError("connect_timeout must be a number of seconds from 1 to 300")
        options.append((key, value))
    return DatabaseTarget("postgresql", name=name, host=parts.hostname, port=port or 5432,
                          user=unquote(parts.username or ""), options=tuple(options))


def connect_database(target: DatabaseTarget) -> pw.Database:
    """A peewee database for the target (not yet bound to the models, not yet connected)."""
    if target.kind == "sqlite":
        assert target.path is not None
        return pw.SqliteDatabase(
            str(target.path),
            pragmas={
                "journal_mode": "wal",
                "foreign_keys": 1,
                "synchronous": "normal",
                "busy_timeout": 10000,
                "cache_size": -16000,
            },
            check_same_thread=False,
        )
    params: dict[str, object] = {
        "host": target.host, "port": target.port,
        "connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "mailmonitor",
        # A dead server or a cut network is noticed within about a minute, not never.
        "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
        "keepalives_count": 3,
        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c TimeZone=UTC",
    }
    if target.user:
        params["user"] = target.user
    params.update(dict(target.options))
    return pw.PostgresqlDatabase(target.name, **params)


def is_postgres(database: pw.Database | None) -> bool:
    return isinstance(database, pw.PostgresqlDatabase)


def first_line(exc: BaseException) -> str:
    """A driver error as one line (libpq's messages span several)."""
    text = " ".join(str(exc).split("\n")[0].split())
    return text or type(exc).__name__


# --- errors that end the work (a damaged file, a full disk), as opposed to a moment of contention

_FATAL_DATABASE = ("malformed", "not a database", "disk is full", "disk i/o", "readonly",
                   "read-only", "unable to open", "no such table")


def is_fatal_database_error(exc: BaseException) -> bool:
    """A database that cannot be read or written (damaged file, full disk, read-only), as
    opposed to a moment of contention ("database is locked"), which the next round simply
    retries. The whole chain counts: SQLite rolls a transaction back by itself when a write
    fails, so what surfaces is often "cannot rollback", with the real cause underneath."""
    return _fatal_cause(exc) is not None


def _fatal_cause(exc: BaseException) -> BaseException | None:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, pw.DatabaseError | sqlite3.DatabaseError) and any(
                word in str(current).lower() for word in _FATAL_DATABASE):
            return current
        stack += [current.__cause__, current.__context__]
    return None


def database_problem(exc: BaseException) -> str:
    """One line for the rep."""
    exc = _fatal_cause(exc) or exc
    text = str(exc).lower()
    if "disk is full" in text:
        return ("the disk is full: mailmonitor cannot record what it sends, so it stopped "
                "sending; free some space and start it again")
    if "readonly" in text or "read-only" in text:
        return ("the database cannot be written (the data folder or its database file is "
                "read-only): mailmonitor cannot record what it sends, so it stopped sending; "
                "make it writable and start it again")
    if "disk i/o" in text:
        return ("the database could not be written (disk I/O error: a full disk or a failing "
                "drive): mailmonitor cannot record what it sends, so it stopped sending; free "
                "some space and start it again")
    return (f"the database is damaged ({str(exc)[:120]}): sending stopped so nothing is sent "
            "twice; restore a backup of the data folder or ask support")
