"""Owners and members on the command line against a real PostgreSQL team database (issue 15):
`team members|add-member|set-admin`, `--owner` on `accounts edit` / `campaigns edit`, `owner` in
`accounts list --json` / `campaigns list --json`, and team.json choosing the database and member.
Bad input: exit 3, one line, nothing changed."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailmonitor.models import close_db, set_this_member
from tests.servers.certs import TestPKI
from tests.servers.postgres import PostgresServer

pytestmark = pytest.mark.integration

CLI = Callable[..., tuple[int, str, str]]
_names = itertools.count(1)


@pytest.fixture
def team_url(postgres: PostgresServer, test_pki: TestPKI) -> Iterator[str]:
    name = f"members_{next(_names)}"
    postgres.create_database(name)
    yield postgres.url(name, sslmode="verify-full", sslrootcert=str(test_pki.ca_cert))
    close_db()
    set_this_member(None)
    postgres.drop_database(name)


def as_member(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("MAILMONITOR_MEMBER", name)


def add(cli: CLI, email: str) -> None:
    code, _, err = cli("accounts", "add", "--email", email, "--imap-host", "127.0.0.1",
                       "--imap-port", "993", "--imap-security", "ssl", "--smtp-host",
                       "127.0.0.1", "--smtp-port", "465", "--smtp-security", "ssl",
                       "--password-stdin", stdin="pw\n")
    assert code == 0, err


def listed(cli: CLI, what: str) -> dict[str, str]:
    code, out, err = cli(what, "list", "--json")
    assert code == 0, err
    key = "email" if what == "accounts" else "name"
    return {row[key]: row["owner"] for row in json.loads(out)}


def alice_with_a_campaign(cli: CLI, team_url: str, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    """On the team database, as alice: her mailbox alice@team.test and her campaign Q1."""
    monkeypatch.setenv("MAILMONITOR_DATABASE_URL", team_url)
    as_member(monkeypatch, "alice")
    add(cli, "alice@team.test")
    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps([{"subject": "Hi", "body": "Hello", "delay_days": 0}]))
    code, _, err = cli("campaigns", "create", "Q1", "--mailbox", "alice@team.test", "--steps",
                       str(steps))
    assert code == 0, err


def test_owners_and_members_on_a_team_database(cli: CLI, team_url: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    alice_with_a_campaign(cli, team_url, tmp_path, monkeypatch)
    as_member(monkeypatch, "bob")
    add(cli, "bob@team.test")
    assert listed(cli, "accounts") == {"alice@team.test": "alice", "bob@team.test": "bob"}
    assert listed(cli, "campaigns") == {"Q1": "alice"}

    code, out, _ = cli("team", "members", "--json")
    assert code == 0
    assert json.loads(out) == [
        {"name": "alice", "admin": True, "you": False, "mailboxes": 1, "campaigns": 1},
        {"name": "bob", "admin": False, "you": True, "mailboxes": 1, "campaigns": 0}]

    code, out, _ = cli("accounts", "edit", "bob@team.test", "--owner", "Alice")
    assert code == 0 and "owner changed to alice" in out
    code, out, _ = cli("campaigns", "edit", "Q1", "--owner", "bob")
    assert code == 0 and "owner is bob" in out
    assert listed(cli, "accounts") == {"alice@team.test": "alice", "bob@team.test": "alice"}
    assert listed(cli, "campaigns") == {"Q1": "bob"}

    # Bad input: one line, exit 3, nothing changed
    for args in (("accounts", "edit", "alice@team.test", "--owner", "nobody"),
                 ("campaigns", "edit", "Q1", "--owner", "nobody", "--rename", "Q2"),
                 ("team", "set-admin", "alice", "off"),
                 ("team", "add-member", "x" * 80),
                 ("team", "add-member", "ALICE"),
                 ("team", "set-admin", "zed", "on")):
        code, out, err = cli(*args)
        assert code == 3 and err.count("\n") == 1 and err.startswith("mailmonitor: "), args
    assert listed(cli, "accounts")["alice@team.test"] == "alice"
    assert listed(cli, "campaigns") == {"Q1": "bob"}

    assert cli("team", "add-member", "carol", "--admin")[0] == 0
    assert cli("team", "set-admin", "alice", "off")[0] == 0  # carol is an admin now
    code, out, _ = cli("team", "members")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["alice", "2", "mailboxes", "0", "campaigns"]
    assert lines[1].split()[:2] == ["bob", "you"] and lines[2].split()[:2] == ["carol", "admin"]


def test_team_json_picks_the_database_and_the_member(cli: CLI, team_url: str, data_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILMONITOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("MAILMONITOR_MEMBER", raising=False)
    (data_dir / "team.json").write_text(json.dumps({"member": "dana",
                                                    "database_url": team_url}))
    add(cli, "dana@team.test")
    assert listed(cli, "accounts") == {"dana@team.test": "dana"}
    assert not (data_dir / "mailmonitor.sqlite3").exists()  # the personal file was not used
    # A command line --database still wins.
    code, out, _ = cli("--database", str(data_dir / "own.sqlite3"), "accounts", "list", "--json")
    assert code == 0 and json.loads(out) == []


def test_rename_member_moves_ownership_and_refuses_a_taken_name(
        cli: CLI, team_url: str, data_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    alice_with_a_campaign(cli, team_url, tmp_path, monkeypatch)
    as_member(monkeypatch, "bob")
    add(cli, "bob@team.test")

    code, out, err = cli("team", "rename-member", "ALICE", "Alice Smith")
    assert (code, err) == (0, "")
    assert out == "alice is Alice Smith now (1 mailbox and 1 campaign moved along).\n"
    assert listed(cli, "accounts") == {"alice@team.test": "Alice Smith", "bob@team.test": "bob"}
    assert listed(cli, "campaigns") == {"Q1": "Alice Smith"}

    def members() -> list[tuple[str, bool, int]]:
        code, out, _ = cli("team", "members", "--json")
        assert code == 0
        return [(m["name"], m["admin"], m["mailboxes"]) for m in json.loads(out)]

    assert members() == [("Alice Smith", True, 1), ("bob", False, 1)]
    # Bad input: exit 3, one line, nothing changed.
    for args in (("Alice Smith", "BOB"), ("bob", "alice smith"), ("nobody", "carol"),
                 ("bob", "x" * 80), ("bob", "no/slashes"), ("bob",)):
        code, out, err = cli("team", "rename-member", *args)
        assert code == 3 and out == "" and err.count("\n") == 1, args
        assert err.startswith("mailmonitor: "), args
    assert "bob is already a member: choose another name" in cli(
        "team", "rename-member", "Alice Smith", "BOB")[2]
    assert members() == [("Alice Smith", True, 1), ("bob", False, 1)]
    assert listed(cli, "accounts") == {"alice@team.test": "Alice Smith", "bob@team.test": "bob"}

    # Renaming this copy's own member (named by team.json): the new name sticks.
    monkeypatch.delenv("MAILMONITOR_MEMBER")
    (data_dir / "team.json").write_text(json.dumps({"member": "bob"}))
    code, out, _ = cli("team", "rename-member", "bob", "Robert")
    assert code == 0 and out.startswith("bob is Robert now (1 mailbox and 0 campaigns")
    assert json.loads((data_dir / "team.json").read_text()) == {"member": "Robert"}
    code, out, _ = cli("team", "members", "--json")  # no "bob" registered again
    assert [(m["name"], m["you"]) for m in json.loads(out)] == [("Alice Smith", False),
                                                              ("Robert", True)]
    assert listed(cli, "accounts")["bob@team.test"] == "Robert"


def test_rename_member_has_a_help_text(cli: CLI, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli("team", "rename-member", "--help")
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert "usage: mailmonitor team rename-member" in out and "OLD NEW" in out
    assert "moves to the new name in one transaction" in " ".join(out.split())
    with pytest.raises(SystemExit):
        cli("team", "--help")
    assert "rename-member" in capsys.readouterr().out
