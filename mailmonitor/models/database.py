"""Which database the models use: the SQLite file in the data folder (the default) or a team's
PostgreSQL server, chosen by `--database URL` or MAILMONITOR_DATABASE_URL.

    postgresql://USER@HOST[:PORT]/DBNAME[?sslmode=verify-full&sslrootcert=/path/ca.pem]
    sqlite:////absolute/path/to/file.sqlite3   (or a plain path)

A password never goes into the URL (it would end up in shell history, process lists and logs):
the server's client certificate options (`sslcert`, `sslkey`) or libpq's own password file
(~/.pgpass, PGPASSFILE) carry it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee as pw

T = TypeVar("T")

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
            # Every transaction takes the write lock at its start: threads write beside the
            # loop (the reconcile, reply polls, sends), and in WAL mode a deferred transaction
            # that read before another connection's commit cannot write at all ("database is
            # locked" at once, whatever the busy timeout). Immediate ones wait their turn.
            lock_type="IMMEDIATE",
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
    return ReconnectingPostgresqlDatabase(target.name, **params)


class ReconnectingPostgresqlDatabase(pw.PostgresqlDatabase):  # type: ignore[misc]  # untyped
    """A team database that survives its server going away (restart, failover, network cut).

    peewee keeps one connection per thread and believes it open until told otherwise: once
    the server is gone, psycopg2 answers every statement with "connection already closed",
    for ever. Here, when any thread's statement finds the server gone, every connection opened
    before is treated as dead (they all were: one server, one restart), and each thread's next
    statement outside a transaction opens a new one — a thread that was idle meanwhile does
    not meet a stale socket after the server is back. Statements are never retried: inside a
    transaction the error stands (the transaction is gone with its connection, the `atomic()`
    block fails and nothing of it was committed; a COMMIT whose answer was lost is the one
    ambiguous case, which the send protocol is built for: services/sending/sendlog.py).
    Whether the server is reachable at all, and for how long it was not, is
    services/team/reachability.py's business."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.generation = 0  # bumped when the server was found gone
        super().__init__(*args, **kwargs)

    def _stale(self) -> bool:
        state = self._state
        if state.closed or state.conn is None:
            return False
        return bool(state.conn.closed) or \
            getattr(state, "generation", self.generation) != self.generation

    def connect(self, reuse_if_open: bool = False) -> bool:
        """peewee's, except that the connection is opened outside the lock peewee holds for
        every thread's connect: a connect that hangs (a server going away in the middle of the
        handshake, a cut network: up to connect_timeout) would hold every other thread's
        reconnect behind it — the window's event loop too."""
        state = self._state
        if self.deferred:
            raise pw.InterfaceError("Error, database must be initialized before opening a "
                                    "connection.")
        if not state.closed:
            if reuse_if_open:
                return False
            raise pw.OperationalError("Connection already opened.")
        state.reset()
        with pw.__exception_wrapper__:
            conn = self._connect()
            with self._lock:
                if self.server_version is None:
                    self._set_server_version(conn)
            self._initialize_connection(conn)
        state.set_connection(conn)
        state.generation = self.generation
        return True

    def forget_connections(self) -> None:
        """The server was found gone: no thread uses a connection opened before this again."""
        self.generation += 1

    def _noticing_loss(self, run: Callable[[], T]) -> T:
        try:
            return run()
        except Exception as exc:
            if is_connection_lost(exc):
                self.forget_connections()
            raise

    def _fresh(self) -> None:
        """At the start of a unit of work (a statement outside a transaction, or BEGIN): a
        connection from before the server went away is dropped, the next one is new. Never
        at COMMIT or ROLLBACK: a COMMIT sent on a new connection would "succeed" (there is no
        transaction there) while the real one was lost."""
        if self._stale() and not self.in_transaction():
            with contextlib.suppress(Exception):
                self._state.conn.close()
            self._state.reset()

    def execute_sql(self, sql: str, params: object = None) -> object:
        self._fresh()
        return self._noticing_loss(lambda: super(ReconnectingPostgresqlDatabase, self)
                                   .execute_sql(sql, params))

    def begin(self, *args: object, **kwargs: object) -> None:
        self._fresh()
        self._noticing_loss(lambda: super(ReconnectingPostgresqlDatabase, self)
                            .begin(*args, **kwargs))

    def commit(self) -> None:
        self._noticing_loss(lambda: super(ReconnectingPostgresqlDatabase, self).commit())

    def rollback(self) -> None:
        if self._state.conn is not None and self._state.conn.closed:
            return  # the server dropped the transaction with the connection
        try:
            super().rollback()
        except Exception as exc:
            if not is_connection_lost(exc):
                raise
            self.forget_connections()  # nothing to roll back on a connection that is gone


# SQLSTATEs of a server that ends or refuses the session: connection exceptions (class 08),
# admin / crash shutdown and "cannot connect now" (starting up, shutting down, recovering).
_SESSION_ENDED = ("57P01", "57P02", "57P03")


def is_connection_lost(exc: BaseException) -> bool:
    """Did this error come from the database server being out of reach (down, restarting, a cut
    network, a connection it dropped), as opposed to one statement failing (a constraint, a
    timeout, a deadlock)? Only PostgreSQL's driver errors count; SQLite's never do."""
    try:
        import psycopg2
        import psycopg2.extensions
    except ImportError:  # pragma: no cover - a dependency; SQLite-only installs stay fine
        return False
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        error = pending.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, psycopg2.InterfaceError):  # "connection already closed"
            return True
        if isinstance(error, psycopg2.extensions.QueryCanceledError
                      | psycopg2.extensions.TransactionRollbackError):
            return False  # a statement timeout, a deadlock: one statement's trouble
        if isinstance(error, psycopg2.OperationalError):
            code = getattr(error, "pgcode", None)
            # No SQLSTATE: libpq's own verdict (refused, reset, "server closed the connection
            # unexpectedly", SSL EOF, timeout while connecting).
            if code is None or str(code).startswith("08") or code in _SESSION_ENDED:
                return True
        # peewee re-raises a driver error as its own class, the original in `orig`.
        pending += [error.__cause__, error.__context__, getattr(error, "orig", None)]
    return False


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
