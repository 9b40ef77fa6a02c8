"""A provider change seen in a real answer (issue 24): a Microsoft 365 mailbox signed in with a
password, its IMAP on the loopback Dovecot and its SMTP on a scripted server that answers what
Exchange Online answers once SMTP sign-in with a password is off (`535 5.7.139 …
SmtpClientAuthentication is disabled`). The command line as a rep runs it: `check` says why,
`alerts` names the change and its fix, `policies` lists the mailbox under it, and the reconnect
wizard's failure help says the same."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mailmonitor.cli.common import EXIT_CRITICAL, EXIT_OK
from mailmonitor.models import account_by_email, close_db, open_db
from mailmonitor.services.accounts.connection_test import TestOutcome
from mailmonitor.services.monitoring.checker import run_check
from mailmonitor.services.reconnect.failure_words import failure_text
from tests.servers.certs import TestPKI
from tests.servers.dovecot import Dovecot
from tests.servers.scripted import Script, ScriptedServer

pytestmark = pytest.mark.integration

Cli = Callable[..., tuple[int, str, str]]
REFUSAL = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for "
           "the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.")
CHANGE_TITLE = "SMTP sign-in with a password is switched off"
FIX = "Switch the mailbox to Microsoft sign-in (OAuth)"


def test_an_answer_that_marks_microsofts_change_is_named_with_its_fix(
        cli: Cli, dovecot: Dovecot, test_pki: TestPKI, data_dir: Path) -> None:
    user = dovecot.new_user(domain="contoso.example")
    with ScriptedServer(Script("smtp", login=REFUSAL)) as smtp:
        code, _, err = cli(
            "accounts", "add", "--email", user.email, "--kind", "microsoft",
            "--imap-host", "127.0.0.1", "--imap-port", str(dovecot.imap_port),
            "--imap-security", "starttls", "--ca-file", str(test_pki.ca_cert),
            "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp.port), "--smtp-security", "plain",
            "--password-stdin", stdin=user.password + "\n")
        assert code == EXIT_OK, err

        code, out, err = cli("check", "--json")
        assert code == EXIT_CRITICAL, err
        [row] = json.loads(out)
        assert (row["status"], row["reason"]) == ("disconnected", "auth_method_disabled")
        assert row["imap"]["ok"] and not row["smtp"]["ok"]
        assert "5.7.139" in row["detail"]
        assert [kind for kind, _ in smtp.auth] == ["PLAIN", "PLAIN"]  # one AUTH, confirmed once

        code, out, _ = cli("alerts", "--json")
        [card] = json.loads(out)
        assert (card["kind"], card["mailboxes"]) == ("mailbox_broken", [user.email])
        assert CHANGE_TITLE in card["message"] and FIX in card["message"]

        code, out, _ = cli("policies", "--json")
        [change] = [c for c in json.loads(out) if c["id"] == "microsoft-smtp-basic-auth"]
        assert change["mailboxes"] == [user.email]

        # The reconnect wizard's words after a failed test say the same.
        open_db(data_dir / "mailmonitor.sqlite3")
        try:
            account = account_by_email(user.email)
            assert account is not None
            outcome = TestOutcome.of(*run_check(account, user.password, timeout=10))
        finally:
            close_db()
        words = failure_text(account, outcome, "reconnecting", 10)
        assert words.title == "The connection failed: Auth Method Disabled."
        assert CHANGE_TITLE in words.advice[0] and FIX in words.advice[0]
        adding = failure_text(account, outcome, "adding", 10)
        assert CHANGE_TITLE in adding.advice[0]
