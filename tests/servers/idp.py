"""A loopback identity provider for the OAuth tests: Google-like and Microsoft-like, over HTTPS.

Real Google and Microsoft cannot be reached from the test machines, so the app's real library calls
(google-auth-oauthlib, google-auth, msal) are pointed at this server through the MAILMONITOR_*
variables (:meth:`IdentityProvider.env`). It runs on 127.0.0.1 (ephemeral ports) with a
certificate of the test PKI (:func:`tests.servers.certs.shared_test_pki`).

Google flavour
    ``GET /o/oauth2/auth`` (authorization; PKCE S256 required), ``POST /token`` (client secret by
    HTTP Basic or in the body; ``authorization_code`` checks redirect_uri and the PKCE verifier;
    ``refresh_token`` rotates when ``rotate_google``), ``POST /revoke``. A refused refresh answers
    HTTP 400 ``invalid_grant`` "Token has been expired or revoked."

Microsoft flavour (for msal)
    ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (OIDC discovery),
    ``GET /{tenant}/oauth2/v2.0/authorize`` (``response_mode=form_post``: the answer is an
    auto-submitting HTML form the test browser posts), ``POST /{tenant}/oauth2/v2.0/token`` (ID
    tokens with the right ``iss``, ``aud``, ``nonce``, ``preferred_username``, ``tid``;
    ``client_info``; refresh tokens rotate on every use when ``rotate_microsoft``), and scripted
    errors (:meth:`script_refresh_error`, e.g. AADSTS700082).
    Device code (RFC 8628, what msal's ``initiate_device_flow`` uses): ``POST
    /{tenant}/oauth2/v2.0/devicecode`` (in the discovery document as
    ``device_authorization_endpoint``) answers a device code, a user code and
    ``verification_uri`` = ``/devicelogin``, where a person (``TestBrowser.enter_device_code``)
    enters the code and signs in; meanwhile the token endpoint answers the device-code grant
    ``authorization_pending`` (``authorization_declined``, ``expired_token``).

Both: a sign-in page (``POST /login``: the test browser picks the user), ID tokens signed RS256
(keys at ``/jwks``; neither library verifies them: they come straight from the token endpoint over
TLS), rotation that invalidates the previous refresh token at once (so a client that does not
store the newest one fails on its next refresh), :meth:`revoke`, and an RFC 7662 introspection
endpoint on plain HTTP (:attr:`introspection_url`) for Dovecot's oauth2 passdb:
``{"active": true, "email": user}`` for live access tokens it issued.

:class:`TestBrowser` is a ``webbrowser.BaseBrowser`` that follows the authorization URL, signs
in as a chosen user and delivers the redirect to the app's loopback listener (GET for Google, the
form POST for Microsoft); :func:`registered_browser` makes it Python's preferred browser.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import re
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
import webbrowser
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.servers.certs import TestPKI, shared_test_pki

__all__ = ["IdentityProvider", "TestBrowser", "listening_addresses", "registered_browser"]

GOOGLE_REVOKED = "Token has been expired or revoked."
AADSTS_ERRORS = {
    "AADSTS700082": "AADSTS700082: The refresh token has expired due to inactivity. The token "
                    "was issued on 2024-01-01 and was inactive for 90.00:00:00.",
    "AADSTS50173": "AADSTS50173: The provided grant has expired due to it being revoked, a fresh "
                   "auth token is needed. The user might have changed or reset their password.",
    "AADSTS70043": "AADSTS70043: The refresh token has expired or is invalid due to sign-in "
                   "frequency checks by conditional access.",
    "AADSTS700081": "AADSTS700081: The refresh token has expired due to maximum lifetime.",
    "AADSTS65001": "AADSTS65001: The user or administrator has not consented to use the "
                   "application.",
}
MS_RESERVED_SCOPES = {"openid", "profile", "offline_access"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _s256(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass
class _Grant:
    """A refresh token and whom it belongs to."""

    email: str
    flavour: str  # "google" | "microsoft"
    client_id: str
    scope: str
    active: bool = True


@dataclass
class _Code:
    email: str
    flavour: str
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    nonce: str | None
    offline: bool
    used: bool = False


@dataclass
class _Device:
    """A device sign-in in progress (RFC 8628)."""

    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires: float
    email: str | None = None  # who signed in with the code
    declined: bool = False
    used: bool = False


@dataclass
class _Pending:
    flavour: str
    params: dict[str, str]


@dataclass
class Stats:
    authorizations: int = 0  # sign-in pages served
    codes_issued: int = 0
    refreshes: dict[str, int] = field(default_factory=dict)  # email -> successful refreshes
    refused_refreshes: int = 0
    basic_auth: int = 0  # Google token requests that authenticated the client with HTTP Basic
    introspections: int = 0


class IdentityProvider:
    """See the module docstring. Use as a context manager (or start()/stop())."""

    host = "127.0.0.1"

    def __init__(self, pki: TestPKI | None = None, *, rotate_google: bool = False,
                 rotate_microsoft: bool = True, access_token_seconds: int = 3600,
                 device_code_seconds: int = 900) -> None:
        self.pki = pki or shared_test_pki()
        self.rotate_google = rotate_google
        self.rotate_microsoft = rotate_microsoft
        self.access_token_seconds = access_token_seconds
        self.google_client_id = f"{secrets.token_hex(6)}.apps.googleusercontent.test"
        self.google_client_secret = "GOCSPX-" + secrets.token_urlsafe(18)
        self.ms_client_id = str(uuid.uuid4())
        self.tenant_id = str(uuid.uuid4())
        self.stats = Stats()
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self.device_code_seconds = device_code_seconds
        self._devices: dict[str, _Device] = {}  # device code -> its sign-in
        self._codes: dict[str, _Code] = {}
        self._grants: dict[str, _Grant] = {}  # refresh token -> grant
        self._access: dict[str, tuple[str, float]] = {}  # access token -> (email, expires)
        self._all_access: list[str] = []  # every access token ever issued
        self._scripted: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = secrets.token_hex(4)
        self._servers: list[ThreadingHTTPServer] = []
        self.port = 0
        self.introspection_port = 0

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def introspection_url(self) -> str:
        return f"http://{self.host}:{self.introspection_port}/introspect"

    @property
    def ms_authority(self) -> str:
        return f"{self.base_url}/{self.tenant_id}"

    def env(self) -> dict[str, str]:
        """The app's settings pointing at this provider, and HTTPS trust in the test CA."""
        return {
            "MAILMONITOR_GOOGLE_CLIENT_ID": self.google_client_id,
            "MAILMONITOR_GOOGLE_CLIENT_SECRET": self.google_client_secret,
            "MAILMONITOR_GOOGLE_AUTH_URI": f"{self.base_url}/o/oauth2/auth",
            "MAILMONITOR_GOOGLE_TOKEN_URI": f"{self.base_url}/token",
            "MAILMONITOR_MS_CLIENT_ID": self.ms_client_id,
            "MAILMONITOR_MS_AUTHORITY": self.ms_authority,
            "REQUESTS_CA_BUNDLE": str(self.pki.ca_cert),
        }

    def start(self) -> IdentityProvider:
        provider = self

        class Handler(_Handler):
            idp = provider

        main = ThreadingHTTPServer((self.host, 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.pki.server_cert), str(self.pki.server_key))
        main.socket = context.wrap_socket(main.socket, server_side=True)
        introspection = ThreadingHTTPServer((self.host, 0), Handler)
        self._servers = [main, introspection]
        self.port = main.server_address[1]
        self.introspection_port = introspection.server_address[1]
        for server in self._servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                             daemon=True).start()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []

    def __enter__(self) -> IdentityProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test controls
    def revoke(self, email: str) -> int:
        """The user revokes the app's access: every refresh and access token of theirs dies."""
        email = email.lower()
        with self._lock:
            count = 0
            for grant in self._grants.values():
                if grant.email == email and grant.active:
                    grant.active = False
                    count += 1
            for token, (owner, _expires) in list(self._access.items()):
                if owner == email:
                    del self._access[token]
            return count

    def script_refresh_error(self, email: str, error: str = "invalid_grant",
                             description: str | None = None, status: int = 400) -> None:
        """The next refresh for ``email`` answers this error (an AADSTS code as ``description``
        key picks Microsoft's wording)."""
        description = AADSTS_ERRORS.get(description or "", description)
        body: dict[str, Any] = {"error": error, "error_description": description or error}
        match = re.match(r"AADSTS(\d+)", description or "")
        if match:
            body["error_codes"] = [int(match.group(1))]
            body["error_description"] += f"\r\nTrace ID: {uuid.uuid4()}\r\nTimestamp: now"
        with self._lock:
            self._scripted.setdefault(email.lower(), []).append((status, body))

    def live_refresh_tokens(self, email: str) -> list[str]:
        with self._lock:
            return [token for token, grant in self._grants.items()
                    if grant.email == email.lower() and grant.active]

    def live_access_tokens(self, email: str) -> list[str]:
        now = time.time()
        with self._lock:
            return [token for token, (owner, expires) in self._access.items()
                    if owner == email.lower() and expires > now]

    def issued_tokens(self) -> list[str]:
        """Every refresh and access token ever issued (for leak checks)."""
        with self._lock:
            return list(self._grants) + self._all_access

    def issued_codes(self) -> list[str]:
        with self._lock:
            return list(self._codes)

    # ------------------------------------------------------------------ tokens
    def _jwt(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self._kid}
        signing_input = (_b64url(json.dumps(header).encode()) + "."
                         + _b64url(json.dumps(claims).encode()))
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature)

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()

        def b64int(value: int) -> str:
            return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self._kid,
                          "n": b64int(numbers.n), "e": b64int(numbers.e)}]}

    def _issuer(self, flavour: str) -> str:
        return f"{self.base_url}/{self.tenant_id}/v2.0" if flavour == "microsoft" \
            else self.base_url

    def _client_id(self, flavour: str) -> str:
        return self.ms_client_id if flavour == "microsoft" else self.google_client_id

    def _id_token(self, flavour: str, email: str, nonce: str | None) -> str:
        now = int(time.time())
        subject = hashlib.sha256(email.encode()).hexdigest()[:24]
        claims: dict[str, Any] = {"iss": self._issuer(flavour), "aud": self._client_id(flavour),
                                  "sub": subject, "iat": now, "nbf": now, "exp": now + 3600}
        if flavour == "microsoft":
            claims.update(preferred_username=email, name=email.split("@")[0], ver="2.0",
                          tid=self.tenant_id, oid=self._oid(email))
        else:
            claims.update(email=email, email_verified=True, azp=self.google_client_id)
        if nonce:
            claims["nonce"] = nonce
        return self._jwt(claims)

    def _oid(self, email: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, email))

    def _issue(self, flavour: str, email: str, client_id: str, scope: str, *,
               nonce: str | None, refresh: bool) -> dict[str, Any]:
        access = ("ya29." if flavour == "google" else "eyJ0eXAi.") + secrets.token_urlsafe(32)
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                                "expires_in": self.access_token_seconds, "scope": scope}
        self._access[access] = (email, time.time() + self.access_token_seconds)
        self._all_access.append(access)
        if refresh:
            token = ("1//" if flavour == "google" else "0.AX") + secrets.token_urlsafe(48)
            self._grants[token] = _Grant(email, flavour, client_id, scope)
            body["refresh_token"] = token
        if "openid" in scope.split() or flavour == "microsoft":
            body["id_token"] = self._id_token(flavour, email, nonce)
        if flavour == "microsoft":
            body["ext_expires_in"] = self.access_token_seconds
            body["scope"] = " ".join(s for s in scope.split() if s not in MS_RESERVED_SCOPES)
            body["client_info"] = _b64url(json.dumps(
                {"uid": self._oid(email), "utid": self.tenant_id}).encode())
        return body


class OAuthFailure(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class _Handler(BaseHTTPRequestHandler):
    idp: IdentityProvider
    protocol_version = "HTTP/1.1"
    timeout = 10
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms stalls

    def log_message(self, format: str, *args: object) -> None:
        pass

    # ---------------------------------------------------------------- plumbing
    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: dict[str, Any]) -> None:
        self._send(status, json.dumps(value).encode(), "application/json; charset=utf-8")

    def _html(self, status: int, text: str) -> None:
        self._send(status, text.encode(), "text/html; charset=utf-8")

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        return {key: values[0] for key, values in parse_qs(raw).items()}

    def _query(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(urlsplit(self.path).query).items()}

    def _tenant_route(self, path: str, suffix: str) -> bool:
        parts = path.strip("/").split("/", 1)
        return len(parts) == 2 and parts[1] == suffix and parts[0] == self.idp.tenant_id

    # ---------------------------------------------------------------- routes
    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        try:
            if path == "/o/oauth2/auth":
                self._authorize("google")
            elif self._tenant_route(path, "oauth2/v2.0/authorize"):
                self._authorize("microsoft")
            elif self._tenant_route(path, "v2.0/.well-known/openid-configuration"):
                self._discovery()
            elif path == "/jwks":
                self._json(200, self.idp.jwks())
            elif path == "/devicelogin":
                self._html(200, '<html><body><h1>Enter code</h1><form method="post" '
                                'action="/devicelogin"><input name="user_code">'
                                '<input name="email"><button>Next</button></form>'
                                '</body></html>')
            else:
                self._json(404, {"error": "not_found"})
        except OAuthFailure as exc:
            self._html(exc.status, f"<h1>{html.escape(exc.error)}</h1>"
                                   f"<p>{html.escape(exc.description)}</p>")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        form = self._form()
        try:
            if path == "/login":
                self._login(form)
            elif path == "/token":
                self._token("google", form)
            elif self._tenant_route(path, "oauth2/v2.0/token"):
                self._token("microsoft", form)
            elif self._tenant_route(path, "oauth2/v2.0/devicecode"):
                self._device_code(form)
            elif path == "/devicelogin":
                self._device_login(form)
            elif path == "/revoke":
                self._revoke(form)
            elif path == "/introspect":
                self._introspect(form)
            else:
                self._json(404, {"error": "not_found"})
        except OAuthFailure as exc:
            self._json(exc.status, {"error": exc.error, "error_description": exc.description})

    def _discovery(self) -> None:
        base = f"{self.idp.base_url}/{self.idp.tenant_id}"
        self._json(200, {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{self.idp.base_url}/jwks",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "response_types_supported": ["code"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        })

    def _authorize(self, flavour: str) -> None:
        idp = self.idp
        q = self._query()
        if q.get("client_id") != idp._client_id(flavour):
            raise OAuthFailure(400, "invalid_client", "The OAuth client was not found.")
        redirect = urlsplit(q.get("redirect_uri", ""))
        if redirect.scheme != "http" or redirect.hostname not in ("127.0.0.1", "localhost"):
            raise OAuthFailure(400, "invalid_request", "redirect_uri must be a loopback URI")
        if q.get("response_type") != "code":
            raise OAuthFailure(400, "unsupported_response_type", "response_type must be code")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            raise OAuthFailure(400, "invalid_request", "PKCE with S256 is required")
        if "openid" not in q.get("scope", "").split():
            raise OAuthFailure(400, "invalid_scope", "openid is required")
        if flavour == "microsoft":
            if q.get("response_mode") != "form_post":
                raise OAuthFailure(400, "invalid_request", "this test IdP expects form_post")
            if not q.get("nonce"):
                raise OAuthFailure(400, "invalid_request", "nonce is required")
        request_id = secrets.token_urlsafe(12)
        with idp._lock:
            idp._pending[request_id] = _Pending(flavour, q)
            idp.stats.authorizations += 1
        self._html(200, (
            "<html><body><h1>Sign in</h1>"
            '<form method="post" action="/login">'
            f'<input type="hidden" name="request_id" value="{request_id}">'
            f'<input name="email" value="{html.escape(q.get("login_hint", ""))}">'
            "<button>Continue</button></form></body></html>"))

    def _login(self, form: dict[str, str]) -> None:
        idp = self.idp
        with idp._lock:
            pending = idp._pending.pop(form.get("request_id", ""), None)
        if pending is None:
            raise OAuthFailure(400, "invalid_request", "unknown or used sign-in request")
        q = pending.params
        answer: dict[str, str] = {"state": q.get("state", "")}
        if form.get("deny"):
            answer.update(error="access_denied", error_description="The user denied access.")
        else:
            email = form.get("email", "").strip().lower()
            if "@" not in email:
                raise OAuthFailure(400, "invalid_request", "enter an email address")
            code = "4/0A" + secrets.token_urlsafe(32)
            if pending.flavour == "microsoft":
                offline = "offline_access" in q["scope"].split()
            else:
                offline = q.get("access_type") == "offline"
            with idp._lock:
                idp._codes[code] = _Code(email, pending.flavour, q["client_id"],
                                         q["redirect_uri"], q["code_challenge"], q["scope"],
                                         q.get("nonce"), offline)
                idp.stats.codes_issued += 1
            answer["code"] = code
            if pending.flavour == "microsoft":
                answer["client_info"] = _b64url(json.dumps(
                    {"uid": idp._oid(email), "utid": idp.tenant_id}).encode())
                answer["session_state"] = str(uuid.uuid4())
            else:
                answer["scope"] = q["scope"]
        if pending.flavour == "microsoft":  # response_mode=form_post
            fields = "".join(f'<input type="hidden" name="{html.escape(k)}" '
                             f'value="{html.escape(v)}">' for k, v in answer.items())
            self._html(200, (
                "<html><head><title>Working...</title></head><body onload="
                '"javascript:document.forms[0].submit()">'
                f'<form method="POST" name="hiddenform" '
                f'action="{html.escape(q["redirect_uri"])}">{fields}'
                "<noscript><input type=\"submit\" value=\"Continue\"></noscript></form>"
                "</body></html>"))
        else:
            location = q["redirect_uri"] + ("&" if "?" in q["redirect_uri"] else "?") \
                + urlencode(answer)
            self._send(302, b"", "text/html", {"Location": location})

    def _client_auth(self, flavour: str, form: dict[str, str]) -> str:
        idp = self.idp
        if flavour == "microsoft":  # a public client: no secret
            if form.get("client_id") != idp.ms_client_id:
                raise OAuthFailure(400, "invalid_client", "AADSTS700016: Application not found.")
            return idp.ms_client_id
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            decoded = base64.b64decode(header[6:]).decode()
            user, _, password = decoded.partition(":")
            client_id, secret = unquote_plus(user), unquote_plus(password)
            with idp._lock:
                idp.stats.basic_auth += 1
        if client_id != idp.google_client_id or secret != idp.google_client_secret:
            raise OAuthFailure(401, "invalid_client", "Unauthorized")
        return client_id

    def _token(self, flavour: str, form: dict[str, str]) -> None:
        client_id = self._client_auth(flavour, form)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            self._json(200, self._redeem_code(flavour, client_id, form))
        elif grant_type == "urn:ietf:params:oauth:grant-type:device_code" \
                and flavour == "microsoft":
            self._json(200, self._redeem_device_code(client_id, form))
        elif grant_type == "refresh_token":
            self._json(200, self._refresh(flavour, client_id, form))
        else:
            raise OAuthFailure(400, "unsupported_grant_type", f"{grant_type}")

    def _redeem_code(self, flavour: str, client_id: str, form: dict[str, str]
                     ) -> dict[str, Any]:
        idp = self.idp
        with idp._lock:
            code = idp._codes.get(form.get("code", ""))
            if code is None or code.used or code.flavour != flavour \
                    or code.client_id != client_id:
                raise OAuthFailure(400, "invalid_grant", "Malformed auth code.")
            code.used = True
            if form.get("redirect_uri") != code.redirect_uri:
                raise OAuthFailure(400, "redirect_uri_mismatch", "Bad Request")
            if _s256(form.get("code_verifier", "")) != code.challenge:
                raise OAuthFailure(400, "invalid_grant", "Invalid code verifier.")
            return idp._issue(flavour, code.email, client_id, code.scope, nonce=code.nonce,
                              refresh=code.offline)

    def _device_code(self, form: dict[str, str]) -> None:
        idp = self.idp
        if form.get("client_id") != idp.ms_client_id:
            raise OAuthFailure(400, "invalid_client", "AADSTS700016: Application not found.")
        scope = form.get("scope", "")
        if "openid" not in scope.split():
            raise OAuthFailure(400, "invalid_scope", "openid is required")
        letters = "BCDFGHJKLMNPQRSTVWXZ"
        user_code = "".join(secrets.choice(letters) for _ in range(9))
        device = _Device("DAQABAAEAAA" + secrets.token_urlsafe(40), user_code, idp.ms_client_id,
                         scope, time.time() + idp.device_code_seconds)
        with idp._lock:
            idp._devices[device.device_code] = device
            idp.stats.authorizations += 1
        verification_uri = f"{idp.base_url}/devicelogin"
        self._json(200, {
            "device_code": device.device_code, "user_code": user_code,
            "verification_uri": verification_uri, "expires_in": idp.device_code_seconds,
            "interval": 1,
            "message": f"To sign in, use a web browser to open the page {verification_uri} and "
                       f"enter the code {user_code} to authenticate."})

    def _device_login(self, form: dict[str, str]) -> None:
        """The person on another device enters the code and signs in (or declines)."""
        idp = self.idp
        code = form.get("user_code", "").strip().upper()
        with idp._lock:
            device = next((d for d in idp._devices.values() if d.user_code == code), None)
            if device is None or device.expires < time.time() or device.used:
                raise OAuthFailure(400, "invalid_request", "That code is not valid.")
            if form.get("deny"):
                device.declined = True
            else:
                email = form.get("email", "").strip().lower()
                if "@" not in email:
                    raise OAuthFailure(400, "invalid_request", "enter an email address")
                device.email = email
        self._html(200, "<html><body><p>You have signed in. You may now close this window."
                        "</p></body></html>")

    def _redeem_device_code(self, client_id: str, form: dict[str, str]) -> dict[str, Any]:
        idp = self.idp
        with idp._lock:
            device = idp._devices.get(form.get("device_code", ""))
            if device is None or device.used or device.client_id != client_id:
                raise OAuthFailure(400, "invalid_grant", "AADSTS70000: The provided value for "
                                   "the 'device_code' is not valid.")
            if device.declined:
                raise OAuthFailure(400, "authorization_declined", "AADSTS70000: The user "
                                   "declined the authorization.")
            if device.expires < time.time():
                raise OAuthFailure(400, "expired_token", "AADSTS70020: The provided value for "
                                   "the input parameter 'device_code' is not valid.")
            if device.email is None:
                raise OAuthFailure(400, "authorization_pending", "AADSTS70016: OAuth 2.0 "
                                   "device flow error. Authorization is pending.")
            device.used = True
            idp.stats.codes_issued += 1
            return idp._issue("microsoft", device.email, client_id, device.scope, nonce=None,
                              refresh="offline_access" in device.scope.split())

    def _refresh(self, flavour: str, client_id: str, form: dict[str, str]) -> dict[str, Any]:
        idp = self.idp
        token = form.get("refresh_token", "")
        with idp._lock:
            grant = idp._grants.get(token)
            scripted = idp._scripted.get(grant.email, []) if grant else []
            if grant is not None and scripted:
                status, body = scripted.pop(0)
                idp.stats.refused_refreshes += 1
                raise OAuthFailure(status, body["error"], body["error_description"])
            if grant is None or not grant.active or grant.flavour != flavour \
                    or grant.client_id != client_id:
                idp.stats.refused_refreshes += 1
                if flavour == "microsoft":
                    raise OAuthFailure(400, "invalid_grant", AADSTS_ERRORS["AADSTS50173"])
                raise OAuthFailure(400, "invalid_grant", GOOGLE_REVOKED)
            rotate = idp.rotate_microsoft if flavour == "microsoft" else idp.rotate_google
            if rotate:
                grant.active = False  # strict: the previous refresh token dies at once
            body = idp._issue(flavour, grant.email, client_id, grant.scope, nonce=None,
                              refresh=rotate)
            if flavour == "google" and "id_token" in body and "openid" not in grant.scope:
                del body["id_token"]
            idp.stats.refreshes[grant.email] = idp.stats.refreshes.get(grant.email, 0) + 1
            return body

    def _revoke(self, form: dict[str, str]) -> None:
        idp = self.idp
        with idp._lock:
            grant = idp._grants.get(form.get("token", ""))
            email = grant.email if grant else idp._access.get(form.get("token", ""), ("",))[0]
        if email:
            idp.revoke(email)
        self._json(200, {})

    def _introspect(self, form: dict[str, str]) -> None:
        idp = self.idp
        with idp._lock:
            idp.stats.introspections += 1
            found = idp._access.get(form.get("token", ""))
        if found is None or found[1] < time.time():
            self._json(200, {"active": False})
        else:
            self._json(200, {"active": True, "email": found[0]})


# ---------------------------------------------------------------------------- the browser


def listening_addresses(port: int) -> list[str]:
    """Local addresses of TCP sockets listening on ``port`` (Linux /proc/net/tcp{,6})."""
    found: list[str] = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with contextlib.suppress(FileNotFoundError), open(table) as lines:
            next(lines, None)
            for line in lines:
                fields = line.split()
                local, state = fields[1], fields[3]
                address, _, port_hex = local.partition(":")
                if state != "0A" or int(port_hex, 16) != port:
                    continue
                if width == 8:
                    found.append(".".join(str(b) for b in bytes.fromhex(address)[::-1]))
                else:
                    found.append("::" if set(address) == {"0"} else f"ipv6:{address}")
    return found


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Visit:
    """What the test browser saw during one sign-in."""

    url: str
    redirect_uri: str = ""
    listener_addresses: list[str] = field(default_factory=list)
    delivered_with: str = ""  # "GET" | "POST"
    final_status: int = 0
    final_page: str = ""


class TestBrowser(webbrowser.BaseBrowser):
    """Follows the authorization URL like a person would: opens the sign-in page, signs in as
    ``user`` (default: the address the app suggested with login_hint), and delivers the
    provider's answer to the app's loopback listener. ``stall=True``: opens nothing (a browser
    the rep never completes). Runs in a thread: ``open`` returns at once, as a real one does."""

    __test__ = False

    def __init__(self, idp: IdentityProvider, user: str | None = None, *,
                 stall: bool = False, deny: bool = False) -> None:
        super().__init__("mailmonitor-test-browser")
        self.idp = idp
        self.user = user
        self.stall = stall
        self.deny = deny
        self.visits: list[Visit] = []
        self.errors: list[BaseException] = []
        self.finished = threading.Event()
        self._https = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPSHandler(context=idp.pki.client_context()), _NoRedirect())

    @property
    def opens(self) -> int:
        return len(self.visits)

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        visit = Visit(url)
        self.visits.append(visit)
        self.finished.clear()
        if not self.stall:
            threading.Thread(target=self._run, args=(visit,), daemon=True).start()
        return True

    def _run(self, visit: Visit) -> None:
        try:
            self._sign_in(visit)
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            self.finished.set()

    def _fetch(self, url: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        body = urlencode(data).encode() if data is not None else None
        try:
            with self._https.open(urllib.request.Request(url, data=body), timeout=10) as resp:
                return resp.status, resp.read().decode(), ""
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace"), exc.headers.get("Location", "")

    def enter_device_code(self, instructions: str, user: str | None = None, *,
                          deny: bool = False) -> None:
        """A person reads the printed instructions (the link and the code), opens the link on
        another device and signs in as ``user`` (default: the address the text names)."""
        link = re.search(r"(https://\S+/devicelogin)", instructions)
        code = re.search(r"code ([A-Z0-9-]{6,})", instructions)
        assert link and code, instructions
        status, page, _ = self._fetch(link.group(1))
        assert status == 200, page
        named = re.search(r"as (\S+@\S+?),? ", instructions)
        email = user or (named.group(1) if named else "")
        form = {"user_code": code.group(1), "email": email}
        if deny:
            form["deny"] = "1"
        status, page, _ = self._fetch(link.group(1), form)
        assert status == 200, page

    def _login_form(self, page: str, query: dict[str, str], user: str | None = None
                    ) -> dict[str, str]:
        """What the person sends from the authorization page: its request id, then a refusal
        or the address they sign in as."""
        request_id = re.search(r'name="request_id" value="([^"]+)"', page)
        assert request_id is not None, page
        form = {"request_id": request_id.group(1)}
        if self.deny:
            form["deny"] = "1"
        else:
            form["email"] = user or self.user or query.get("login_hint", "")
        return form

    def redirected_address(self, url: str, user: str | None = None) -> str:
        """Sign in at ``url`` on "another device" and return the address that browser was sent
        to (on 127.0.0.1, where nothing listens: what a person copies from the address bar)."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        status, page, _ = self._fetch(url)
        assert status == 200, page
        status, page, location = self._fetch(f"{self.idp.base_url}/login",
                                             self._login_form(page, query, user))
        assert status in (301, 302, 303), page
        return location

    def _sign_in(self, visit: Visit) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(visit.url).query).items()}
        visit.redirect_uri = query.get("redirect_uri", "")
        port = urlsplit(visit.redirect_uri).port
        if port:
            visit.listener_addresses = listening_addresses(port)
        status, page, _ = self._fetch(visit.url)
        if status != 200:
            raise AssertionError(f"authorization page answered {status}: {page[:300]}")
        status, page, location = self._fetch(f"{self.idp.base_url}/login",
                                             self._login_form(page, query))
        if status in (301, 302, 303):
            visit.delivered_with = "GET"
            target, data = location, None
        elif status == 200 and 'method="POST"' in page:
            visit.delivered_with = "POST"
            action = re.search(r'action="([^"]+)"', page)
            assert action is not None, page
            target = html.unescape(action.group(1))
            data = {html.unescape(k): html.unescape(v) for k, v in re.findall(
                r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)}
        else:
            raise AssertionError(f"sign-in answered {status}: {page[:300]}")
        loopback = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        body = urlencode(data).encode() if data is not None else None
        try:
            with loopback.open(urllib.request.Request(target, data=body), timeout=10) as resp:
                visit.final_status, visit.final_page = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            visit.final_status, visit.final_page = exc.code, exc.read().decode(errors="replace")


BROWSER_NAME = "mailmonitor-test-browser"


@contextlib.contextmanager
def registered_browser(browser: TestBrowser) -> Iterator[TestBrowser]:
    """``browser`` is Python's preferred browser (webbrowser.open uses it) inside the block."""
    webbrowser.register(BROWSER_NAME, None, browser, preferred=True)
    try:
        yield browser
    finally:
        with webbrowser._lock:  # type: ignore[attr-defined]
            webbrowser._browsers.pop(BROWSER_NAME, None)  # type: ignore[attr-defined]
            tryorder = webbrowser._tryorder  # type: ignore[attr-defined]
            while tryorder and BROWSER_NAME in tryorder:
                tryorder.remove(BROWSER_NAME)
