"""Shared fixtures: a fresh SQLite file per test, an in-memory keyring, an injectable clock."""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from mailmonitor.clock import FakeClock
from mailmonitor.events import bus
from mailmonitor.memory_keyring import MemoryKeyring
from mailmonitor.models import close_db, open_db
from tests.servers.certs import TestPKI, shared_test_pki
from tests.servers.dovecot import Dovecot, MailUser
from tests.servers.postgres import PostgresServer
from tests.servers.smtp_sink import SmtpSink


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def _clean_bus() -> Iterator[None]:
    yield
    bus._handlers.clear()


@pytest.fixture(autouse=True)
def _fresh_login_budget() -> Iterator[None]:
    """Each test starts with an empty login budget (its database has no failed logins)."""
    from mailmonitor.services.monitoring.login_budget import forget_default_budget

    forget_default_budget()
    yield
    forget_default_budget()


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mm-data-"))
    yield path


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """"sqlite" unless the test is marked `both_databases` (then it runs once per backend)."""
    return str(getattr(request, "param", "sqlite"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames and \
            metafunc.definition.get_closest_marker("both_databases"):
        metafunc.parametrize("db_backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def db(db_backend: str, data_dir: Path, request: pytest.FixtureRequest) -> Iterator[Path | str]:
    """A fresh database bound to the models, schema created: a real SQLite file in a fresh
    folder, or (backend "postgresql") the session's PostgreSQL test database, emptied."""
    if db_backend == "postgresql":
        url: str = request.getfixturevalue("postgres_database")
        open_db(url)
        empty_all_tables()
        yield url
        close_db()
        return
    path = data_dir / "mailmonitor.sqlite3"
    open_db(path)
    yield path
    close_db()


def empty_all_tables() -> None:
    """Every table but the schema version, emptied with its id sequences reset (one TRUNCATE:
    a few milliseconds, where a database per test would take a tenth of a second)."""
    from mailmonitor.models import ALL_MODELS, SchemaVersion
    from mailmonitor.models import db as database

    tables = ", ".join(f'"{m._meta.table_name}"' for m in ALL_MODELS if m is not SchemaVersion)
    database.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(scope="session")
def postgres(test_pki: TestPKI) -> Iterator[PostgresServer]:
    """A private PostgreSQL server on loopback for the session (TLS on, test PKI)."""
    with PostgresServer(test_pki) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_database(postgres: PostgresServer) -> str:
    """URL of the session's test database; `db` (backend postgresql) empties it per test."""
    url = postgres.create_database("mm_tests")
    open_db(url)
    close_db()
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cli(data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> Callable[..., tuple[int, str, str]]:
    """Run the command line in-process on the test's data folder: (exit code, stdout, stderr).
    `stdin=` feeds standard input (for --password-stdin)."""
    from mailmonitor.cli import main

    monkeypatch.setenv("MAILMONITOR_DATA_DIR", str(data_dir))

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


# --- Real mail servers on loopback (tests/servers): Dovecot IMAP + submission, an SMTP sink ---


@pytest.fixture(scope="session")
def test_pki() -> TestPKI:
    """Test CA, server certificates for 127.0.0.1/localhost (valid, expired, expiring in 5 days)
    and an unrelated wrong CA; made once per session."""
    return shared_test_pki()


@pytest.fixture(scope="session")
def smtp_sink_server() -> Iterator[SmtpSink]:
    """The session's SMTP sink; Dovecot's submission relays to it. Prefer ``smtp_sink``."""
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def smtp_sink(smtp_sink_server: SmtpSink) -> SmtpSink:
    """The session's SMTP sink, emptied for this test."""
    smtp_sink_server.clear()
    return smtp_sink_server


@pytest.fixture(scope="session")
def dovecot(test_pki: TestPKI, smtp_sink_server: SmtpSink) -> Iterator[Dovecot]:
    """A real Dovecot on 127.0.0.1 for the whole session (valid certificate). Tests should not
    share users: take ``dovecot_user`` (or call ``dovecot.new_user()``)."""
    with Dovecot(test_pki, relay_port=smtp_sink_server.port) as server:
        yield server


@pytest.fixture
def dovecot_user(dovecot: Dovecot) -> MailUser:
    """A fresh user with a unique address and a random password on the session's Dovecot."""
    return dovecot.new_user()


@pytest.fixture(scope="session")
def dovecot_expired(test_pki: TestPKI, smtp_sink_server: SmtpSink) -> Iterator[Dovecot]:
    """A Dovecot whose TLS certificate (signed by the test CA) has expired."""
    with Dovecot(test_pki, certificate="expired", relay_port=smtp_sink_server.port) as server:
        yield server


@pytest.fixture(scope="session")
def dovecot_soon_expiring(test_pki: TestPKI, smtp_sink_server: SmtpSink) -> Iterator[Dovecot]:
    """A Dovecot whose TLS certificate (signed by the test CA) expires in 5 days."""
    with Dovecot(
        test_pki, certificate="soon_expiring", relay_port=smtp_sink_server.port
    ) as server:
        yield server


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is a failed test here: CI must prove every feature, not skip it."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and exitstatus == 0:
        session.exitstatus = 1
        if reporter:
            reporter.write_line(f"FAILED: {skipped} test(s) skipped; skips are not allowed",
                                red=True)
