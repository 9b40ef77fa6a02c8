"""A team database on a real PostgreSQL server (tests/servers/postgres.py, TLS on): choosing it,
`mailmonitor db init|status|migrate|copy`, migrations, a schema newer than the app, TLS."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailmonitor.memory_keyring import MemoryKeyring
from mailmonitor.models import (
    ALL_MODELS,
    CURRENT_VERSION,
    Account,
    Alert,
    AlertChange,
    AlertSeen,
    Bounce,
    Check,
    DomainAuth,
    Lead,
    LoginFailure,
    MailboxLease,
    MailboxSync,
    Maintenance,
    NotifyChannel,
    OutboxMessage,
    Runner,
    SealedSecret,
    SendingHold,
    SendRecord,
    Suppression,
    TeamMember,
    UnsubscribeToken,
    close_db,
    db,
    open_db,
    set_setting,
)
from mailmonitor.models.migrations import SchemaVersion
from mailmonitor.services.alerts.reconciler import reconcile
from tests.factories import make_account, make_campaign, make_leads
from tests.servers.certs import TestPKI
from tests.servers.postgres import PostgresServer

pytestmark = pytest.mark.integration

CLI = Callable[..., tuple[int, str, str]]
_names = itertools.count(1)


@pytest.fixture
def team_url(postgres: PostgresServer, test_pki: TestPKI) -> Iterator[str]:
    """A new, empty database on the test server, reached over verified TLS."""
    name = f"team_{next(_names)}"
    postgres.create_database(name)
    yield postgres.url(name, sslmode="verify-full", sslrootcert=str(test_pki.ca_cert))
    close_db()
    postgres.drop_database(name)


def add_account(cli: CLI, email: str, password: str, *extra: str) -> None:
    code, _, err = cli(*extra, "accounts", "add", "--email", email, "--imap-host", "127.0.0.1",
                       "--imap-port", "993", "--imap-security", "ssl", "--smtp-host",
                       "127.0.0.1", "--smtp-port", "465", "--smtp-security", "ssl",
                       "--password-stdin", stdin=password + "\n")
    assert code == 0, err


def test_db_init_status_and_commands_on_a_team_database(cli: CLI, team_url: str) -> None:
    code, out, _ = cli("--database", team_url, "db", "status")
    assert code == 1
    assert "version 0" in out and "empty: run `mailmonitor db init`" in out
    assert "TLS TLSv1." in out  # the connection is encrypted and the certificate verified

    code, out, _ = cli("--database", team_url, "db", "init")
    assert code == 0 and "Set up postgresql://mm@127.0.0.1" in out
    code, out, _ = cli("--database", team_url, "db", "init")
    assert code == 0 and "already set up" in out

    add_account(cli, "rep@team.example", "pw-team-1", "--database", team_url)
    code, out, _ = cli("--database", team_url, "accounts", "list", "--json")
    assert [a["email"] for a in json.loads(out)] == ["rep@team.example"]
    code, out, _ = cli("--database", team_url, "db", "status", "--json")
    info = json.loads(out)
    assert code == 0
    assert info["engine"] == "postgresql" and info["schema"] == "current"
    assert info["counts"]["accounts"] == 1 and info["tls"].startswith("TLSv1.")
    # The data folder's own SQLite file was never involved.
    code, out, _ = cli("accounts", "list", "--json")
    assert json.loads(out) == []


def test_the_environment_variable_chooses_the_database(
        cli: CLI, team_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILMONITOR_DATABASE_URL", team_url)
    add_account(cli, "env@team.example", "pw-env")
    monkeypatch.delenv("MAILMONITOR_DATABASE_URL")
    open_db(team_url)
    assert [a.email for a in Account.select()] == ["env@team.example"]


def test_an_older_team_schema_is_migrated_in_one_transaction(cli: CLI, team_url: str) -> None:
    open_db(team_url)
    # Back to schema version 1: no hand-over mark, no reply cursor table.
    db.execute_sql('ALTER TABLE "send_record" DROP COLUMN "handed_over_at"')
    db.execute_sql('DROP TABLE "mailbox_sync"')
    SchemaVersion.delete().execute()
    SchemaVersion.create(version=1)
    close_db()
    code, out, _ = cli("--database", team_url, "db", "status")
    assert code == 1 and "run `mailmonitor db migrate`" in out
    code, out, _ = cli("--database", team_url, "db", "migrate")
    assert code == 0 and f"from schema version 1 to {CURRENT_VERSION}" in out
    open_db(team_url, upgrade=False)
    assert "handed_over_at" in {c.name for c in db.get_columns("send_record")}
    assert MailboxSync.table_exists() and MailboxLease.table_exists() and Runner.table_exists()


def test_a_team_schema_newer_than_the_app_is_refused_and_left_alone(cli: CLI,
                                                                    team_url: str) -> None:
    open_db(team_url)
    SchemaVersion.create(version=999)
    tables = set(db.get_tables())
    close_db()
    for args in (("accounts", "list"), ("db", "migrate"), ("db", "init")):
        code, _, err = cli("--database", team_url, *args)
        assert code == 1, args
        assert err.strip().splitlines() == [
            "mailmonitor: the database's schema is version 999, newer than this mailmonitor "
            f"understands (version {CURRENT_VERSION}): update mailmonitor on this computer; "
            "nothing was changed"]
    open_db(team_url, upgrade=False)
    assert set(db.get_tables()) == tables
    assert max(v.version for v in SchemaVersion.select()) == 999


def test_a_sqlite_schema_newer_than_the_app_is_refused_too(cli: CLI, data_dir: Path) -> None:
    open_db(data_dir / "mailmonitor.sqlite3")
    SchemaVersion.create(version=999)
    close_db()
    code, _, err = cli("campaigns", "list")
    assert code == 1 and "schema is version 999" in err
    assert not list(data_dir.glob("*.bak"))  # not even a backup: nothing was touched


@pytest.mark.parametrize("url, words", [
    ("postgresql://mm:s3cret@127.0.0.1/team", "~/.pgpass"),
    ("postgresql://mm@127.0.0.1/team?sslmod=require", "unknown database URL option 'sslmod'"),
    ("postgresql://mm@127.0.0.1/team?sslmode=always", "sslmode must be one of"),
    ("postgresql://mm@127.0.0.1/", "needs a database name"),
    ("mysql://mm@127.0.0.1/team", "unknown database type 'mysql'"),
    ("postgresql://mm@127.0.0.1:99999/team", "malformed"),
])
def test_a_bad_database_url_is_one_line_and_changes_nothing(cli: CLI, data_dir: Path, url: str,
                                                            words: str) -> None:
    code, out, err = cli("--database", url, "accounts", "list")
    assert code == 3 and out == ""
    assert len(err.strip().splitlines()) == 1 and words in err
    assert "s3cret" not in err
    assert not (data_dir / "mailmonitor.sqlite3").exists()


def test_an_unreachable_server_is_one_clear_line(cli: CLI) -> None:
    from tests.servers.dovecot import _free_ports

    (port,) = _free_ports(1)
    code, _, err = cli("--database", f"postgresql://mm@127.0.0.1:{port}/team", "campaigns",
                       "list")
    assert code == 3
    assert err.strip().splitlines() == [
        f"mailmonitor: cannot open the database postgresql://mm@127.0.0.1:{port}/team: "
        f'connection to server at "127.0.0.1", port {port} failed: Connection refused']


def test_tls_is_verified_against_the_given_authority(cli: CLI, postgres: PostgresServer,
                                                     test_pki: TestPKI, team_url: str) -> None:
    name = team_url.split("?")[0].rsplit("/", 1)[-1]
    wrong = postgres.url(name, sslmode="verify-full", sslrootcert=str(test_pki.wrong_ca_cert))
    code, _, err = cli("--database", wrong, "db", "status")
    assert code == 1 and "certificate verify failed" in err
    plain = postgres.url(name, sslmode="disable")
    code, out, err = cli("--database", plain, "db", "status", "--json")
    assert out, err
    assert json.loads(out)["tls"] == "off"  # what a server without TLS would give: visible


def fill_every_table() -> dict[str, int]:
    """A little of everything, through the models (one row at least in every table)."""
    now = datetime(2026, 11, 23, 9, 30, 15, 123456)
    a = make_account("a@copy.example")
    b = make_account("b@copy.example", status="disconnected", reason="invalid_credentials")
    campaign = make_campaign("Copy me", [a, b])
    ids = make_leads(campaign, a, 30, state="active", cursor=1)
    make_leads(campaign, b, 20, prefix="halted", state="halted")
    lead = Lead.get_by_id(ids[0])
    SendRecord.create(lead=lead, campaign=campaign, account=a, step=0,
                      message_id="<m1@copy.example>", subject="Hi", state="sent", sent_at=now,
                      handed_over_at=now)
    Check.create(account=a, status="connected", imap={"ok": True, "latency_ms": 12},
                 smtp={"ok": True}, latency_ms=12)
    reconcile(now)  # the alert and its change, as the attention model stores them
    alert = Alert.get(Alert.kind == "mailbox_broken")
    assert alert.mailboxes == [b.email] and AlertChange.select().count() == 1
    AlertSeen.create(member="alice", alert=alert)
    Maintenance.create(scope="mailbox", target=a.email, starts_at=now,
                       ends_at=now + timedelta(hours=2), note="moving servers")
    MailboxSync.create(account=a, uidvalidity=7, last_uid=42)
    LoginFailure.create(server="imap.copy.example", mailbox=a.email, at=now)
    set_setting("grace_period_minutes", 90)
    MailboxLease.create(account=a, holder="laptop:1:ab", machine="laptop", expires_at=now)
    Runner.create(holder="laptop:1:ab", machine="laptop", pid=1, started_at=now,
                  heartbeat_at=now, expires_at=now, can_serve=[a.id])
    SealedSecret.create(account=a, to_fingerprint="0a1b-2c3d", to_machine="server",
                        from_machine="laptop", ciphertext="c2VhbGVkIGJveA==", created_at=now,
                        expires_at=now)
    channel = NotifyChannel.create(name="ops", kind="webhook", target="https://h.example/x",
                                   events=["disconnected"], owner="alice")
    OutboxMessage.create(channel=channel, delivery_id="d1", round_at=now, title="t", text="x")
    record = SendRecord.get()
    Bounce.create(account=a, send=record, lead=lead, email=lead.email, kind="hard",
                  status="5.1.1")
    SendingHold.create(account=b, reason="high_bounce_rate")
    Suppression.create(email="gone@copy.example")
    UnsubscribeToken.create(token="tok-1", lead=lead)
    DomainAuth.create(domain="copy.example", result={"spf": "pass"})
    TeamMember.create(name="alice", admin=True)
    return {m._meta.table_name: m.select().count() for m in ALL_MODELS if m is not SchemaVersion}


def dump(models: list[type]) -> dict[str, list[tuple[object, ...]]]:
    return {m._meta.table_name: list(m.select().order_by(m._meta.primary_key).tuples())
            for m in models}


def test_copy_moves_every_row_with_counts_checked_and_no_secret(
        cli: CLI, data_dir: Path, team_url: str, memory_keyring: MemoryKeyring) -> None:
    add_account(cli, "secret@copy.example", "pw-never-in-any-database")
    open_db(data_dir / "mailmonitor.sqlite3")
    counts = fill_every_table()
    assert all(counts.values()), counts
    models = [m for m in ALL_MODELS if m is not SchemaVersion]
    before = dump(models)
    keyring_before = dict(memory_keyring.store)
    close_db()

    code, out, err = cli("db", "copy", "--to", team_url)
    assert code == 0, err
    assert f"Copied {sum(counts.values())} rows" in out and "count checked" in out
    assert "50 lead" in out and "1 send record" in out

    open_db(team_url)
    assert dump(models) == before  # every row, every column, the same ids
    assert dict(memory_keyring.store) == keyring_before
    text = " ".join(str(v) for rows in dump(models).values() for row in rows for v in row)
    assert "pw-never-in-any-database" not in text
    # The id sequences moved past the copied rows: new rows get new ids.
    fresh = make_account("new@copy.example")
    assert fresh.id == max(a.id for a in Account.select().where(Account.id != fresh.id)) + 1
    close_db()
    # The source is untouched and still works.
    code, out, _ = cli("accounts", "list", "--json")
    assert len(json.loads(out)) == 3


def test_copy_into_a_database_with_data_is_refused_and_changes_nothing(
        cli: CLI, data_dir: Path, team_url: str) -> None:
    add_account(cli, "mine@copy.example", "pw-1")
    add_account(cli, "theirs@copy.example", "pw-2", "--database", team_url)
    code, _, err = cli("db", "copy", "--to", team_url)
    assert code == 1
    assert "already holds data (1 account)" in err and "nothing was changed" in err
    code, out, _ = cli("--database", team_url, "accounts", "list", "--json")
    assert [a["email"] for a in json.loads(out)] == ["theirs@copy.example"]


def test_copy_back_from_the_team_database_into_a_new_sqlite_file(
        cli: CLI, data_dir: Path, team_url: str) -> None:
    add_account(cli, "back@copy.example", "pw-3", "--database", team_url)
    target = data_dir / "personal-copy.sqlite3"
    code, _, err = cli("--database", team_url, "db", "copy", "--to", str(target))
    assert code == 0, err
    open_db(target)
    assert [a.email for a in Account.select()] == ["back@copy.example"]


def test_check_on_a_team_database_leaves_mailboxes_this_keyring_cannot_serve_alone(
        cli: CLI, team_url: str) -> None:
    """Another computer's mailbox (its secret is not in this keyring) is not reported
    disconnected by a `check` here: the copy that serves it checks it."""
    open_db(team_url)
    make_account("theirs@team.example", status="connected")
    close_db()
    code, out, _ = cli("--database", team_url, "check", "--json")
    assert code == 0
    assert [(r["email"], r["status"]) for r in json.loads(out)] == [
        ("theirs@team.example", "connected")]
