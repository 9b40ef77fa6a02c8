"""Google and Microsoft sign-in end to end, against the loopback identity provider
(tests/servers/idp.py) and a real Dovecot that checks the access tokens by introspection.

The app's code is the real library calls (google-auth-oauthlib, google-auth, msal); only the
endpoints come from the MAILMONITOR_* variables. The "browser" is a registered
webbrowser.BaseBrowser that signs in like a person would."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import keyring
import pytest

from mailmonitor.cli.common import EXIT_CRITICAL, EXIT_OK
from mailmonitor.memory_keyring import MemoryKeyring
from mailmonitor.models import Account
from mailmonitor.services.accounts import oauth_signin
from mailmonitor.services.auth import oauth
from mailmonitor.services.auth.loopback import LoopbackRedirect, RedirectTimeout
from mailmonitor.services.auth.refresh import oauth_token_provider
from mailmonitor.services.auth.token_errors import TokenError
from mailmonitor.services.monitoring import checker
from tests.integration.oauth_support import (
    STEPS,
    oauth_add_args,
    oauth_spec,
    stored_refresh_token,
    stored_secret,
)
from tests.servers.dovecot import Dovecot
from tests.servers.idp import (
    IdentityProvider,
    TestBrowser,
    listening_addresses,
    registered_browser,
)
from tests.servers.smtp_sink import SmtpSink

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("oauth_env")]

Cli = Callable[..., tuple[int, str, str]]
KINDS = ["gmail", "microsoft"]


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def account_row(cli: Cli, email: str) -> dict[str, object]:
    rows = json.loads(cli("accounts", "list", "--json")[1])
    return next(row for row in rows if row["email"] == email)


# --- add, check, revoke, reconnect ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_sign_in_check_revoke_and_one_click_reconnect(
        kind: str, cli: Cli, idp: IdentityProvider, dovecot_oauth: Dovecot,
        browser: TestBrowser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As in a container (/.dockerenv), where msal's own listener would bind all interfaces.
    monkeypatch.setattr("msal.oauth2cli.authcode._is_inside_docker", lambda: True)
    email = dovecot_oauth.new_user().email
    code, out, err = cli(*oauth_add_args(kind, email, dovecot_oauth))
    assert code == EXIT_OK, err
    (visit,) = browser.visits
    assert visit.url in out  # the sign-in link is printed too
    # The redirect (it carries the code) is only ever served on 127.0.0.1.
    assert visit.listener_addresses == ["127.0.0.1"]
    assert visit.redirect_uri.startswith(
        "http://127.0.0.1:" if kind == "gmail" else "http://localhost:")
    assert visit.delivered_with == ("GET" if kind == "gmail" else "POST")  # form_post for msal
    assert "Signed in" in visit.final_page
    row = account_row(cli, email)
    assert (row["kind"], row["auth_method"]) == (kind, "oauth2")
    assert stored_refresh_token(email, kind) in idp.live_refresh_tokens(email)
    if kind == "gmail":
        assert idp.stats.basic_auth >= 1  # google-auth-oauthlib: client secret by HTTP Basic

    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps(STEPS))
    assert cli("campaigns", "create", f"Outreach {kind}", "--mailbox", email,
               "--steps", str(steps))[0] == EXIT_OK
    leads = tmp_path / "leads.csv"
    leads.write_text("email,first_name\n" + "".join(f"l{i}@x.test,L{i}\n" for i in range(4)))
    assert cli("leads", "import", f"Outreach {kind}", str(leads))[0] == EXIT_OK

    # A check: silent refresh, then real XOAUTH2 logins on IMAP and submission.
    introspections = idp.stats.introspections
    code, out, _ = cli("check", "--json", email)
    (row,) = json.loads(out)
    assert code == EXIT_OK, row
    assert row["status"] == "connected" and row["imap"]["ok"] and row["smtp"]["ok"]
    assert idp.stats.introspections >= introspections + 2  # Dovecot asked about both logins

    # The rep revokes the app's access at the provider.
    assert idp.revoke(email) >= 1
    introspections = idp.stats.introspections
    code, out, _ = cli("check", "--json", email)
    (row,) = json.loads(out)
    assert code == EXIT_CRITICAL
    assert (row["status"], row["reason"], row["label"]) == \
        ("disconnected", "token_expired", "Token Expired")
    assert ("revoked" if kind == "gmail" else "AADSTS50173") in row["detail"]
    assert row["imap"]["ok"] is False and row["smtp"]["ok"] is False
    assert idp.stats.introspections == introspections  # no login tried with a dead token
    rows = json.loads(cli("leads", "list", f"Outreach {kind}", "--json")[1])
    assert {r["state"] for r in rows} == {"halted"}
    (campaign,) = [c for c in json.loads(cli("campaigns", "list", "--json")[1])
                   if c["name"] == f"Outreach {kind}"]
    assert (campaign["status"], campaign["pause_reason"]) == ("paused", "no_active_mailbox")

    # One-click reconnect: sign in again; a real check passes; the campaign resumes.
    code, out, err = cli("accounts", "reconnect", email, "--timeout", "15")
    assert code == EXIT_OK, err
    assert "Reconnected" in out and browser.opens == 2
    assert account_row(cli, email)["status"] == "connected"
    rows = json.loads(cli("leads", "list", f"Outreach {kind}", "--json")[1])
    assert {r["state"] for r in rows} == {"pending"} and {r["cursor"] for r in rows} == {0}
    (campaign,) = [c for c in json.loads(cli("campaigns", "list", "--json")[1])
                   if c["name"] == f"Outreach {kind}"]
    assert campaign["status"] == "active"
    code, out, _ = cli("check", "--json", email)
    assert code == EXIT_OK and json.loads(out)[0]["status"] == "connected"


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_signing_in_as_another_address_is_refused(
        kind: str, cli: Cli, idp: IdentityProvider, dovecot_oauth: Dovecot,
        memory_keyring: MemoryKeyring) -> None:
    email = dovecot_oauth.new_user().email
    with registered_browser(TestBrowser(idp, user="someone.else@example.test")) as browser:
        code, _, err = cli(*oauth_add_args(kind, email, dovecot_oauth))
    assert browser.opens == 1 and browser.errors == []
    assert code != EXIT_OK
    line = one_line(err)
    assert f"You signed in as someone.else@example.test, but this account is {email}" in line
    assert json.loads(cli("accounts", "list", "--json")[1]) == []
    assert memory_keyring.store == {}  # nothing stored


def test_reconnect_as_another_address_keeps_the_stored_sign_in(
        cli: Cli, idp: IdentityProvider, dovecot_oauth: Dovecot, browser: TestBrowser) -> None:
    email = dovecot_oauth.new_user().email
    assert cli(*oauth_add_args("microsoft", email, dovecot_oauth))[0] == EXIT_OK
    before = stored_secret(email, "msal_cache")
    browser.user = "intruder@example.test"
    code, _, err = cli("accounts", "reconnect", email, "--timeout", "10")
    assert code != EXIT_OK
    assert "You signed in as intruder@example.test" in one_line(err)
    assert stored_secret(email, "msal_cache") == before


@pytest.mark.parametrize("kind", KINDS)
def test_a_sign_in_that_never_completes_times_out_quickly(
        kind: str, cli: Cli, idp: IdentityProvider, dovecot_oauth: Dovecot,
        memory_keyring: MemoryKeyring) -> None:
    email = dovecot_oauth.new_user().email
    with registered_browser(TestBrowser(idp, stall=True)) as browser:
        started = time.monotonic()
        code, out, err = cli(*oauth_add_args(kind, email, dovecot_oauth, timeout=1.0))
        elapsed = time.monotonic() - started
    assert browser.opens == 1 and browser.visits[0].url in out
    assert code != EXIT_OK
    assert "no sign-in arrived within 1 seconds" in one_line(err)
    assert elapsed < 5
    assert json.loads(cli("accounts", "list", "--json")[1]) == []
    assert memory_keyring.store == {}


def test_provider_refusal_is_one_clear_line(cli: Cli, idp: IdentityProvider,
                                            dovecot_oauth: Dovecot) -> None:
    email = dovecot_oauth.new_user().email
    with registered_browser(TestBrowser(idp, deny=True)):
        code, _, err = cli(*oauth_add_args("gmail", email, dovecot_oauth))
    assert code != EXIT_OK
    assert "The user denied access" in one_line(err)


@pytest.mark.parametrize(("kind", "variable", "provider"), [
    ("gmail", "MAILMONITOR_GOOGLE_CLIENT_ID", "Google"),
    ("microsoft", "MAILMONITOR_MS_CLIENT_ID", "Microsoft"),
])
def test_no_client_id_configured(kind: str, variable: str, provider: str, cli: Cli,
                                 dovecot_oauth: Dovecot, browser: TestBrowser,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(variable)
    code, _, err = cli(*oauth_add_args(kind, "rep@example.test", dovecot_oauth))
    assert code != EXIT_OK
    line = one_line(err)
    assert f"{provider} sign-in is not set up" in line and "README" in line
    assert variable in line
    assert browser.opens == 0


# --- the API the window uses -----------------------------------------------------------------


def test_sign_in_can_be_cancelled_and_gives_the_link_for_copying(
        db: Path, idp: IdentityProvider, dovecot_oauth: Dovecot) -> None:
    spec = oauth_spec("gmail", dovecot_oauth.new_user().email, dovecot_oauth)
    cancel, urls = threading.Event(), list[str]()
    with registered_browser(TestBrowser(idp, stall=True)) as browser:
        threading.Timer(0.3, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(oauth.SignInCancelled, match="cancelled"):
            oauth_signin.add_account(spec, 30, datetime(2025, 1, 6, 9), on_url=urls.append,
                              cancel=cancel)
    assert time.monotonic() - started < 3
    assert urls == [browser.visits[0].url]
    assert Account.select().count() == 0


@pytest.mark.parametrize("aadsts", ["AADSTS700082", "AADSTS50173", "AADSTS70043",
                                    "AADSTS700081", "AADSTS65001"])
def test_microsoft_sign_in_again_codes_are_token_expired(
        aadsts: str, db: Path, idp: IdentityProvider, dovecot_oauth: Dovecot,
        browser: TestBrowser) -> None:
    spec = oauth_spec("microsoft", dovecot_oauth.new_user().email, dovecot_oauth)
    account = oauth_signin.add_account(spec, 15, datetime(2025, 1, 6, 9))
    assert oauth.get_access_token(account, 10)
    idp.script_refresh_error(account.email, "invalid_grant", aadsts)
    with pytest.raises(TokenError) as caught:
        oauth.get_access_token(account, 10)
    assert caught.value.reason == "token_expired"
    assert aadsts in caught.value.detail and "sign in again" in caught.value.detail
    # And through the check: no login is tried, the account is token_expired on both sides.
    idp.script_refresh_error(account.email, "invalid_grant", aadsts)
    imap, smtp = checker.run_check(account, None, 10, oauth_token_provider())
    assert (imap.reason, smtp.reason) == ("token_expired", "token_expired")


def test_google_refresh_refused_names_the_likely_causes(
        db: Path, idp: IdentityProvider, dovecot_oauth: Dovecot, browser: TestBrowser) -> None:
    spec = oauth_spec("gmail", dovecot_oauth.new_user().email, dovecot_oauth)
    account = oauth_signin.add_account(spec, 15, datetime(2025, 1, 6, 9))
    idp.revoke(account.email)
    with pytest.raises(TokenError) as caught:
        oauth.get_access_token(account, 10)
    detail = caught.value.detail
    assert caught.value.reason == "token_expired"
    assert "Token has been expired or revoked" in detail
    for cause in ("revoked", "password", "6 months", "Testing", "7 days"):
        assert cause in detail


# --- rotation --------------------------------------------------------------------------------

CYCLES = 1000


def app_restart() -> None:
    """What survives a restart is what the keyring holds: a new keyring object over the same
    stored data, and none of the OAuth module's in-memory state."""
    current = keyring.get_keyring()
    assert isinstance(current, MemoryKeyring)
    fresh = MemoryKeyring()
    fresh.store = dict(current.store)
    keyring.set_keyring(fresh)
    oauth._ms_http_caches.clear()
    oauth._locks.clear()


@pytest.mark.parametrize("kind", KINDS)
def test_a_thousand_silent_refreshes_with_rotation_never_prompt(
        kind: str, db: Path, idp: IdentityProvider, dovecot_oauth: Dovecot,
        browser: TestBrowser, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idp, "rotate_google", True)  # Microsoft's flavour always rotates
    spec = oauth_spec(kind, dovecot_oauth.new_user().email, dovecot_oauth)
    account = oauth_signin.add_account(spec, 15, datetime(2025, 1, 6, 9))
    prompts, authorizations = browser.opens, idp.stats.authorizations
    seen: set[str] = set()
    started = time.monotonic()
    for cycle in range(CYCLES):
        if cycle % 250 == 249:
            app_restart()
        token = oauth.get_access_token(account, 10)
        stored = stored_refresh_token(account.email, kind)
        # The provider invalidated the previous refresh token: the stored one is the only
        # live one, i.e. always the newest.
        assert stored is not None and idp.live_refresh_tokens(account.email) == [stored]
        assert stored not in seen
        seen.add(stored)
        assert token in idp.live_access_tokens(account.email)
    elapsed = time.monotonic() - started
    assert browser.opens == prompts == 1  # zero interactive prompts after the first sign-in
    assert idp.stats.authorizations == authorizations
    assert idp.stats.refreshes[account.email] == CYCLES
    print(f"\n{kind}: {CYCLES} silent refreshes with rotation in {elapsed:.1f} s, "
          f"{browser.opens - prompts} prompts")
    # And a real check still logs in with the newest token.
    imap, smtp = checker.run_check(Account.get_by_id(account.id), None, 10,
                                   oauth_token_provider())
    assert imap.ok and smtp.ok, (imap.detail, smtp.detail)


# --- the loopback redirect listener ----------------------------------------------------------


def _deliver(url: str, data: dict[str, str] | None = None) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with opener.open(urllib.request.Request(url, data=body), timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_redirect_listener_is_loopback_only_and_takes_only_the_expected_answer() -> None:
    with LoopbackRedirect(host_name="localhost", path="") as listener:
        assert listener.bound_address[0] == "127.0.0.1"
        assert listening_addresses(listener.port) == ["127.0.0.1"]
        assert listener.redirect_uri == f"http://localhost:{listener.port}"
        listener.expect("the-state")
        base = f"http://127.0.0.1:{listener.port}"
        # A silent pre-connection (browsers open them) does not hold up the real answer.
        with socket.create_connection(("127.0.0.1", listener.port)):
            assert _deliver(f"{base}/favicon.ico") == 404
            assert _deliver(f"{base}/?code=forged&state=other") == 400  # not our sign-in
            assert _deliver(f"{base}/", {"code": "c0de", "state": "the-state"}) == 200  # POST
        assert listener.wait(time.monotonic() + 1) == {"code": "c0de", "state": "the-state"}
        assert _deliver(f"{base}/?code=again&state=the-state") == 400  # one answer only
    with LoopbackRedirect() as listener:
        listener.expect("s")
        started = time.monotonic()
        with pytest.raises(RedirectTimeout):
            listener.wait(time.monotonic() + 0.3)
        assert time.monotonic() - started < 1


def test_add_with_test_keeps_nothing_when_the_account_does_not_connect(
        cli: Cli, idp: IdentityProvider, dovecot_oauth: Dovecot, browser: TestBrowser,
        memory_keyring: MemoryKeyring) -> None:
    email = dovecot_oauth.new_user().email
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
    args = oauth_add_args("gmail", email, dovecot_oauth)
    args[args.index("--imap-port") + 1] = str(closed_port)
    code, _, err = cli(*args, "--test")
    assert code != EXIT_OK
    assert "signed in, but the account did not connect (IMAP" in one_line(err)
    assert json.loads(cli("accounts", "list", "--json")[1]) == []
    assert memory_keyring.store == {}
    code, out, err = cli(*oauth_add_args("gmail", email, dovecot_oauth), "--test")
    assert code == EXIT_OK, err
    assert "connection tested" in out and account_row(cli, email)["auth_method"] == "oauth2"


def test_microsoft_outage_is_retried_not_a_sign_in_problem(
        db: Path, idp: IdentityProvider, dovecot_oauth: Dovecot, browser: TestBrowser) -> None:
    spec = oauth_spec("microsoft", dovecot_oauth.new_user().email, dovecot_oauth)
    account = oauth_signin.add_account(spec, 15, datetime(2025, 1, 6, 9))
    idp.script_refresh_error(account.email, "temporarily_unavailable",
                             "AADSTS90033: A transient error has occurred.", status=503)
    with pytest.raises(TokenError) as caught:
        oauth.get_access_token(account, 10)
    assert caught.value.reason == "server_unavailable"  # a warning: retried by itself


def test_an_unreachable_provider_is_a_network_problem(
        db: Path, idp: IdentityProvider, dovecot_oauth: Dovecot, browser: TestBrowser,
        monkeypatch: pytest.MonkeyPatch) -> None:
    accounts = [oauth_signin.add_account(oauth_spec(kind, dovecot_oauth.new_user().email,
                                             dovecot_oauth), 15, datetime(2025, 1, 6, 9))
                for kind in KINDS]
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        gone = f"https://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("MAILMONITOR_GOOGLE_TOKEN_URI", gone + "/token")
    monkeypatch.setenv("MAILMONITOR_MS_AUTHORITY", gone + "/" + idp.tenant_id)
    oauth._ms_http_caches.clear()  # as after a restart: discovery must be fetched again
    for account in accounts:
        with pytest.raises(TokenError) as caught:
            oauth.get_access_token(account, 5)
        assert caught.value.reason in ("network", "server_unavailable"), caught.value.detail
        assert stored_refresh_token(account.email, account.kind)  # nothing was thrown away


# --- the token provider is handed in, never installed by an import ---------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_monitor_and_engine_sign_in_with_the_token_provider_they_are_given(
        kind: str, db: Path, idp: IdentityProvider, dovecot_oauth: Dovecot,
        browser: TestBrowser, smtp_sink: SmtpSink) -> None:
    from mailmonitor.clock import FakeClock
    from mailmonitor.services.campaigns.setup import assign_and_insert, create_campaign
    from mailmonitor.services.monitoring.monitor import Monitor
    from mailmonitor.services.sending.engine import SendingEngine

    clock = FakeClock(datetime(2025, 1, 6, 9))
    spec = oauth_spec(kind, dovecot_oauth.new_user().email, dovecot_oauth)
    account = oauth_signin.add_account(spec, 15, clock.now())
    campaign = create_campaign("Tokens", [account.email], STEPS[:1], None, clock.now())
    assign_and_insert(campaign, [("lead@x.test", {"first_name": "Lee"})], clock.now())

    async def check(monitor: Monitor) -> None:
        try:
            await monitor.check_account(account.id)
        finally:
            await monitor.stop()

    # The OAuth module is imported (above), yet a monitor given no provider cannot sign in:
    # nothing was installed behind its back.
    asyncio.run(check(Monitor(clock=clock, jitter=0)))
    stored = Account.get_by_id(account.id)
    assert (stored.status, stored.reason) == ("disconnected", "invalid_credentials")
    assert "sign-in is not set up" in stored.detail
    introspections = idp.stats.introspections
    asyncio.run(check(Monitor(clock=clock, jitter=0, token_provider=oauth_token_provider())))
    stored = Account.get_by_id(account.id)
    assert (stored.status, stored.reason) == ("connected", None)
    assert idp.stats.introspections >= introspections + 2  # real XOAUTH2 logins, both sides

    engine = SendingEngine(clock, timeout=10, token_provider=oauth_token_provider())
    assert engine.run_until_idle() == 1
    (message,) = smtp_sink.messages()
    assert (message.mail_from, list(message.rcpt_tos)) == (account.email, ["lead@x.test"])
