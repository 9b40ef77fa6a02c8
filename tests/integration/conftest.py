"""Fixtures of the integration tests that sign in to Google/Microsoft: the loopback identity
provider, a Dovecot that checks its access tokens by introspection, the MAILMONITOR_* endpoints
pointing at it, and a "browser" that signs in like a person would.

A test module that needs a provider which rotates Google's refresh tokens on every use sets
``IDP_OPTIONS = {"rotate_google": True}``. Helpers to build accounts and read the keyring are
in ``oauth_support.py``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.servers.certs import TestPKI
from tests.servers.dovecot import Dovecot
from tests.servers.idp import IdentityProvider, TestBrowser, registered_browser
from tests.servers.smtp_sink import SmtpSink


@pytest.fixture(scope="module")
def idp(test_pki: TestPKI, request: pytest.FixtureRequest) -> Iterator[IdentityProvider]:
    options: dict[str, Any] = getattr(request.module, "IDP_OPTIONS", {})
    with IdentityProvider(test_pki, **options) as provider:
        yield provider


@pytest.fixture(scope="module")
def dovecot_oauth(idp: IdentityProvider, test_pki: TestPKI, smtp_sink_server: SmtpSink
                  ) -> Iterator[Dovecot]:
    with Dovecot(test_pki, relay_port=smtp_sink_server.port,
                 oauth2_introspection_url=idp.introspection_url) as server:
        yield server


@pytest.fixture
def oauth_env(idp: IdentityProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """Client registrations and endpoints of the loopback provider; no BROWSER override."""
    for name, value in idp.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BROWSER", raising=False)


@pytest.fixture
def browser(idp: IdentityProvider) -> Iterator[TestBrowser]:
    with registered_browser(TestBrowser(idp)) as registered:
        yield registered
    assert registered.errors == []
