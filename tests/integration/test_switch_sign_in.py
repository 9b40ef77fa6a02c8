"""Switching a mailbox's sign-in method in place (issue 24): `accounts edit EMAIL --kind
microsoft|gmail|imap`, against the loopback identity provider and a real Dovecot that takes the
provider's tokens over XOAUTH2 (and the same users' passwords).

The mailbox keeps its id, check history, campaigns and leads; the old secret leaves the keyring
only once the new method connected; a failed switch changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailmonitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from mailmonitor.models import DB_FILENAME, Account, CampaignMailbox, Check, Lead, close_db, open_db
from tests.integration.oauth_support import STEPS, stored_refresh_token, stored_secret
from tests.servers.dovecot import Dovecot, MailUser
from tests.servers.idp import IdentityProvider, TestBrowser

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("oauth_env")]

Cli = Callable[..., tuple[int, str, str]]
OAUTH_SLOT = {"gmail": "refresh_token", "microsoft": "msal_cache"}


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def servers(dovecot: Dovecot) -> list[str]:
    """The test Dovecot instead of the provider's servers (IMAPS, submission with STARTTLS)."""
    return ["--imap-host", dovecot.host, "--imap-port", str(dovecot.imaps_port),
            "--imap-security", "ssl", "--smtp-host", dovecot.host,
            "--smtp-port", str(dovecot.submission_port), "--smtp-security", "starttls"]


def add_password_mailbox(cli: Cli, user: MailUser, dovecot: Dovecot, kind: str = "imap"
                         ) -> None:
    code, _, err = cli("accounts", "add", "--email", user.email, "--kind", kind, "--name", "Rep",
                       *servers(dovecot), "--ca-file", str(dovecot.pki.ca_cert),
                       "--min-gap", "0", "--daily-limit", "40", "--password-stdin",
                       stdin=user.password + "\n")
    assert code == EXIT_OK, err


def snapshot(data_dir: Path, email: str) -> dict[str, Any]:
    """What the database holds about the mailbox (read directly, between two commands)."""
    open_db(data_dir / DB_FILENAME)
    try:
        account = Account.get(Account.email == email)
        return {
            "id": account.id, "kind": account.kind, "auth_method": account.auth_method,
            "status": account.status, "imap_host": account.imap_host,
            "daily_limit": account.daily_limit, "name": account.name,
            "checks": [c.trigger for c in Check.select().where(Check.account == account)
                       .order_by(Check.id)],
            "campaigns": sorted((link.campaign_id, link.active) for link in
                                CampaignMailbox.select().where(
                                    CampaignMailbox.account == account)),
            "leads": sorted((lead.email, lead.state, lead.cursor) for lead in
                            Lead.select().where(Lead.mailbox == account)),
        }
    finally:
        close_db()


def with_history(cli: Cli, user: MailUser, dovecot: Dovecot, tmp_path: Path) -> None:
    """A password mailbox with two checks, a campaign and three leads."""
    add_password_mailbox(cli, user, dovecot)
    for _ in range(2):
        code, out, _ = cli("check", "--json", user.email)
        assert code == EXIT_OK, out
    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps(STEPS))
    assert cli("campaigns", "create", "Outreach", "--mailbox", user.email,
               "--steps", str(steps))[0] == EXIT_OK
    leads = tmp_path / "leads.csv"
    leads.write_text("email,first_name\n" + "".join(f"l{i}@x.test,L{i}\n" for i in range(3)))
    assert cli("leads", "import", "Outreach", str(leads))[0] == EXIT_OK


@pytest.mark.parametrize("kind", ["microsoft", "gmail"])
def test_password_mailbox_switches_to_oauth_and_back_keeping_its_history(
        kind: str, cli: Cli, idp: IdentityProvider, dovecot_oauth: Dovecot,
        browser: TestBrowser, data_dir: Path, tmp_path: Path) -> None:
    user = dovecot_oauth.new_user()
    email = user.email
    with_history(cli, user, dovecot_oauth, tmp_path)
    before = snapshot(data_dir, email)
    assert (before["kind"], before["auth_method"]) == ("imap", "password")
    assert len(before["checks"]) == 2 and len(before["leads"]) == 3 and before["campaigns"]
    assert stored_secret(email, "password") == user.password

    # Signing in as another address is refused: nothing changes, the password stays.
    browser.user = "intruder@example.test"
    code, _, err = cli("accounts", "edit", email, "--kind", kind, *servers(dovecot_oauth),
                       "--timeout", "15")
    assert code == EXIT_FAILED
    line = one_line(err)
    assert "You signed in as intruder@example.test" in line and "still signs in with" in line
    assert snapshot(data_dir, email) == before
    assert stored_secret(email, "password") == user.password
    assert stored_secret(email, OAUTH_SLOT[kind]) is None

    # The real sign-in: same mailbox, one more check (the test of the new method), OAuth.
    browser.user = None
    introspections = idp.stats.introspections
    code, out, err = cli("accounts", "edit", email, "--kind", kind, *servers(dovecot_oauth),
                         "--timeout", "15")
    assert code == EXIT_OK, err
    assert "Switched" in out and "Connected" in out
    assert browser.visits[-1].url in out  # the sign-in link is printed
    assert idp.stats.introspections >= introspections + 2  # real XOAUTH2 logins, both sides
    after = snapshot(data_dir, email)
    assert after["id"] == before["id"]
    assert (after["kind"], after["auth_method"], after["status"]) == (kind, "oauth2",
                                                                     "connected")
    assert after["checks"] == before["checks"] + ["switch"]
    assert (after["campaigns"], after["leads"]) == (before["campaigns"], before["leads"])
    assert (after["name"], after["daily_limit"]) == ("Rep", 40)
    assert stored_secret(email, "password") is None  # the old secret left the keyring
    assert stored_refresh_token(email, kind) in idp.live_refresh_tokens(email)
    code, out, _ = cli("check", "--json", email)
    assert code == EXIT_OK and json.loads(out)[0]["status"] == "connected"

    # The same kind again: nothing to change.
    code, out, _ = cli("accounts", "edit", email, "--kind", kind)
    assert code == EXIT_OK and "nothing to change" in out

    # A wrong password does not switch back: the sign-in stays.
    signed_in = snapshot(data_dir, email)
    code, _, err = cli("accounts", "edit", email, "--kind", "imap", "--password-stdin",
                       stdin="not-the-password\n")
    assert code == EXIT_FAILED
    assert "did not connect with a password" in one_line(err)
    assert snapshot(data_dir, email) == signed_in
    assert stored_secret(email, "password") is None
    assert stored_refresh_token(email, kind) in idp.live_refresh_tokens(email)

    # Back to a password (the servers stay): the sign-in leaves the keyring.
    code, out, err = cli("accounts", "edit", email, "--kind", "imap", "--password-stdin",
                         stdin=user.password + "\n")
    assert code == EXIT_OK, err
    back = snapshot(data_dir, email)
    assert (back["id"], back["kind"], back["auth_method"], back["status"]) == \
        (before["id"], "imap", "password", "connected")
    assert back["checks"] == signed_in["checks"] + ["switch"]
    assert back["imap_host"] == dovecot_oauth.host
    assert (back["campaigns"], back["leads"]) == (before["campaigns"], before["leads"])
    assert stored_secret(email, "password") == user.password
    assert stored_secret(email, OAUTH_SLOT[kind]) is None


def test_bad_input_is_exit_3_and_changes_nothing(
        cli: Cli, idp: IdentityProvider, dovecot_oauth: Dovecot, browser: TestBrowser,
        data_dir: Path) -> None:
    user = dovecot_oauth.new_user()
    add_password_mailbox(cli, user, dovecot_oauth)
    before = snapshot(data_dir, user.email)
    for args, stdin, words in [
        (["nobody@example.test", "--kind", "microsoft"], None, "no account"),
        ([user.email, "--kind", "bogus"], None, "unknown kind"),
        ([user.email, "--kind", "imap"], None, "--password-stdin"),
        ([user.email, "--kind", "microsoft", "--password-stdin"], "pw\n", "no password"),
        ([user.email, "--kind", "imap", "--no-browser", "--password-stdin"], "pw\n",
         "--no-browser"),
        ([user.email, "--kind", "microsoft", "--daily-limit", "5"], None, "--daily-limit"),
        ([user.email, "--kind", "microsoft", "--imap-port", "0"], None, "port"),
        ([user.email, "--no-browser"], None, "--kind"),
    ]:
        code, _, err = cli("accounts", "edit", *args, stdin=stdin)
        assert code == EXIT_USAGE, (args, err)
        assert words in one_line(err), (args, err)
    assert browser.opens == 0
    assert snapshot(data_dir, user.email) == before
    assert stored_secret(user.email, "password") == user.password


def test_a_microsoft_password_mailbox_switched_to_oauth_leaves_the_basic_auth_change(
        cli: Cli, idp: IdentityProvider, dovecot_oauth: Dovecot, browser: TestBrowser,
        data_dir: Path) -> None:
    user = dovecot_oauth.new_user()
    add_password_mailbox(cli, user, dovecot_oauth, kind="microsoft")

    def hit_by_basic_auth_change() -> list[str]:
        code, out, _ = cli("policies", "--json")
        assert code == EXIT_OK
        rows = json.loads(out)
        changes = rows["changes"] if isinstance(rows, dict) else rows
        (change,) = [c for c in changes if c["id"] == "microsoft-smtp-basic-auth"]
        assert change["action"] == "switch_sign_in"
        return list(change["mailboxes"])

    assert user.email in hit_by_basic_auth_change()
    # Same kind (microsoft), another method: the servers stay as they are.
    code, out, err = cli("accounts", "edit", user.email, "--kind", "microsoft",
                         "--timeout", "15")
    assert code == EXIT_OK and "Switched" in out, err
    after = snapshot(data_dir, user.email)
    assert (after["kind"], after["auth_method"], after["status"]) == \
        ("microsoft", "oauth2", "connected")
    assert after["imap_host"] == dovecot_oauth.host
    assert user.email not in hit_by_basic_auth_change()
    assert stored_secret(user.email, "password") is None
