"""Checks that never lock a mailbox out (issue 24, part 3), against a real Dovecot: ten mailboxes
of one server with a wrong password cost the server at most three failed logins in ten minutes,
as its own log counts them, and the checks held back say so in `check --json`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from mailmonitor.cli.common import EXIT_CRITICAL, EXIT_OK
from tests.servers.certs import TestPKI
from tests.servers.dovecot import Dovecot, MailUser

pytestmark = pytest.mark.integration

Cli = Callable[..., tuple[int, str, str]]
HELD = "held back: 3 failed logins to 127.0.0.1 in 10 min"


def failed_logins(dovecot: Dovecot, users: list[MailUser]) -> int:
    """Authentication attempts Dovecot refused for these users, from its log: the login
    processes (imap-login, submission-login) log each connection that ended in refusals with
    their number ("auth failed, 1 attempts in 0 secs"); its auth process logs each refused
    password ("Password mismatch"), and both must agree."""
    addresses = {u.email for u in users}
    lines = [line for line in dovecot.log_text().splitlines()
             if any(a in line for a in addresses)]
    counted = 0
    for line in lines:
        if "auth failed" in line or "Authentication failed" in line:
            found = re.search(r"auth failed, (\d+) attempts", line)
            counted += int(found.group(1)) if found else 1
    assert counted == sum("Password mismatch" in line for line in lines), lines
    return counted


def test_ten_wrong_passwords_on_one_server_cost_it_at_most_three_failed_logins(
        cli: Cli, dovecot: Dovecot, test_pki: TestPKI) -> None:
    users = [dovecot.new_user(prefix="budget") for _ in range(10)]
    for user in users:
        code, _, err = cli(
            "accounts", "add", "--email", user.email, "--imap-host", "127.0.0.1",
            "--imap-port", str(dovecot.imap_port), "--imap-security", "starttls",
            "--smtp-host", "127.0.0.1", "--smtp-port", str(dovecot.submission_port),
            "--smtp-security", "starttls", "--ca-file", str(test_pki.ca_cert),
            "--password-stdin", stdin="not-the-password\n")
        assert code == EXIT_OK, err

    code, out, err = cli("check", "--json")
    assert code == EXIT_CRITICAL, err
    rows = json.loads(out)
    assert 1 <= failed_logins(dovecot, users) <= 3, dovecot.log_tail()
    # One mailbox took the server's turn: its check and the confirming re-check reached a
    # verdict within the budget. The others were held back: nothing changed, and they say so.
    verdicts = [r for r in rows if r["status"] == "disconnected"]
    assert [(r["reason"], r["label"]) for r in verdicts] == [("invalid_credentials",
                                                             "Invalid Credentials")]
    # Its SMTP side, on the same server, was not asked to refuse the same password again.
    assert verdicts[0]["smtp"]["error"].startswith(
        "auth: Not tried: 127.0.0.1 refused this username and password over IMAP")
    held = [r for r in rows if r["status"] == "checking"]
    assert len(held) == 9
    for row in held:
        assert row["imap"] == {"ok": False, "latency_ms": row["imap"]["latency_ms"],
                               "error": HELD, "reason": None, "phases": row["imap"]["phases"],
                               "cert_expires_at": row["imap"]["cert_expires_at"]}
        assert row["smtp"]["error"] == HELD
        assert row["checked_at"] is None and row["reason"] is None  # never checked for real
    assert set(rows[0]) == {"email", "status", "reason", "label", "detail", "checked_at",
                            "imap", "smtp"}  # no new field

    # Asked again at once (a rep pressing "Check all"): everything is held, nothing is tried.
    code, out, _ = cli("check")
    assert code == EXIT_CRITICAL
    assert out.count(HELD) == 10
    assert 1 <= failed_logins(dovecot, users) <= 3
