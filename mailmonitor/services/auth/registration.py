"""The team's Google and Microsoft client registrations, entered once (Settings → Sign-in or
``mailmonitor oauth setup``) instead of environment variables.

Client IDs, endpoints and the Microsoft authority are settings in the database. The Google desktop
client's "secret" is not confidential (Google says so: it ships inside every installed app), but it
is kept in the OS keyring anyway, like every other secret. Environment variables still override
(spec §7): ``MAILMONITOR_GOOGLE_CLIENT_ID`` with its ``…_SECRET``, ``MAILMONITOR_MS_CLIENT_ID``,
and the endpoint variables each on its own. Qt-free; reading the keyring blocks.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import peewee as pw

from mailmonitor.models import get_setting, set_setting
from mailmonitor.models.base import db
from mailmonitor.services.auth import secrets

# The keyring entry of the Google client secret (not an address any mailbox can have).
GOOGLE_SECRET_OWNER = "oauth-client@google"
GOOGLE_SECRET_KIND = "client_secret"
MAX_CLIENT_JSON_BYTES = 64 * 1024

_TOKEN_RE = re.compile(r"^[A-Za-z0-9._~+/=-]{1,200}$")  # IDs and secrets: no spaces, bounded
_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

SETUP_HINT = ("An administrator enters it once in Settings → Sign-in (or runs "
              "“mailmonitor oauth setup”).")


class RegistrationError(ValueError):
    """Bad input for a client registration: one line for the admin; nothing was changed."""


@dataclass(frozen=True)
class Registration:
    provider: str  # 'google' | 'microsoft'
    client_id: str | None
    source: str | None  # 'environment' | 'settings' | None (not set up)
    endpoints: dict[str, str]  # google: auth_uri, token_uri; microsoft: authority (if not default)
    has_secret: bool  # google only

    @property
    def configured(self) -> bool:
        return bool(self.client_id)

    @property
    def name(self) -> str:
        return "Google" if self.provider == "google" else "Microsoft"

    def describe(self) -> str:
        """One line for `oauth setup --show` and the Settings page; never the secret."""
        if not self.configured:
            return f"{self.name}: not set up. {SETUP_HINT}"
        where = ("from environment variables (they override the settings)"
                 if self.source == "environment" else "from the settings")
        extra = []
        if self.provider == "google":
            extra.append("client secret " + ("stored in the keyring" if self.source == "settings"
                                             else "from the environment")
                         if self.has_secret else "no client secret")
        extra += [f"{key} {value}" for key, value in self.endpoints.items()]
        return f"{self.name}: client ID {self.client_id} {where}" + (
            f"; {'; '.join(extra)}" if extra else "")


def _env(env: Mapping[str, str], name: str) -> str:
    return (env.get(name) or "").strip()


def _db_ready() -> bool:
    return db.obj is not None


def _setting(key: str) -> str | None:
    if not _db_ready():
        return None
    try:
        value = get_setting(key)
    except pw.PeeweeException:
        return None
    return str(value) if value else None


# --- reading ------------------------------------------------------------------------------------


def google_values(env: Mapping[str, str] | None = None, with_secret: bool = True
                  ) -> dict[str, str]:
    """client_id, client_secret, auth_uri, token_uri (those that are set), environment first.
    The stored secret is read from the keyring only when ``with_secret``."""
    env = os.environ if env is None else env
    values: dict[str, str] = {}
    if _env(env, "MAILMONITOR_GOOGLE_CLIENT_ID"):
        values["client_id"] = _env(env, "MAILMONITOR_GOOGLE_CLIENT_ID")
        values["client_secret"] = _env(env, "MAILMONITOR_GOOGLE_CLIENT_SECRET")
        values["source"] = "environment"
    else:
        stored = _setting("google_client_id")
        if stored:
            values["client_id"] = stored
            values["source"] = "settings"
            if with_secret:
                values["client_secret"] = secrets.get_secret(
                    GOOGLE_SECRET_OWNER, GOOGLE_SECRET_KIND) or ""
    for key, variable in (("auth_uri", "MAILMONITOR_GOOGLE_AUTH_URI"),
                          ("token_uri", "MAILMONITOR_GOOGLE_TOKEN_URI")):
        value = _env(env, variable) or _setting(f"google_{key}")
        if value:
            values[key] = value
    return values


def microsoft_values(env: Mapping[str, str] | None = None) -> dict[str, str]:
    env = os.environ if env is None else env
    values: dict[str, str] = {}
    if _env(env, "MAILMONITOR_MS_CLIENT_ID"):
        values["client_id"] = _env(env, "MAILMONITOR_MS_CLIENT_ID")
        values["source"] = "environment"
    elif _setting("ms_client_id"):
        values["client_id"] = str(_setting("ms_client_id"))
        values["source"] = "settings"
    authority = _env(env, "MAILMONITOR_MS_AUTHORITY") or _setting("ms_authority")
    if authority:
        values["authority"] = authority
    return values


def registrations(env: Mapping[str, str] | None = None) -> list[Registration]:
    """Both providers, without reading the keyring (fast enough for the GUI thread)."""
    google = google_values(env, with_secret=False)
    has_secret = bool(google.get("client_secret")) if google.get("source") == "environment" \
        else bool(google.get("client_id"))  # a stored client always stores its secret
    ms = microsoft_values(env)
    return [
        Registration("google", google.get("client_id"), google.get("source"),
                     {k: google[k] for k in ("auth_uri", "token_uri") if k in google},
                     has_secret),
        Registration("microsoft", ms.get("client_id"), ms.get("source"),
                     {"authority": ms["authority"]} if "authority" in ms else {}, False),
    ]


def registration(provider: str, env: Mapping[str, str] | None = None) -> Registration:
    return next(r for r in registrations(env) if r.provider == provider)


def not_set_up_message(provider: str) -> str:
    """What the Google/Microsoft button says when the team has no registration yet."""
    name = "Google" if provider == "google" else "Microsoft"
    return (f"{name} sign-in is not set up on this computer yet: it needs your team's "
            f"{name} client ID. {SETUP_HINT} Meanwhile you can use an app password.")


# --- writing ------------------------------------------------------------------------------------


def _token(value: str, what: str) -> str:
    value = value.strip()
    if not _TOKEN_RE.match(value):
        shown = value[:40] + ("…" if len(value) > 40 else "")
        raise RegistrationError(f"“{shown}” is not a valid {what}" if value
                                else f"the {what} is empty")
    return value


def _https(value: str, what: str) -> str:
    value = value.strip()
    parsed = urlparse(value)
    if len(value) > 500 or parsed.scheme != "https" or not parsed.hostname:
        raise RegistrationError(f"the {what} must be an https:// address, not “{value[:60]}”")
    return value


def parse_google_client_json(path: str | Path) -> dict[str, str]:
    """The file Google Cloud console downloads for a **Desktop app** client
    (``client_secret_….json``): client_id, client_secret, auth_uri, token_uri."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CLIENT_JSON_BYTES:
            raise RegistrationError(f"{path.name} is too large for a client file")
        data: Any = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise RegistrationError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise RegistrationError(f"{path.name} is not a Google client file (not JSON)") from None
    if isinstance(data, dict) and "web" in data and "installed" not in data:
        raise RegistrationError(f"{path.name} is a “Web application” client: create an OAuth "
                                "client of type “Desktop app” instead")
    block = data.get("installed") if isinstance(data, dict) else None
    if not isinstance(block, dict) or not block.get("client_id"):
        raise RegistrationError(f"{path.name} is not a Google desktop client file (no "
                                "“installed” client_id)")
    values = {"client_id": str(block["client_id"]),
              "client_secret": str(block.get("client_secret") or "")}
    for key in ("auth_uri", "token_uri"):
        if block.get(key):
            values[key] = str(block[key])
    return values


def check_google(client_id: str, client_secret: str, auth_uri: str | None = None,
                 token_uri: str | None = None) -> tuple[str, str, str | None, str | None]:
    """The values cleaned, or RegistrationError."""
    return (_token(client_id, "Google client ID"), _token(client_secret, "Google client secret"),
            _https(auth_uri, "Google auth URI") if auth_uri else None,
            _https(token_uri, "Google token URI") if token_uri else None)


def check_microsoft(client_id: str, authority: str | None = None) -> tuple[str, str | None]:
    client_id = _token(client_id, "Microsoft client (application) ID")
    if not _GUID_RE.match(client_id):
        raise RegistrationError(f"“{client_id[:40]}” is not a Microsoft application (client) "
                                "ID: it looks like 12345678-1234-1234-1234-123456789abc")
    auth = _https(authority, "Microsoft authority") if authority else None
    if auth is not None and not [p for p in urlparse(auth).path.split("/") if p]:
        raise RegistrationError("the Microsoft authority needs a tenant in its path, e.g. "
                                "https://login.microsoftonline.com/common")
    return client_id, auth.rstrip("/") if auth else None


def save_google(client_id: str, client_secret: str, auth_uri: str | None = None,
                token_uri: str | None = None) -> Registration:
    """Store Google's registration: the secret in the keyring first (a keyring that refuses
    means nothing is changed), then the rest as settings."""
    client_id, client_secret, auth, token = check_google(client_id, client_secret, auth_uri,
                                                         token_uri)
    secrets.set_secret(GOOGLE_SECRET_OWNER, GOOGLE_SECRET_KIND, client_secret)
    with db.atomic():
        set_setting("google_client_id", client_id)
        set_setting("google_auth_uri", auth)
        set_setting("google_token_uri", token)
    return registration("google")


def save_microsoft(client_id: str, authority: str | None = None) -> Registration:
    client_id, auth = check_microsoft(client_id, authority)
    with db.atomic():
        set_setting("ms_client_id", client_id)
        set_setting("ms_authority", auth)
    return registration("microsoft")


def clear(provider: str) -> Registration:
    """Forget a stored registration (environment variables are not touched)."""
    if provider == "google":
        secrets.delete_secret(GOOGLE_SECRET_OWNER, GOOGLE_SECRET_KIND)
        with db.atomic():
            for key in ("google_client_id", "google_auth_uri", "google_token_uri"):
                set_setting(key, None)
    elif provider == "microsoft":
        with db.atomic():
            set_setting("ms_client_id", None)
            set_setting("ms_authority", None)
    else:
        raise RegistrationError(f"unknown provider “{provider[:20]}”: google or microsoft")
    return registration(provider)
