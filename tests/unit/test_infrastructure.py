"""Logging never keeps a secret; migrations take a backup first and run atomically."""

from __future__ import annotations

import logging
from pathlib import Path

import peewee as pw
import pytest

from mailmonitor.logsetup import redact, register_secret, setup_logging
from mailmonitor.models import Account, close_db, db, open_db
from mailmonitor.models.migrations import CURRENT_VERSION, current_version, migrate


def test_log_file_redacts_registered_secrets_and_credential_patterns(data_dir: Path) -> None:
    path = setup_logging(data_dir)
    register_secret("hunter2-very-secret")
    log = logging.getLogger("mailmonitor.test")
    log.warning("login failed for bob with hunter2-very-secret")
    log.warning("token refresh: refresh_token=1//0gAbCdEf access_token: ya29.xyz")
    log.warning("AUTH PLAIN AGJvYgBodW50ZXIy")
    try:
        raise RuntimeError("server said password=hunter2-very-secret")
    except RuntimeError:
        log.exception("boom")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text()
    assert "hunter2-very-secret" not in text
    assert "1//0gAbCdEf" not in text and "ya29.xyz" not in text
    assert "AGJvYgBodW50ZXIy" not in text
    assert text.count("[redacted]") >= 5
    assert "login failed for bob" in text


def test_redact_also_hides_the_base64_form() -> None:
    register_secret("pa55-word-xyz")
    import base64
    encoded = base64.b64encode(b"pa55-word-xyz").decode()
    assert "pa55" not in redact(f"sent {encoded} and pa55-word-xyz")


def test_migration_backs_up_the_file_and_is_atomic(data_dir: Path) -> None:
    path = data_dir / "mailmonitor.sqlite3"
    open_db(path)
    Account.create(email="keep@ex.test")

    def add_column() -> None:
        db.execute_sql("ALTER TABLE account ADD COLUMN nickname VARCHAR(50) DEFAULT ''")

    def broken() -> None:
        db.execute_sql("ALTER TABLE account ADD COLUMN other VARCHAR(5)")
        raise RuntimeError("step 3 failed half-way")

    v = CURRENT_VERSION
    assert migrate(path, {v + 1: add_column}, target=v + 1) == v + 1
    backups = list(data_dir.glob(f"mailmonitor.sqlite3.v{v}.*.bak"))
    assert len(backups) == 1
    with pytest.raises(RuntimeError):
        migrate(path, {v + 2: broken}, target=v + 2)
    assert current_version() == v + 1
    columns = {c.name for c in db.get_columns("account")}
    assert "nickname" in columns and "other" not in columns
    assert Account.get(Account.email == "keep@ex.test")
    close_db()
    backup_db = pw.SqliteDatabase(str(backups[0]))
    assert backup_db.execute_sql("SELECT email FROM account").fetchall() == [("keep@ex.test",)]
    backup_db.close()


def test_library_records_lose_credentials_and_url_paths_whichever_handler_gets_them(
        data_dir: Path) -> None:
    """urllib3 names a request's URL, psycopg2 a connection string, requests an Authorization
    header: every record is redacted where it is made, so even a handler mailmonitor did not
    install (a library's, a test's) never sees a credential or a URL's path."""
    path = setup_logging(data_dir)
    register_secret("/hooks/T0SECRET1/B0SECRET2")  # a webhook path, as its channel registers
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    foreign = Collect()
    logging.getLogger("urllib3").addHandler(foreign)
    try:
        logging.getLogger("urllib3.connection").warning(
            "Failed to parse headers (url=%s): %s",
            "http://127.0.0.1:8080/hooks/T0SECRET1/B0SECRET2?token=x", "[defect]")
        logging.getLogger("urllib3.connectionpool").warning(
            '%s://%s:%s "%s %s %s" %s', "https", "hooks.example", 443, "POST",
            "/hooks/T0SECRET1/B0SECRET2", "HTTP/1.1", 200)
        logging.getLogger("psycopg2").error(
            "could not connect: postgresql://mm:hunter2-db@10.0.0.5:5432/mm")
        logging.getLogger("requests").warning("headers {'Authorization': 'Bearer ya29.tok'}")
    finally:
        logging.getLogger("urllib3").removeHandler(foreign)
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text() + "\n".join(seen)
    for secret in ("SECRET", "hunter2-db", "ya29.tok", "token=x"):
        assert secret not in text
    assert "(url=http://127.0.0.1:8080/…): [defect]" in text
    assert "postgresql://10.0.0.5:5432/…" in text
    assert len(seen) == 2 and seen[1] == 'https://hooks.example:443 "POST [redacted] HTTP/1.1" 200'
