"""Signing in where there is no browser (a server, an SSH session): spec §7,
`accounts add|reconnect … --no-browser`.

- **Microsoft**: the device-code flow (msal's `initiate_device_flow` /
  `acquire_token_by_device_flow`). The rep is shown a link and a short code, opens the link on
  any device (their phone, their laptop), enters the code and signs in; this copy waits and
  polls, bounded by the timeout and cancellable.
- **Google**, whose device flow does not allow mail scopes: the usual authorization link with a
  loopback redirect URI (`http://127.0.0.1:PORT/`, a random port, PKCE), opened on any device.
  Nothing listens there, so after signing in that browser shows an error page whose address
  carries the authorization code: the rep copies that address (or the code alone) and pastes
  it back here (`read_answer`). Its `state` must be this sign-in's; the code is redeemed with
  the verifier only this copy holds.
Either way the same identity check as the browser sign-in (services/auth/oauth.py): signing in
as another address than the account's is refused and nothing is stored. The code, tokens and
the pasted address are registered with the log redactor as soon as they are read.

`signer(prompt)` is what `oauth.sign_in` / `oauth.add_account` take (`signer=`); the command
line builds the prompt from stdout and stdin (`Prompt.show` prints, `Prompt.read_answer`
waits for one line until a deadline).
"""

from __future__ import annotations

import logging
import secrets as pysecrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import msal
import msal.exceptions
import requests
from google_auth_oauthlib.flow import Flow

from mailmonitor.logsetup import register_secret
from mailmonitor.services.auth.config import (
    OAuthNotConfigured,
    TimeoutSession,
    ca_bundle,
    google_config,
    microsoft_config,
)
from mailmonitor.services.auth.oauth import (
    GOOGLE_SCOPES,
    MS_SCOPES,
    NETWORK_TIMEOUT,
    SignedIn,
    Signer,
    SignInCancelled,
    SignInError,
    SignInTimeout,
    _describe,
    _first_line,
    _ms_app,
    _ms_error,
    _provider,
    google_tokens_for_code,
    ms_signed_in,
)

log = logging.getLogger(__name__)

# The redirect port a pasted Google sign-in names (nothing listens there; PKCE makes a code
# that reached another program on that port useless to it).
PASTE_PORTS = (20000, 60000)


@dataclass
class Prompt:
    """How the rep is asked. `show(text)` tells them what to do (printed); `read_answer(s)`
    waits up to s seconds for one pasted line (None: nothing came yet; EOFError: the input
    ended). `cancel` ends the wait."""

    show: Callable[[str], None]
    read_answer: Callable[[float], str | None]
    cancel: threading.Event | None = None


def signer(prompt: Prompt) -> Signer:
    """A sign-in without a browser on this computer, for `oauth.sign_in(signer=…)`."""
    def sign(kind: str, expected: dict[str, None], login_hint: str, timeout: float
             ) -> SignedIn:
        provider = _provider(kind)
        try:
            if provider == "google":
                return google_pasted_sign_in(expected, login_hint, timeout, prompt)
            return ms_device_code_sign_in(expected, login_hint, timeout, prompt)
        except OAuthNotConfigured as exc:
            raise SignInError(str(exc)) from None
    return sign


# --- Microsoft: device code ------------------------------------------------------------------


def ms_device_code_sign_in(expected: dict[str, None], login_hint: str, timeout: float,
                           prompt: Prompt) -> SignedIn:
    config = microsoft_config()
    cancel = prompt.cancel
    cache = msal.SerializableTokenCache()  # a fresh sign-in starts from an empty cache
    with TimeoutSession(NETWORK_TIMEOUT) as session:
        try:
            app = _ms_app(cache, session, {})
            flow = app.initiate_device_flow(scopes=MS_SCOPES)
        except (ValueError, requests.RequestException,
                msal.exceptions.MsalServiceError) as exc:
            raise SignInError(f"cannot start a device sign-in with Microsoft at "
                              f"{config.authority}: {_describe(exc)}") from None
        if "user_code" not in flow:
            raise SignInError(f"Microsoft did not start a device sign-in: {_ms_error(flow)}")
        register_secret(flow.get("device_code"))
        minutes = max(1, min(int(flow.get("expires_in", 900)), int(timeout)) // 60)
        prompt.show(f"To sign in to Microsoft as {login_hint}, open {flow['verification_uri']} "
                    f"on any device and enter the code {flow['user_code']} "
                    f"(within {minutes} minute{'s' if minutes != 1 else ''}).")
        log.info("Microsoft device sign-in for %s: waiting for the code to be entered",
                 login_hint)
        # msal polls until the flow's expires_at (or the exit condition): bounded by ours.
        flow["expires_at"] = min(float(flow["expires_at"]), time.time() + timeout)

        def give_up(state: dict[str, Any]) -> bool:
            return (cancel is not None and cancel.is_set()) or \
                time.time() >= float(state["expires_at"])

        try:
            result = app.acquire_token_by_device_flow(flow, exit_condition=give_up)
        except requests.RequestException as exc:
            raise SignInError(f"cannot reach Microsoft's sign-in service: {_describe(exc)}"
                              ) from None
        except msal.exceptions.MsalServiceError as exc:
            raise SignInError(f"Microsoft's sign-in service failed: {_describe(exc)}") from None
    error = result.get("error")
    if cancel is not None and cancel.is_set() and "access_token" not in result:
        raise SignInCancelled("the sign-in was cancelled; nothing was changed")
    if error in ("authorization_pending", "slow_down", "expired_token", "code_expired"):
        raise SignInTimeout(f"the code was not entered within {timeout:g} seconds; nothing "
                            "was changed (try again to get a new code)")
    if error in ("authorization_declined", "access_denied"):
        raise SignInError("the sign-in was declined on the other device; nothing was changed")
    return ms_signed_in(result, app, cache, expected)


# --- Google: paste the redirected address back ---------------------------------------------


@dataclass(frozen=True)
class PastedAnswer:
    code: str | None
    state: str | None
    error: str | None


def parse_pasted(text: str) -> PastedAnswer:
    """The address the browser was sent to (`http://127.0.0.1:PORT/?state=…&code=…`), or the
    code alone. Quotes and spaces around it are tolerated; an encoded code is decoded."""
    text = text.strip().strip("'\"<>").strip()
    if not text:
        return PastedAnswer(None, None, None)
    if "://" in text or text.startswith(("/?", "?")) or "code=" in text or "error=" in text:
        query = urlsplit(text).query if "://" in text or text.startswith("/") else \
            text.lstrip("?")
        fields = {key: values[0] for key, values in parse_qs(query).items()}
        error = fields.get("error")
        if error:
            error = f"{error}: {fields.get('error_description', '')}".rstrip(": ")
        return PastedAnswer(fields.get("code"), fields.get("state"), error)
    return PastedAnswer(unquote(text), None, None)


def google_pasted_sign_in(expected: dict[str, None], login_hint: str, timeout: float,
                          prompt: Prompt) -> SignedIn:
    config = google_config()
    deadline = time.monotonic() + timeout
    port = PASTE_PORTS[0] + pysecrets.randbelow(PASTE_PORTS[1] - PASTE_PORTS[0])
    flow = Flow.from_client_config(config.client_config(), scopes=GOOGLE_SCOPES,
                                   redirect_uri=f"http://127.0.0.1:{port}/")
    flow.oauth2session.verify = ca_bundle()
    url, state = flow.authorization_url(access_type="offline", prompt="consent",
                                        login_hint=login_hint)
    register_secret(flow.code_verifier)
    prompt.show(f"To sign in to Google as {login_hint}, open this link in a browser on any "
                f"device:\n  {url}\nAfter you allow access, that browser tries to open an "
                f"address on 127.0.0.1:{port} and shows an error (nothing runs there). Copy "
                "that address from the address bar and paste it here:")
    log.info("Google sign-in for %s without a browser: waiting for the address to be pasted",
             login_hint)
    while True:
        left = deadline - time.monotonic()
        if prompt.cancel is not None and prompt.cancel.is_set():
            raise SignInCancelled("the sign-in was cancelled; nothing was changed")
        if left <= 0:
            raise SignInTimeout(f"nothing was pasted within {timeout:g} seconds; nothing was "
                                "changed (try again to get a new sign-in link)")
        try:
            line = prompt.read_answer(left)
        except EOFError:
            raise SignInError("the input ended before the address was pasted; nothing was "
                              "changed") from None
        if line is None:
            continue  # the deadline (or a cancel) is looked at again above
        register_secret(line.strip())
        answer = parse_pasted(line)
        if answer.code:
            register_secret(answer.code)
        if answer.error:
            raise SignInError(f"Google did not sign you in: {_first_line(answer.error)}")
        if answer.state is not None and answer.state != state:
            raise SignInError("that address belongs to another sign-in (its state does not "
                              "match); nothing was changed (paste the address of this "
                              "sign-in's page)")
        if not answer.code:
            prompt.show("That is not the address of the page the sign-in ended on (it has no "
                        "code=…): paste the whole address, or the code alone:")
            continue
        return google_tokens_for_code(flow, answer.code, config, expected)
