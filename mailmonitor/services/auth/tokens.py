"""What a check or a send needs to log in to a Google/Microsoft mailbox: a token provider.

A `TokenProvider` takes an account and a timeout and returns a fresh access token (a real
refresh), or raises `TokenError` (classified, e.g. token_expired) or `CredentialsMissing`. The
composition roots (the window's start-up in ``app.py``, ``run --headless``, the command line)
build one with ``refresh.oauth_token_provider()`` and hand it to the monitor, the sending engine
and the checks: nothing is installed by importing a module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailmonitor.models import Account

TokenProvider = Callable[["Account", float], str]


class CredentialsMissing(Exception):
    """Nothing to log in with: no stored password, or sign-in not set up on this computer."""
