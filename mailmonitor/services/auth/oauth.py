"""Google and Microsoft sign-in (spec §3, §5, §7): browser sign-in and silent token refresh.

No Qt: every function blocks, and the window runs them in worker threads.

- ``sign_in(account, timeout, on_url=, cancel=)`` re-authenticates an existing account (one-click
  reconnect): the system browser, a loopback redirect on 127.0.0.1, new tokens in the keyring.
- ``add_account(spec, timeout, now, on_url=, cancel=, connection_test=)`` signs in, then
  creates the account (after a real check passed, when a ``connection_test`` is given).
- ``get_access_token(account, timeout)`` refreshes silently. It is the token provider
  (``services.auth.tokens``) the monitor, the sending engine and the checks are handed at
  start-up, so every check of an OAuth account starts with a real refresh (a dead refresh token
  is ``token_expired``, no IMAP/SMTP login is tried with it), and a refresh token the provider
  rotates is stored every time. Importing this module installs nothing.

Google goes through google-auth-oauthlib's ``InstalledAppFlow`` (PKCE, client secret with HTTP
Basic auth) and google-auth's ``Credentials.refresh``; Microsoft through msal's
``PublicClientApplication`` with a ``SerializableTokenCache`` kept in the keyring. Both use our
own redirect listener (:mod:`oauth_loopback`) so it is bound to 127.0.0.1 only, bounded by the
timeout and cancellable. The signed-in address is read from the ID token; another address than
the account's is refused and nothing is stored.

Secrets (codes, refresh and access tokens, the token cache) never reach the database, a log or an
exception's text: they are registered with the log redactor as soon as they are seen.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import google.oauth2.credentials
import msal
import msal.exceptions
import requests
from google.auth import jwt
from google_auth_oauthlib.flow import Flow, InstalledAppFlow

from mailmonitor.logsetup import redact, register_secret
from mailmonitor.models import Account
from mailmonitor.services.auth import secrets
from mailmonitor.services.auth.config import (
    GoogleConfig,
    OAuthNotConfigured,
    TimeoutSession,
    ca_bundle,
    google_config,
    microsoft_config,
)
from mailmonitor.services.auth.loopback import (
    LoopbackRedirect,
    RedirectCancelled,
    RedirectTimeout,
)
from mailmonitor.services.auth.token_errors import TokenError, classify_token_text
from mailmonitor.services.auth.tokens import CredentialsMissing

__all__ = [
    "GOOGLE_SCOPES",
    "MS_SCOPES",
    "ConnectionTestFailed",
    "OAuthNotConfigured",
    "SignInCancelled",
    "SignInError",
    "SignInTimeout",
    "WrongAccount",
    "connection_test_failed",
    "forget_sign_in",
    "get_access_token",
    "sign_in",
    "sign_in_new",
]

log = logging.getLogger(__name__)

# Google may grant the scopes in another order or spelling; the granted list is checked below.
os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")

GOOGLE_SCOPES = ["openid", "https://www.googleapis.com/auth/userinfo.email",
                 "https://mail.google.com/"]
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"
# msal adds openid, profile and offline_access itself (and refuses them in this list).
MS_SCOPES = ["https://outlook.office.com/IMAP.AccessAsUser.All",
             "https://outlook.office.com/SMTP.Send"]

GOOGLE_EXPIRED_HELP = (
    "Google no longer accepts this mailbox's sign-in: access was revoked, the Google password "
    "was changed, it was unused for 6 months, or the app's consent screen is in Testing (sign-ins "
    "then last 7 days). Reconnect and sign in again."
)
MS_EXPIRED_HELP = (
    "Microsoft no longer accepts this mailbox's sign-in: unused for 90 days, the password was "
    "changed or reset, a sign-in policy of the organisation, or the consent was withdrawn. "
    "Reconnect and sign in again."
)

UrlCallback = Callable[[str], None]
# A real check of a signed-in account not stored yet: None when it connects, else
# (what failed, e.g. "IMAP: Token Expired", the server's answer).
ConnectionTest = Callable[[Account], tuple[str, str] | None]
NETWORK_TIMEOUT = 30.0  # each request to the provider; the wait for the rep is `timeout`
# OAuth error codes (RFC 6749 §4.1.2.1) that say "try again later", not "sign in again".
TRANSIENT_OAUTH_ERRORS = ("temporarily_unavailable", "server_error")


class SignInError(Exception):
    """The browser sign-in did not produce usable tokens; one sentence for the rep."""


class SignInTimeout(SignInError):
    pass


class SignInCancelled(SignInError):
    pass


class WrongAccount(SignInError):
    pass


class ConnectionTestFailed(SignInError):
    """Signed in, but the account did not connect (``add_account(connection_test=…)``)."""


@dataclass(frozen=True)
class SignedIn:
    """The result of a browser sign-in: who signed in and the secret to keep."""

    email: str
    secret_kind: str  # "refresh_token" (Google) | "msal_cache" (Microsoft)
    secret: str = field(repr=False)


# --- helpers -----------------------------------------------------------------------------------

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _account_lock(email: str) -> threading.Lock:
    """One refresh at a time per mailbox: with rotation, two refreshes with the same refresh token
    would leave one of them holding a token the provider already replaced."""
    with _locks_guard:
        return _locks.setdefault(email.lower(), threading.Lock())


def _provider(kind: str) -> str:
    if kind == "gmail":
        return "google"
    if kind == "microsoft":
        return "microsoft"
    raise SignInError(f"browser sign-in is for Google and Microsoft mailboxes, not {kind!r}")


def _first_line(text: str, limit: int = 300) -> str:
    line = next((part.strip() for part in str(text).splitlines() if part.strip()), "")
    return redact(line[:limit])


def _describe(exc: BaseException) -> str:
    return _first_line(str(exc) or type(exc).__name__)


def present_url(url: str, on_url: UrlCallback | None) -> None:
    """Give the sign-in link to the caller (printed, "Copy link") and open the system browser
    with Python's webbrowser, which honours the BROWSER variable. The browser is started from
    its own thread: some launchers (console browsers) block until the browser exits, and the
    wait for the redirect must stay bounded by the timeout."""
    if on_url is not None:
        on_url(url)

    def launch() -> None:
        try:
            opened = webbrowser.open(url, new=1, autoraise=True)
        except Exception as exc:  # no browser at all: the link was given to the caller
            log.warning("could not open a browser: %s", _describe(exc))
            return
        if not opened:
            log.warning("no browser could be opened; the sign-in link was shown instead")

    threading.Thread(target=launch, name="open-browser", daemon=True).start()


def _wait_for_redirect(listener: LoopbackRedirect, deadline: float,
                       cancel: threading.Event | None, timeout: float) -> dict[str, str]:
    try:
        params = listener.wait(deadline, cancel)
    except RedirectTimeout:
        raise SignInTimeout(f"no sign-in arrived within {timeout:g} seconds; nothing was "
                            "changed (try again to get a new sign-in link)") from None
    except RedirectCancelled:
        raise SignInCancelled("the sign-in was cancelled; nothing was changed") from None
    register_secret(params.get("code"))
    if "error" in params:
        reason = params.get("error_description") or params["error"]
        raise SignInError(f"the provider did not sign you in: {_first_line(reason)}")
    return params


def _check_address(candidates: list[Any], expected: dict[str, None], provider: str) -> str:
    """The signed-in address: the first ID-token claim (email, preferred_username, upn) that is
    the account's address. None matching is refused, naming what the provider said."""
    addresses = [str(value).strip().lower() for value in candidates if value]
    if not addresses:
        raise SignInError(f"{provider} did not say which address signed in (no email in the "
                          "ID token)")
    for address in addresses:
        if address in expected:
            return address
    wanted = next(iter(expected))
    raise WrongAccount(f"You signed in as {addresses[0]}, but this account is {wanted}. Sign "
                       f"in as {wanted} (choose “Use another account” in the browser); nothing "
                       "was changed")


def _audience_ok(claims: dict[str, Any], client_id: str) -> bool:
    aud = claims.get("aud")
    return client_id in aud if isinstance(aud, list) else aud == client_id


# --- Google --------------------------------------------------------------------------------------


def _google_sign_in(expected: dict[str, None], login_hint: str, timeout: float,
                    on_url: UrlCallback | None, cancel: threading.Event | None) -> SignedIn:
    config = google_config()
    deadline = time.monotonic() + timeout
    flow = InstalledAppFlow.from_client_config(config.client_config(), scopes=GOOGLE_SCOPES)
    flow.oauth2session.verify = ca_bundle()
    with LoopbackRedirect() as listener:
        flow.redirect_uri = listener.redirect_uri
        url, state = flow.authorization_url(access_type="offline", prompt="consent",
                                            login_hint=login_hint)
        register_secret(flow.code_verifier)
        log.info("Google sign-in for %s: waiting for the redirect on %s", login_hint,
                 listener.redirect_uri)
        listener.expect(state)
        present_url(url, on_url)
        params = _wait_for_redirect(listener, deadline, cancel, timeout)
    return google_tokens_for_code(flow, params["code"], config, expected)


def google_tokens_for_code(flow: Flow, code: str, config: GoogleConfig,
                           expected: dict[str, None]) -> SignedIn:
    """Redeem the authorization code (PKCE: the flow holds the verifier) and check who signed
    in: the ID token's address must be the account's, and Gmail access must be granted."""
    register_secret(code)
    try:
        token = flow.fetch_token(code=code, timeout=NETWORK_TIMEOUT)
    except requests.RequestException as exc:
        raise SignInError(f"cannot reach Google's sign-in service: {_describe(exc)}") from None
    except Exception as exc:  # oauthlib's OAuth2Error and friends: the provider said no
        raise SignInError(f"Google refused the sign-in: {_describe(exc)}") from None
    for key in ("access_token", "refresh_token", "id_token"):
        register_secret(token.get(key))
    id_token = token.get("id_token")
    if not id_token:
        raise SignInError("Google returned no ID token, so the signed-in address is unknown")
    try:
        claims = jwt.decode(id_token, verify=False)  # straight from the token endpoint over TLS
    except Exception as exc:
        raise SignInError(f"Google's ID token is unreadable: {_describe(exc)}") from None
    if not _audience_ok(claims, config.client_id):
        raise SignInError("Google's ID token was issued to another app; nothing was changed")
    address = _check_address([claims.get("email")], expected, "Google")
    granted = token.get("scope") or []
    granted = granted.split() if isinstance(granted, str) else list(granted)
    if GOOGLE_MAIL_SCOPE not in granted:
        raise SignInError("Google did not grant access to Gmail: sign in again and tick “Read, "
                          "compose, send and permanently delete all your email from Gmail”")
    refresh_token = token.get("refresh_token")
    if not refresh_token:
        raise SignInError("Google returned no refresh token; sign in again")
    return SignedIn(address, "refresh_token", refresh_token)


class _TimedGoogleRequest(google.auth.transport.requests.Request):
    """google-auth's transport with our timeout on every request (its own default is 120 s)."""

    def __init__(self, session: requests.Session, timeout: float) -> None:
        super().__init__(session)
        self._timeout = timeout

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: Any = None, **kwargs: Any) -> Any:
        return super().__call__(  # type: ignore[no-untyped-call]  # google-auth is untyped
            url, method=method, body=body, headers=headers, timeout=self._timeout, **kwargs)


def _google_access_token(email: str, timeout: float) -> str:
    config = google_config()
    refresh_token = secrets.get_secret(email, "refresh_token")
    if not refresh_token:
        raise TokenError("token_expired", "No Google sign-in is stored for this mailbox on this "
                                          "computer: reconnect and sign in again.")
    register_secret(refresh_token)
    credentials = google.oauth2.credentials.Credentials(
        None, refresh_token=refresh_token, token_uri=config.token_uri,
        client_id=config.client_id, client_secret=config.client_secret)
    with TimeoutSession(timeout) as session:
        try:
            credentials.refresh(_TimedGoogleRequest(session, timeout))
        except google.auth.exceptions.RefreshError as exc:
            text = _first_line(str(exc.args[0]) if exc.args else str(exc))
            if "invalid_grant" in text:
                raise TokenError("token_expired", f"{GOOGLE_EXPIRED_HELP} (Google: {text})"
                                 ) from None
            transient = getattr(exc, "retryable", False) or any(
                code in text for code in TRANSIENT_OAUTH_ERRORS)
            reason = "server_unavailable" if transient else classify_token_text(text)
            raise TokenError(reason, f"Google refused to refresh the sign-in: {text}") from None
        except google.auth.exceptions.TransportError as exc:
            text = _describe(exc)
            reason = "timeout" if "timed out" in text.lower() else "network"
            raise TokenError(reason, f"Cannot reach Google's sign-in service: {text}") from None
    access_token = credentials.token
    register_secret(access_token)
    rotated = credentials.refresh_token
    if rotated and rotated != refresh_token:  # store every new one (spec §3)
        register_secret(rotated)
        secrets.set_secret(email, "refresh_token", rotated)
    if not access_token:
        raise TokenError("request_invalid", "Google answered the refresh without an access token")
    return str(access_token)


# --- Microsoft -----------------------------------------------------------------------------------

# msal's HTTP cache (OpenID discovery answers, throttled errors), one per mailbox: a new
# PublicClientApplication per call then costs no extra request.
_ms_http_caches: dict[str, dict[Any, Any]] = {}


def _ms_app(cache: msal.SerializableTokenCache, session: requests.Session,
            http_cache: dict[Any, Any]) -> msal.PublicClientApplication:
    """Raises ValueError (unusable authority) or requests' errors (unreachable)."""
    config = microsoft_config()
    return msal.PublicClientApplication(
        config.client_id, authority=config.authority, token_cache=cache, http_client=session,
        http_cache=http_cache, instance_discovery=None if config.instance_discovery else False)


def _cache_blob(cache: msal.SerializableTokenCache) -> str:
    """The token cache as kept in the keyring: the account and its refresh token. Access and ID
    tokens are left out: every check refreshes (they are never read again), and the stored
    secret stays small (some keyrings limit a secret to a few KB)."""
    state = json.loads(cache.serialize())
    state.pop("AccessToken", None)
    state.pop("IdToken", None)
    for section in state.values():
        if isinstance(section, dict):
            for entry in section.values():
                if isinstance(entry, dict) and entry.get("secret"):
                    register_secret(str(entry["secret"]))
    return json.dumps(state, separators=(",", ":"))


def _ms_error(result: dict[str, Any]) -> str:
    return _first_line(f"{result.get('error', 'error')}: {result.get('error_description', '')}")


def _ms_sign_in(expected: dict[str, None], login_hint: str, timeout: float,
                on_url: UrlCallback | None, cancel: threading.Event | None) -> SignedIn:
    config = microsoft_config()
    deadline = time.monotonic() + timeout
    cache = msal.SerializableTokenCache()  # a fresh sign-in starts from an empty cache
    with TimeoutSession(NETWORK_TIMEOUT) as session:
        try:
            app = _ms_app(cache, session, {})
        except (ValueError, requests.RequestException, msal.exceptions.MsalServiceError) as exc:
            raise SignInError(f"cannot use the Microsoft sign-in service at {config.authority}: "
                              f"{_describe(exc)}") from None
        # Microsoft's desktop registrations name http://localhost; the listener is on 127.0.0.1.
        with LoopbackRedirect(host_name="localhost", path="") as listener:
            try:
                flow = app.initiate_auth_code_flow(
                    MS_SCOPES, redirect_uri=listener.redirect_uri, login_hint=login_hint,
                    prompt=msal.Prompt.SELECT_ACCOUNT, response_mode="form_post")
            except ValueError as exc:
                raise SignInError(f"cannot start the Microsoft sign-in: {_describe(exc)}"
                                  ) from None
            log.info("Microsoft sign-in for %s: waiting for the redirect on %s", login_hint,
                     listener.redirect_uri)
            listener.expect(flow["state"])
            present_url(flow["auth_uri"], on_url)
            params = _wait_for_redirect(listener, deadline, cancel, timeout)
        try:
            result = app.acquire_token_by_auth_code_flow(flow, params, scopes=MS_SCOPES)
        except requests.RequestException as exc:
            raise SignInError(f"cannot reach Microsoft's sign-in service: {_describe(exc)}"
                              ) from None
        except msal.exceptions.MsalServiceError as exc:
            raise SignInError(f"Microsoft's sign-in service failed: {_describe(exc)}") from None
        except (ValueError, RuntimeError) as exc:  # state or nonce mismatch
            raise SignInError(f"the Microsoft sign-in answer was not valid: {_describe(exc)}"
                              ) from None
    return ms_signed_in(result, app, cache, expected)


def ms_signed_in(result: dict[str, Any], app: msal.PublicClientApplication,
                 cache: msal.SerializableTokenCache, expected: dict[str, None]) -> SignedIn:
    """What msal answered a sign-in (browser or device code): who signed in, checked against
    the account, and the token cache to keep."""
    config = microsoft_config()
    for key in ("access_token", "refresh_token", "id_token"):
        register_secret(result.get(key))
    if "error" in result:
        raise SignInError(f"Microsoft refused the sign-in: {_ms_error(result)}")
    claims = result.get("id_token_claims") or {}
    # msal no longer validates the ID token (it came straight from the token endpoint over TLS);
    # the audience and issuer checks are ours.
    if not _audience_ok(claims, config.client_id):
        raise SignInError("Microsoft's ID token was issued to another app; nothing was changed")
    issuer = getattr(app.authority, "_issuer", None)
    if issuer and claims.get("iss") != str(issuer).replace("{tenantid}", str(claims.get("tid"))):
        raise SignInError("Microsoft's ID token names another issuer; nothing was changed")
    # A work account's preferred_username is its UPN, which may differ from the mailbox address.
    address = _check_address([claims.get(key) for key in ("preferred_username", "email", "upn")],
                             expected, "Microsoft")
    if not result.get("refresh_token"):
        raise SignInError("Microsoft returned no refresh token; sign in again")
    return SignedIn(address, "msal_cache", _cache_blob(cache))


def _ms_access_token(email: str, timeout: float) -> str:
    microsoft_config()  # not configured: CredentialsMissing below, before the keyring
    blob = secrets.get_secret(email, "msal_cache")
    if not blob:
        raise TokenError("token_expired", "No Microsoft sign-in is stored for this mailbox on "
                                          "this computer: reconnect and sign in again.")
    cache = msal.SerializableTokenCache()
    try:
        cache.deserialize(blob)
    except ValueError:
        raise TokenError("token_expired", "The stored Microsoft sign-in is unreadable: "
                                          "reconnect and sign in again.") from None
    with TimeoutSession(timeout) as session:
        try:
            app = _ms_app(cache, session, _ms_http_caches.setdefault(email.lower(), {}))
            accounts = app.get_accounts(username=email) or app.get_accounts()
            if not accounts:
                raise TokenError("token_expired", "The stored Microsoft sign-in has no account: "
                                                  "reconnect and sign in again.")
            result = app.acquire_token_silent_with_error(MS_SCOPES, accounts[0],
                                                         force_refresh=True)
        except (ValueError, msal.exceptions.MsalServiceError) as exc:  # 5xx, odd answers
            raise TokenError("server_unavailable", "The Microsoft sign-in service answered "
                                                   f"unexpectedly: {_describe(exc)}") from None
        except requests.Timeout as exc:
            raise TokenError("timeout", f"Microsoft's sign-in service did not answer: "
                                        f"{_describe(exc)}") from None
        except requests.RequestException as exc:
            raise TokenError("network", f"Cannot reach Microsoft's sign-in service: "
                                        f"{_describe(exc)}") from None
    if not result:
        raise TokenError("token_expired", "The stored Microsoft sign-in has no refresh token: "
                                          "reconnect and sign in again.")
    register_secret(result.get("access_token"))
    register_secret(result.get("refresh_token"))
    if "error" in result:
        text = _ms_error(result)
        reason = "server_unavailable" if result.get("error") in TRANSIENT_OAUTH_ERRORS \
            else classify_token_text(text)
        detail = f"{MS_EXPIRED_HELP} (Microsoft: {text})" if reason == "token_expired" \
            else f"Microsoft refused to refresh the sign-in: {text}"
        raise TokenError(reason, detail)
    if cache.has_state_changed:  # a rotated refresh token: store it every time (spec §3)
        secrets.set_secret(email, "msal_cache", _cache_blob(cache))
    access_token = result.get("access_token")
    if not access_token:
        raise TokenError("request_invalid", "Microsoft answered without an access token")
    return str(access_token)


# --- the API the window and the command line use -------------------------------------------------


def _browser_signer(on_url: UrlCallback | None, cancel: threading.Event | None) -> Signer:
    def sign(kind: str, expected: dict[str, None], login_hint: str, timeout: float
             ) -> SignedIn:
        return _browser_sign_in(kind, expected, login_hint, timeout, on_url, cancel)
    return sign


def _browser_sign_in(kind: str, expected: dict[str, None], login_hint: str, timeout: float,
                     on_url: UrlCallback | None, cancel: threading.Event | None) -> SignedIn:
    provider = _provider(kind)
    try:
        if provider == "google":
            return _google_sign_in(expected, login_hint, timeout, on_url, cancel)
        return _ms_sign_in(expected, login_hint, timeout, on_url, cancel)
    except OAuthNotConfigured as exc:
        raise SignInError(str(exc)) from None
    except OSError as exc:  # the listener could not be opened
        raise SignInError(f"cannot wait for the sign-in: {_describe(exc)}") from None


# Signs in someone for (kind, addresses the account accepts, login hint, timeout): the browser
# by default; services/auth/no_browser.py brings the device code and the pasted address.
Signer = Callable[[str, dict[str, None], str, float], SignedIn]


def _store(email: str, signed: SignedIn, note_age: bool = True) -> None:
    with _account_lock(email):
        secrets.set_secret(email, signed.secret_kind, signed.secret, note_age=note_age)


def sign_in(account: Account, timeout: float, *, on_url: UrlCallback | None = None,
            cancel: threading.Event | None = None, signer: Signer | None = None) -> None:
    """Re-authenticate an existing account in the browser (or with `signer`) and store its new
    tokens. Nothing else about the account changes. Raises SignInError (timeout, cancel,
    another address, the provider's refusal) or secrets.SecretStoreError."""
    expected = {account.email.lower(): None}  # ordered: the address named in messages first
    if account.username:
        expected[account.username.lower()] = None
    ok, message = secrets.keyring_status()
    if not ok:
        raise secrets.SecretStoreError(message)
    signed = (signer or _browser_signer(on_url, cancel))(account.kind, expected, account.email,
                                                         timeout)
    _store(account.email, signed)
    log.info("signed in again as %s", signed.email)


def sign_in_new(kind: str, email: str, username: str | None, timeout: float, *,
                on_url: UrlCallback | None = None, cancel: threading.Event | None = None,
                signer: Signer | None = None, note_age: bool = True) -> SignedIn:
    """Sign in a mailbox that is not stored yet (or that switches to this sign-in,
    accounts/switching.py: `note_age=False`, its row is written by the caller) and keep its
    tokens in the keyring (stored before the account, so a keyring failure creates nothing).
    `forget_sign_in` takes them back when the account is not kept. Raises SignInError or
    secrets.SecretStoreError."""
    _provider(kind)
    ok, message = secrets.keyring_status()
    if not ok:
        raise secrets.SecretStoreError(message)
    expected = {email.lower(): None}
    if username:
        expected[username.lower()] = None
    signed = (signer or _browser_signer(on_url, cancel))(kind, expected, email, timeout)
    _store(email, signed, note_age)
    return signed


def forget_sign_in(email: str, signed: SignedIn) -> None:
    secrets.delete_secret(email, signed.secret_kind)


def connection_test_failed(failed: tuple[str, str]) -> ConnectionTestFailed:
    what, detail = failed
    return ConnectionTestFailed(f"signed in, but the account did not connect ({what}): "
                                f"{_first_line(detail)}; nothing was stored")


def get_access_token(account: Account, timeout: float) -> str:
    """A fresh access token for an OAuth account (a real refresh every time). Raises TokenError
    (a §2 reason: token_expired, network, …) or CredentialsMissing when sign-in is not
    configured on this computer."""
    email = account.email
    try:
        provider = _provider(account.kind)
    except SignInError as exc:
        raise CredentialsMissing(str(exc)) from None
    try:
        with _account_lock(email):
            if provider == "google":
                return _google_access_token(email, timeout)
            return _ms_access_token(email, timeout)
    except OAuthNotConfigured as exc:
        raise CredentialsMissing(str(exc)) from None

