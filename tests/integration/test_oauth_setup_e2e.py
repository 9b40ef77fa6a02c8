"""Sign-in with a registration entered once by `mailmonitor oauth setup` (no MAILMONITOR_*
client variables at all): Google from its downloaded client file, Microsoft from its client ID,
against the loopback identity provider and a Dovecot that checks the tokens."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mailmonitor.cli.common import EXIT_OK
from tests.integration.oauth_support import oauth_add_args
from tests.servers.dovecot import Dovecot
from tests.servers.idp import IdentityProvider, TestBrowser

pytestmark = pytest.mark.integration

Cli = Callable[..., tuple[int, str, str]]


# idp, dovecot_oauth and browser come from tests/integration/conftest.py.


@pytest.fixture(autouse=True)
def only_trust(idp: IdentityProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in idp.env():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(idp.pki.ca_cert))
    monkeypatch.delenv("BROWSER", raising=False)


def test_google_and_microsoft_sign_in_with_the_stored_registrations(
        cli: Cli, idp: IdentityProvider, dovecot_oauth: Dovecot, browser: TestBrowser,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("msal.oauth2cli.authcode._is_inside_docker", lambda: True)
    client_file = tmp_path / "client_secret_test.json"
    client_file.write_text(json.dumps({"installed": {
        "client_id": idp.google_client_id, "client_secret": idp.google_client_secret,
        "auth_uri": f"{idp.base_url}/o/oauth2/auth", "token_uri": f"{idp.base_url}/token",
        "redirect_uris": ["http://localhost"]}}))
    # Before: the rep is told who can set it up, not to set a variable.
    email = dovecot_oauth.new_user().email
    code, _, err = cli(*oauth_add_args("gmail", email, dovecot_oauth))
    assert code != EXIT_OK and "Settings → Sign-in" in err and browser.opens == 0

    code, out, err = cli("oauth", "setup", "--google-client-json", str(client_file),
                         "--ms-client-id", idp.ms_client_id, "--ms-authority", idp.ms_authority)
    assert code == EXIT_OK, err
    assert idp.google_client_secret not in out

    for kind in ("gmail", "microsoft"):
        email = dovecot_oauth.new_user().email
        code, out, err = cli(*oauth_add_args(kind, email, dovecot_oauth))
        assert code == EXIT_OK, err
        code, out, _ = cli("check", "--json", email)
        (row,) = json.loads(out)
        assert code == EXIT_OK and row["status"] == "connected", row
