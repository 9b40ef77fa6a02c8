"""Secrets (passwords, refresh tokens, token caches) in the OS keyring, and only there.

Blocking keyring calls are cheap on most backends but can hang on a locked Secret Service; the
app calls these from worker threads (see `services.runner`).

The keyring package is imported on first use, not with this module: `SecretStoreError` is
imported by far more modules than read a secret, and the keyring's own imports cost 18 ms
(issue 22: a command that reads no secret does not pay them).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keyring.backend

SERVICE = "mailmonitor"
log = logging.getLogger(__name__)


class SecretStoreError(Exception):
    """No usable keyring, or the keyring refused: a message for the rep, never with a secret."""


NO_KEYRING_HELP = (
    "No usable system keyring was found, so passwords cannot be stored safely. Install and "
    "unlock one (GNOME Keyring / KWallet on Linux, or set PYTHON_KEYRING_BACKEND), then try again."
)


def _backend() -> keyring.backend.KeyringBackend:
    import keyring

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # e.g. PYTHON_KEYRING_BACKEND names a module that is not there
        configured = os.environ.get("PYTHON_KEYRING_BACKEND", "").strip()
        where = f"PYTHON_KEYRING_BACKEND={configured[:80]!r}" if configured else "the keyring"
        raise SecretStoreError(f"{where} could not be loaded ({type(exc).__name__}). "
                               + NO_KEYRING_HELP) from None
    name = type(backend).__module__ + "." + type(backend).__name__
    if "fail" in name.lower() or "null" in name.lower():
        raise SecretStoreError(NO_KEYRING_HELP)
    if "keyrings.alt" in name or "PlaintextKeyring" in name:
        raise SecretStoreError(
            "The configured keyring stores passwords in plain text; mailmonitor refuses to use it. "
            + NO_KEYRING_HELP
        )
    return backend


def keyring_status() -> tuple[bool, str]:
    """(usable, description) for diagnostics and the first-run check."""
    try:
        backend = _backend()
    except SecretStoreError as exc:
        return False, str(exc)
    return True, f"{type(backend).__module__}.{type(backend).__name__}"


def _name(email: str, kind: str) -> str:
    return f"{email.lower()}:{kind}"


def set_secret(email: str, kind: str, value: str, *, note_age: bool = True) -> bool:
    """Store a secret. Returns True when a password or sign-in changed (a new value). With
    `note_age` its time is noted on the account now (real clock); callers that write the
    account themselves — on their own clock, in their own transaction — pass False."""
    backend = _backend()
    import keyring.errors

    try:
        changed = kind in SIGN_IN_KINDS and backend.get_password(SERVICE, _name(email, kind)) \
            != value
        backend.set_password(SERVICE, _name(email, kind), value)
    except keyring.errors.KeyringError as exc:
        raise SecretStoreError(f"The keyring refused to store the secret: {type(exc).__name__}"
                               ) from None
    if changed and note_age:
        _note_new_secret(email)
    return changed


# A new one of these is a new password or sign-in: its age is what proactive warnings watch.
SIGN_IN_KINDS = ("password", "refresh_token", "msal_cache")


def _note_new_secret(email: str) -> None:
    """When the mailbox's password or sign-in was last replaced (never the secret itself)."""
    try:
        from mailmonitor.clock import utcnow
        from mailmonitor.models import Account, emails_match

        Account.update(secret_set_at=utcnow()).where(emails_match([email])).execute()
    except Exception:  # no database bound (self-test), or it is busy: the age is a nicety
        log.debug("could not note the age of a new secret", exc_info=True)


def get_secret(email: str, kind: str) -> str | None:
    backend = _backend()
    import keyring.errors

    try:
        return backend.get_password(SERVICE, _name(email, kind))
    except keyring.errors.KeyringError as exc:
        raise SecretStoreError(f"The keyring could not be read: {type(exc).__name__}") from None


def delete_secret(email: str, kind: str) -> None:
    backend = _backend()
    import keyring.errors

    try:
        backend.delete_password(SERVICE, _name(email, kind))
    except keyring.errors.PasswordDeleteError:
        pass
    except keyring.errors.KeyringError as exc:
        raise SecretStoreError(f"The keyring could not delete a secret: {type(exc).__name__}"
                               ) from None


def delete_all_secrets(email: str) -> None:
    for kind in ("password", "refresh_token", "msal_cache"):
        delete_secret(email, kind)
