"""Issue 21, part 2: signing in where there is no browser, against the loopback identity
provider and a Dovecot that checks the tokens. Microsoft: the device code (the "person" enters
it on another device); Google: the sign-in link opened elsewhere, the address that browser was
sent to pasted back. The same identity check as the browser sign-in; nothing opens a browser
here (one that tried would fail the test)."""

from __future__ import annotations

import queue
import threading
import time
import webbrowser
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from mailmonitor.models import Account
from mailmonitor.services.accounts import oauth_signin
from mailmonitor.services.auth import no_browser, oauth
from mailmonitor.services.auth.refresh import oauth_token_provider
from mailmonitor.services.monitoring import checker
from tests.integration.oauth_support import oauth_spec, stored_refresh_token, stored_secret
from tests.servers.dovecot import Dovecot
from tests.servers.idp import IdentityProvider, TestBrowser

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("oauth_env")]

WHEN = datetime(2025, 1, 6, 9)


class Rep:
    """The rep at the terminal: reads what is shown, acts on another device (`act`), and
    pastes lines back."""

    def __init__(self, idp: IdentityProvider, act: str = "sign_in", user: str | None = None,
                 paste: str | None = None) -> None:
        self.device = TestBrowser(idp, user)
        self.act, self.user, self.paste = act, user, paste
        self.shown: list[str] = []
        self.lines: queue.Queue[str] = queue.Queue()
        self.cancel = threading.Event()

    def show(self, text: str) -> None:
        self.shown.append(text)
        if self.act == "none":
            return
        if "enter the code" in text:  # Microsoft: on the phone
            self.device.enter_device_code(text, self.user, deny=self.act == "deny")
        elif "https://" in text:  # Google: open the link elsewhere, copy the address
            url = next(w for w in text.split() if w.startswith("https://"))
            self.device.deny = self.act == "deny"
            address = self.device.redirected_address(url, self.user)
            self.lines.put(self.paste if self.paste is not None else address)

    def read_answer(self, seconds: float) -> str | None:
        try:
            return self.lines.get(timeout=min(seconds, 0.2))
        except queue.Empty:
            return None

    def prompt(self) -> no_browser.Prompt:
        return no_browser.Prompt(self.show, self.read_answer, self.cancel)


@pytest.fixture(autouse=True)
def no_browser_may_open() -> Iterator[None]:
    opened: list[str] = []

    class Refuse(webbrowser.BaseBrowser):
        def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
            opened.append(url)
            return False

    webbrowser.register("refuse", None, Refuse("refuse"), preferred=True)
    yield
    webbrowser._browsers.pop("refuse", None)  # type: ignore[attr-defined]
    while "refuse" in webbrowser._tryorder:  # type: ignore[attr-defined]
        webbrowser._tryorder.remove("refuse")  # type: ignore[attr-defined]
    assert opened == []


@pytest.mark.parametrize("kind", ["gmail", "microsoft"])
def test_add_then_reconnect_without_a_browser_and_the_tokens_work(
        kind: str, db: Path, idp: IdentityProvider, dovecot_oauth: Dovecot) -> None:
    email = dovecot_oauth.new_user().email
    rep = Rep(idp)
    account = oauth_signin.add_account(oauth_spec(kind, email, dovecot_oauth), 15, WHEN,
                                signer=no_browser.signer(rep.prompt()))
    assert (account.kind, account.auth_method) == (kind, "oauth2")
    first = stored_refresh_token(email, kind)
    assert first in idp.live_refresh_tokens(email)
    (text,) = rep.shown
    if kind == "microsoft":
        assert f"To sign in to Microsoft as {email}, open {idp.base_url}/devicelogin on any " \
               "device and enter the code " in text
    else:
        assert f"To sign in to Google as {email}, open this link" in text
        url = next(w for w in text.split() if w.startswith("https://"))
        redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        assert redirect.startswith("http://127.0.0.1:") and redirect.endswith("/")
    imap, smtp = checker.run_check(account, None, 10, oauth_token_provider())
    assert imap.ok and smtp.ok, (imap.detail, smtp.detail)

    # Reconnect (one-click, same account): a new sign-in the same way.
    oauth.sign_in(account, 15, signer=no_browser.signer(Rep(idp).prompt()))
    assert stored_refresh_token(email, kind) not in (None, first)


@pytest.mark.parametrize("kind", ["gmail", "microsoft"])
def test_signing_in_as_another_address_is_refused(
        kind: str, db: Path, idp: IdentityProvider, dovecot_oauth: Dovecot) -> None:
    email = dovecot_oauth.new_user().email
    rep = Rep(idp, user="someone.else@example.test")
    with pytest.raises(oauth.WrongAccount, match=f"You signed in as someone.else@example.test, "
                                                 f"but this account is {email}"):
        oauth_signin.add_account(oauth_spec(kind, email, dovecot_oauth), 15, WHEN,
                          signer=no_browser.signer(rep.prompt()))
    assert Account.select().count() == 0
    assert stored_secret(email, "refresh_token" if kind == "gmail" else "msal_cache") is None


@pytest.mark.parametrize("kind", ["gmail", "microsoft"])
def test_declined_on_the_other_device(kind: str, db: Path, idp: IdentityProvider,
                                      dovecot_oauth: Dovecot) -> None:
    email = dovecot_oauth.new_user().email
    said = "declined on the other device" if kind == "microsoft" else \
        "Google did not sign you in: access_denied"
    with pytest.raises(oauth.SignInError, match=said):
        oauth_signin.add_account(oauth_spec(kind, email, dovecot_oauth), 15, WHEN,
                          signer=no_browser.signer(Rep(idp, act="deny").prompt()))
    assert Account.select().count() == 0


@pytest.mark.parametrize("kind", ["gmail", "microsoft"])
def test_nobody_signs_in_within_the_timeout(kind: str, db: Path, idp: IdentityProvider,
                                            dovecot_oauth: Dovecot) -> None:
    email = dovecot_oauth.new_user().email
    started = time.monotonic()
    with pytest.raises(oauth.SignInTimeout, match="within 2 seconds"):
        oauth_signin.add_account(oauth_spec(kind, email, dovecot_oauth), 2, WHEN,
                          signer=no_browser.signer(Rep(idp, act="none").prompt()))
    assert time.monotonic() - started < 5
    assert Account.select().count() == 0


def test_a_pasted_address_of_another_sign_in_is_refused(
        db: Path, idp: IdentityProvider, dovecot_oauth: Dovecot) -> None:
    email = dovecot_oauth.new_user().email
    stale = "http://127.0.0.1:40000/?state=not-this-one&code=4/0Aabc&scope=openid"
    with pytest.raises(oauth.SignInError, match="belongs to another sign-in"):
        oauth_signin.add_account(oauth_spec("gmail", email, dovecot_oauth), 15, WHEN,
                          signer=no_browser.signer(Rep(idp, paste=stale).prompt()))
    assert Account.select().count() == 0


def test_the_code_alone_can_be_pasted(db: Path, idp: IdentityProvider,
                                      dovecot_oauth: Dovecot) -> None:
    email = dovecot_oauth.new_user().email
    rep = Rep(idp)
    original = rep.show

    def show_code_only(text: str) -> None:
        original(text)
        if not rep.lines.empty():
            address = rep.lines.get()
            rep.lines.put(f"  {parse_qs(urlsplit(address).query)['code'][0]}  ")

    rep.show = show_code_only  # type: ignore[method-assign]
    account = oauth_signin.add_account(oauth_spec("gmail", email, dovecot_oauth), 15, WHEN,
                                signer=no_browser.signer(rep.prompt()))
    assert stored_refresh_token(account.email, "gmail") in idp.live_refresh_tokens(email)


@pytest.mark.parametrize(("text", "code", "state", "error"), [
    ("http://127.0.0.1:5000/?state=s1&code=4/0Axyz&scope=a%20b", "4/0Axyz", "s1", None),
    ("'http://127.0.0.1:5000/?code=4%2F0Axyz&state=s1'", "4/0Axyz", "s1", None),
    ("4%2F0Axyz", "4/0Axyz", None, None),
    ("4/0Axyz\n", "4/0Axyz", None, None),
    ("http://127.0.0.1:5000/?error=access_denied&state=s1", None, "s1", "access_denied"),
    ("", None, None, None),
])
def test_what_can_be_pasted(text: str, code: str | None, state: str | None,
                            error: str | None) -> None:
    answer = no_browser.parse_pasted(text)
    assert (answer.code, answer.state, answer.error) == (code, state, error)
