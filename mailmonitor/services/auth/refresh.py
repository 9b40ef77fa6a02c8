"""The installation's token provider: Google's and Microsoft's silent refresh.

The composition roots (the window's start-up in ``app.py``, ``run --headless``, the command line)
build one with `oauth_token_provider()` and hand it to the monitor, the sending engine and the
checks. It sits above ``oauth`` (which it imports on first use) so that ``tokens``, which
``oauth`` needs for `CredentialsMissing`, never imports ``oauth`` back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailmonitor.services.auth.tokens import CredentialsMissing, TokenProvider

if TYPE_CHECKING:
    from mailmonitor.models import Account


class OAuthTokenProvider:
    """Google's and Microsoft's silent refresh (`oauth.get_access_token`). The OAuth libraries
    are imported on the first OAuth account's check, not at start-up: the window opens without
    loading google-auth and msal when no mailbox signs in with them."""

    def __call__(self, account: Account, timeout: float) -> str:
        try:
            from mailmonitor.services.auth.oauth import get_access_token
        except ImportError as exc:  # an installation without google-auth / msal
            raise CredentialsMissing(
                f"Google/Microsoft sign-in is not available in this installation ({exc.name})"
            ) from None
        return get_access_token(account, timeout)


def oauth_token_provider() -> TokenProvider:
    """The token provider of this installation, built once at start-up."""
    return OAuthTokenProvider()
