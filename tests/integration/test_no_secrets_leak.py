"""No secret ever leaves the keyring (spec §1): after a full add / check / revoke / reconnect cycle
of a password account and two OAuth accounts, with debug logging on, none of the passwords,
authorization codes, refresh or access tokens is in the data folder (database, WAL, logs,
backups), in any command's output, or in the diagnostics report."""

from __future__ import annotations

import base64
import json
import logging
import secrets as random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailmonitor import logsetup
from mailmonitor.cli.common import EXIT_CRITICAL, EXIT_OK
from mailmonitor.clock import utcnow
from mailmonitor.models import DB_FILENAME, Account, close_db, open_db
from mailmonitor.services.accounts.diagnostics import diagnostics_report
from tests.integration.oauth_support import oauth_add_args
from tests.servers.dovecot import Dovecot
from tests.servers.idp import IdentityProvider, TestBrowser

pytestmark = pytest.mark.integration

Cli = Callable[..., tuple[int, str, str]]


# Google rotates refresh tokens here too: every one the provider ever issued must stay out.
IDP_OPTIONS = {"rotate_google": True}


@pytest.fixture
def debug_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI logs at DEBUG (libraries included): the strictest case for redaction."""
    original, level = logsetup.setup_logging, logging.getLogger().level

    def at_debug(data_dir: Path, level: int = logging.INFO, stderr: bool = False) -> Path:
        return original(data_dir, logging.DEBUG, stderr)

    monkeypatch.setattr(logsetup, "setup_logging", at_debug)
    yield
    logging.getLogger().setLevel(level)


def variants(secret: str, users: list[str]) -> set[str]:
    """A secret as is, in base64, and inside the XOAUTH2 / AUTH PLAIN strings sent on the wire."""
    found = {secret, base64.b64encode(secret.encode()).decode()}
    for user in users:
        for wire in (f"user={user}\x01auth=Bearer {secret}\x01\x01", f"\x00{user}\x00{secret}"):
            found.add(base64.b64encode(wire.encode()).decode())
    return found


def test_no_secret_in_data_folder_outputs_or_diagnostics(
        cli: Cli, data_dir: Path, idp: IdentityProvider, dovecot_oauth: Dovecot,
        oauth_env: None, browser: TestBrowser, debug_logging: None) -> None:
    outputs: list[str] = []

    def run(*args: str, stdin: str | None = None, expect: int = EXIT_OK) -> str:
        code, out, err = cli(*args, stdin=stdin)
        outputs.extend([out, err])
        assert code == expect, (args, out, err)
        return out

    user = dovecot_oauth.new_user()
    google, microsoft = dovecot_oauth.new_user().email, dovecot_oauth.new_user().email
    old_password = user.password
    run("accounts", "add", "--email", user.email, "--imap-host", dovecot_oauth.host,
        "--imap-port", str(dovecot_oauth.imap_port), "--imap-security", "starttls",
        "--smtp-host", dovecot_oauth.host, "--smtp-port", str(dovecot_oauth.submission_port),
        "--smtp-security", "starttls", "--ca-file", str(dovecot_oauth.pki.ca_cert),
        "--password-stdin", stdin=old_password + "\n")
    run(*oauth_add_args("gmail", google, dovecot_oauth))
    run(*oauth_add_args("microsoft", microsoft, dovecot_oauth))
    rows = json.loads(run("check", "--json"))
    assert {row["status"] for row in rows} == {"connected"}

    idp.revoke(google)
    idp.revoke(microsoft)
    new_password = dovecot_oauth.set_password(user.email, "changed-" + random.token_hex(8)
                                              ).password
    rows = json.loads(run("check", "--json", expect=EXIT_CRITICAL))
    assert {row["reason"] for row in rows} == {"invalid_credentials", "token_expired"}

    run("accounts", "reconnect", user.email, "--password-stdin", stdin=new_password + "\n")
    run("accounts", "reconnect", google, "--timeout", "15")
    run("accounts", "reconnect", microsoft, "--timeout", "15")
    rows = json.loads(run("check", "--json"))
    assert {row["status"] for row in rows} == {"connected"}
    run("accounts", "list", "--json")
    run("accounts", "list")
    run("check")
    assert browser.opens == 4  # (and no browser errors: checked by the fixture)

    open_db(data_dir / DB_FILENAME)
    try:
        reports = [diagnostics_report(account, utcnow()) for account in Account.select()]
    finally:
        close_db()
    assert all("Last 5 checks" in r or "checks:" in r for r in reports)

    tokens = idp.issued_tokens()
    codes = idp.issued_codes()
    assert len(tokens) >= 12 and len(codes) == 4  # the cycle really produced them
    secrets = [old_password, new_password, idp.google_client_secret, *tokens, *codes]
    users = [user.email, google, microsoft]
    needles = {variant for secret in secrets for variant in variants(secret, users)}

    haystacks: dict[str, bytes] = {
        f"file {path.relative_to(data_dir)}": path.read_bytes()
        for path in data_dir.rglob("*") if path.is_file()
    }
    assert any(name.endswith(DB_FILENAME) for name in haystacks)
    assert any(".log" in name for name in haystacks)
    assert any(b"DEBUG" in text for name, text in haystacks.items() if ".log" in name)
    haystacks["command output"] = "\n".join(outputs).encode()
    haystacks["diagnostics"] = "\n".join(reports).encode()
    leaks = [(name, needle[:12] + "…") for name, text in haystacks.items()
             for needle in needles if needle.encode() in text]
    assert leaks == []
