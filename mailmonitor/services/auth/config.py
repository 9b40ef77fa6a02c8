"""Google and Microsoft sign-in settings (spec §7): client registrations and provider endpoints.

Values come from the registrations stored in Settings (``registration``), overridden by the
environment, with the real providers' endpoints as defaults:

- ``MAILMONITOR_GOOGLE_CLIENT_ID``, ``MAILMONITOR_GOOGLE_CLIENT_SECRET`` (a desktop client's
  "secret" is not secret, Google still requires it), ``MAILMONITOR_GOOGLE_AUTH_URI``,
  ``MAILMONITOR_GOOGLE_TOKEN_URI``;
- ``MAILMONITOR_MS_CLIENT_ID``, ``MAILMONITOR_MS_AUTHORITY`` (default
  ``https://login.microsoftonline.com/common``; a non-Microsoft authority is used as given,
  without Microsoft's instance discovery).

HTTPS trust follows the standard variables: ``REQUESTS_CA_BUNDLE`` (requests reads it itself),
else ``SSL_CERT_FILE``, else the bundled CA list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import requests

GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
MS_AUTHORITY = "https://login.microsoftonline.com/common"

# Hosts msal knows as Microsoft's own: only these get Microsoft's instance discovery.
MICROSOFT_AUTHORITY_HOSTS = frozenset({
    "login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net",
    "login.chinacloudapi.cn", "login.partner.microsoftonline.cn", "login.microsoftonline.de",
    "login-us.microsoftonline.com", "login.microsoftonline.us", "login.usgovcloudapi.net",
})

REGISTER_HELP = ("it needs your team's desktop OAuth client from {provider}. An administrator "
                 "enters it once in Settings → Sign-in, or runs “mailmonitor oauth setup” (or "
                 "sets {variable}; see README, “Google and Microsoft sign-in”)")


class OAuthNotConfigured(Exception):
    """No client registration (or an unusable endpoint) for a provider: one line for the rep."""


@dataclass(frozen=True)
class GoogleConfig:
    client_id: str
    client_secret: str = field(repr=False)
    auth_uri: str
    token_uri: str

    def client_config(self) -> dict[str, Any]:
        """The "installed app" client secrets format google-auth-oauthlib reads."""
        return {"installed": {
            "client_id": self.client_id, "client_secret": self.client_secret,
            "auth_uri": self.auth_uri, "token_uri": self.token_uri,
            "redirect_uris": ["http://127.0.0.1"],
        }}


@dataclass(frozen=True)
class MicrosoftConfig:
    client_id: str
    authority: str

    @property
    def instance_discovery(self) -> bool:
        """False for a non-Microsoft authority: it is used as given (spec §7)."""
        return (urlparse(self.authority).hostname or "").lower() in MICROSOFT_AUTHORITY_HOSTS


def _env(env: Mapping[str, str], name: str, default: str = "") -> str:
    return (env.get(name) or "").strip() or default


def _https_url(value: str, variable: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.hostname:
        raise OAuthNotConfigured(f"{variable} must be an https:// address, not {value!r}")
    return value.rstrip("/") if variable.endswith("AUTHORITY") else value


def google_config(env: Mapping[str, str] | None = None) -> GoogleConfig:
    """From the process environment and the stored registration; an ``env`` given explicitly is
    the only source."""
    from mailmonitor.services.auth.registration import google_values

    values: dict[str, str] = {}
    if env is None:
        env = os.environ
        try:
            values = google_values(env)
        except Exception as exc:  # the keyring holding the stored secret could not be read
            raise OAuthNotConfigured(f"Google sign-in cannot start: {exc}") from None
    env = {**env, **{name: values[key] for key, name in (
        ("client_id", "MAILMONITOR_GOOGLE_CLIENT_ID"),
        ("client_secret", "MAILMONITOR_GOOGLE_CLIENT_SECRET"),
        ("auth_uri", "MAILMONITOR_GOOGLE_AUTH_URI"),
        ("token_uri", "MAILMONITOR_GOOGLE_TOKEN_URI")) if values.get(key)}}
    client_id = _env(env, "MAILMONITOR_GOOGLE_CLIENT_ID")
    if not client_id:
        raise OAuthNotConfigured("Google sign-in is not set up: " + REGISTER_HELP.format(
            provider="Google Cloud", variable="MAILMONITOR_GOOGLE_CLIENT_ID and "
            "MAILMONITOR_GOOGLE_CLIENT_SECRET"))
    return GoogleConfig(
        client_id=client_id,
        client_secret=_env(env, "MAILMONITOR_GOOGLE_CLIENT_SECRET"),
        auth_uri=_https_url(_env(env, "MAILMONITOR_GOOGLE_AUTH_URI", GOOGLE_AUTH_URI),
                            "MAILMONITOR_GOOGLE_AUTH_URI"),
        token_uri=_https_url(_env(env, "MAILMONITOR_GOOGLE_TOKEN_URI", GOOGLE_TOKEN_URI),
                             "MAILMONITOR_GOOGLE_TOKEN_URI"),
    )


def microsoft_config(env: Mapping[str, str] | None = None) -> MicrosoftConfig:
    """From the process environment and the stored registration; an ``env`` given explicitly is
    the only source."""
    from mailmonitor.services.auth.registration import microsoft_values

    values: dict[str, str] = {}
    if env is None:
        env = os.environ
        values = microsoft_values(env)
    env = {**env, **{name: values[key] for key, name in (
        ("client_id", "MAILMONITOR_MS_CLIENT_ID"), ("authority", "MAILMONITOR_MS_AUTHORITY"))
        if values.get(key)}}
    client_id = _env(env, "MAILMONITOR_MS_CLIENT_ID")
    if not client_id:
        raise OAuthNotConfigured("Microsoft sign-in is not set up: " + REGISTER_HELP.format(
            provider="Microsoft Entra", variable="MAILMONITOR_MS_CLIENT_ID"))
    authority = _https_url(_env(env, "MAILMONITOR_MS_AUTHORITY", MS_AUTHORITY),
                           "MAILMONITOR_MS_AUTHORITY")
    if len([part for part in urlparse(authority).path.split("/") if part]) < 1:
        raise OAuthNotConfigured("MAILMONITOR_MS_AUTHORITY needs a tenant in its path, e.g. "
                                 f"{MS_AUTHORITY}")
    return MicrosoftConfig(client_id=client_id, authority=authority)


def ca_bundle(env: Mapping[str, str] | None = None) -> str | bool:
    """What HTTPS to the identity provider trusts: REQUESTS_CA_BUNDLE, else SSL_CERT_FILE, else
    the default CA list. (requests itself lets REQUESTS_CA_BUNDLE override anything set here.)"""
    env = os.environ if env is None else env
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = _env(env, name)
        if value and os.path.isfile(value):
            return value
    return True


class TimeoutSession(requests.Session):
    """A requests session with a default timeout on every request (msal passes none)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout
        self.verify = ca_bundle()

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(*args, **kwargs)
