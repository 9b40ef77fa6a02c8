"""Spec §7: OAuth settings come from MAILMONITOR_* variables, with the real providers' defaults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mailmonitor.services.auth.config import (
    GOOGLE_AUTH_URI,
    GOOGLE_TOKEN_URI,
    MS_AUTHORITY,
    OAuthNotConfigured,
    ca_bundle,
    google_config,
    microsoft_config,
)


def test_google_defaults_are_googles_endpoints() -> None:
    config = google_config({"MAILMONITOR_GOOGLE_CLIENT_ID": "abc.apps.googleusercontent.com",
                            "MAILMONITOR_GOOGLE_CLIENT_SECRET": "GOCSPX-x"})
    assert (config.auth_uri, config.token_uri) == (GOOGLE_AUTH_URI, GOOGLE_TOKEN_URI)
    installed = config.client_config()["installed"]
    assert installed["client_id"] == "abc.apps.googleusercontent.com"
    assert installed["client_secret"] == "GOCSPX-x"
    assert "GOCSPX" not in repr(config)


def test_google_endpoints_can_be_overridden() -> None:
    config = google_config({"MAILMONITOR_GOOGLE_CLIENT_ID": "id",
                            "MAILMONITOR_GOOGLE_AUTH_URI": "https://idp.test/auth",
                            "MAILMONITOR_GOOGLE_TOKEN_URI": "https://idp.test/token"})
    assert (config.auth_uri, config.token_uri) == ("https://idp.test/auth",
                                                   "https://idp.test/token")


@pytest.mark.parametrize(("read", "variable"), [
    (google_config, "MAILMONITOR_GOOGLE_CLIENT_ID"),
    (microsoft_config, "MAILMONITOR_MS_CLIENT_ID"),
])
def test_no_client_id_says_how_to_register_one(read: Callable[[dict[str, str]], object],
                                                variable: str) -> None:
    with pytest.raises(OAuthNotConfigured) as caught:
        read({})
    message = str(caught.value)
    assert "desktop OAuth client" in message and variable in message
    assert "Settings → Sign-in" in message and "mailmonitor oauth setup" in message
    assert "README" in message


def test_endpoints_must_be_https() -> None:
    with pytest.raises(OAuthNotConfigured, match="https"):
        google_config({"MAILMONITOR_GOOGLE_CLIENT_ID": "id",
                       "MAILMONITOR_GOOGLE_TOKEN_URI": "http://idp.test/token"})
    with pytest.raises(OAuthNotConfigured, match="https"):
        microsoft_config({"MAILMONITOR_MS_CLIENT_ID": "id",
                          "MAILMONITOR_MS_AUTHORITY": "http://login.test/common"})


def test_microsoft_authority_and_instance_discovery() -> None:
    default = microsoft_config({"MAILMONITOR_MS_CLIENT_ID": "id"})
    assert default.authority == MS_AUTHORITY and default.instance_discovery
    tenant = microsoft_config({"MAILMONITOR_MS_CLIENT_ID": "id",
                               "MAILMONITOR_MS_AUTHORITY": "https://login.microsoftonline.com/t/"})
    assert tenant.authority == "https://login.microsoftonline.com/t" and tenant.instance_discovery
    # A non-Microsoft authority is used as given, without Microsoft's instance discovery.
    own = microsoft_config({"MAILMONITOR_MS_CLIENT_ID": "id",
                            "MAILMONITOR_MS_AUTHORITY": "https://127.0.0.1:8443/tenant"})
    assert own.authority == "https://127.0.0.1:8443/tenant" and not own.instance_discovery
    with pytest.raises(OAuthNotConfigured, match="tenant"):
        microsoft_config({"MAILMONITOR_MS_CLIENT_ID": "id",
                          "MAILMONITOR_MS_AUTHORITY": "https://login.microsoftonline.com"})


def test_https_trust_follows_the_standard_variables(tmp_path: Path) -> None:
    bundle, other = tmp_path / "ca.pem", tmp_path / "other.pem"
    bundle.write_text("pem")
    other.write_text("pem")
    assert ca_bundle({}) is True
    assert ca_bundle({"SSL_CERT_FILE": str(other)}) == str(other)
    assert ca_bundle({"REQUESTS_CA_BUNDLE": str(bundle), "SSL_CERT_FILE": str(other)}) \
        == str(bundle)
    assert ca_bundle({"SSL_CERT_FILE": str(tmp_path / "missing.pem")}) is True
