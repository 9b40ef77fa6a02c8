"""Switching a mailbox's sign-in method in place (issue 24): from a password to "Sign in with
Microsoft / Google" and back, keeping the mailbox — its id, check history, uptime, campaigns and
leads, sending settings and owner.

The order is what keeps a failed switch harmless:

1. ``plan_switch`` checks the request (InvalidInput: nothing is touched);
2. ``sign_in_and_test`` (blocking: the browser or a signer, then real IMAP and SMTP logins with
   the new method; no database writes, so the window runs it in a worker thread) signs in
   first — signing in as another address is refused, as everywhere — and keeps the new tokens
   in the keyring next to the old secret, then tests the new method for real;
3. ``apply_switch`` (database: the loop's thread) writes kind, sign-in method and servers in one
   transaction with the passing test as the mailbox's check (so its status follows), and only
   then removes the old secret from the keyring.

Any failure before 3 ends in ``abandon_switch``: the new tokens go, the old secret and every
setting stay. ``switch_sign_in`` runs the three for the command line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from mailmonitor.events import ACCOUNT_CHANGED, bus
from mailmonitor.logsetup import register_secret
from mailmonitor.models import Account, db
from mailmonitor.services.accounts.editing import (
    SERVER_FIELDS,
    AccountEdit,
    can_be_rechecked,
    proposed_account,
    validate_edit,
)
from mailmonitor.services.accounts.providers import PRESETS
from mailmonitor.services.auth import oauth, secrets
from mailmonitor.services.common import bounds
from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.monitoring.account_state import record_check
from mailmonitor.services.monitoring.checker import failure_of
from mailmonitor.services.monitoring.probes import ProbeResult

log = logging.getLogger(__name__)

KINDS = ("imap", "gmail", "microsoft")
OAUTH_KINDS = ("gmail", "microsoft")
PROVIDER_NAMES = {"gmail": "Google", "microsoft": "Microsoft"}
CheckFn = Callable[[Account, str | None, float], tuple[ProbeResult, ProbeResult]]
TRIGGER = "switch"  # the check that the switch records (services/monitoring/check_words.py)


class SwitchFailed(Exception):
    """The switch did not happen (sign-in refused, the new method did not connect, the keyring
    refused); one line for the rep. Nothing was changed."""


def secret_slot(kind: str, auth_method: str) -> str:
    """Where a mailbox's secret lives in the keyring (services/auth/secrets.py)."""
    if auth_method != "oauth2":
        return "password"
    return "refresh_token" if kind == "gmail" else "msal_cache"


def method_words(kind: str, auth_method: str) -> str:
    if auth_method == "oauth2":
        return f"Sign in with {PROVIDER_NAMES.get(kind, kind)}"
    return "an app password" if auth_method == "app_password" else "a password"


@dataclass(frozen=True)
class SwitchPlan:
    """A checked request: what the mailbox becomes. `changes` are the account fields to write
    (kind, auth_method and the servers)."""

    account_id: int
    email: str
    kind: str
    auth_method: str
    changes: dict[str, Any]
    old_slot: str
    new_slot: str
    password: str | None = field(default=None, repr=False)

    @property
    def to_oauth(self) -> bool:
        return self.auth_method == "oauth2"


def _target_auth_method(kind: str) -> str:
    return "oauth2" if kind in OAUTH_KINDS else "password"


def plan_switch(account: Account, kind: str, servers: AccountEdit | None = None,
                password: str | None = None) -> SwitchPlan | None:
    """Check a switch of `account` to `kind` (imap: a password, which must be given;
    gmail/microsoft: browser sign-in, no password). `servers` may override the IMAP/SMTP
    settings (hosts, ports, security, username, CA file); when the kind changes to Google or
    Microsoft they default to the provider's, otherwise they stay. None: the mailbox already
    signs in that way (nothing to change). Raises InvalidInput; nothing is changed."""
    kind = (kind or "").strip().lower()
    if kind not in KINDS:
        raise InvalidInput(f"unknown kind {kind!r}: choose imap (a password), gmail or "
                           "microsoft (sign in through the browser)")
    if account.detached_at is not None or account.removed_at is not None:
        raise InvalidInput(f"{account.email} is disconnected: connect it again (mailmonitor "
                           "accounts reconnect) before switching how it signs in")
    auth_method = _target_auth_method(kind)
    if auth_method == "oauth2" and password is not None:
        raise InvalidInput(f"--kind {kind} signs in through the browser: no password is "
                           "needed (leave out --password-stdin)")
    if auth_method != "oauth2" and password is None:
        raise InvalidInput("--kind imap signs in with a password: give it with "
                           "--password-stdin (an app password works too)")
    if password is not None:
        bounds.text("password", password)
        if kind == "gmail" or account.imap_host.endswith("gmail.com"):
            password = password.replace(" ", "")  # Google's app passwords come in groups of 4
    edit = servers or AccountEdit()
    unknown = [f.name for f in fields(edit)
               if f.name not in SERVER_FIELDS and getattr(edit, f.name) not in (None, False)]
    if unknown:
        raise InvalidInput("--kind switches the sign-in method (and the servers); change "
                           f"{', '.join(sorted(unknown))} with a separate `mailmonitor accounts "
                           "edit`")
    server_edit = AccountEdit(**{name: getattr(edit, name) for name in SERVER_FIELDS})
    validate_edit(account, server_edit)  # bad values are bad input, whatever the kind
    same_method = (auth_method == "oauth2") == account.is_oauth
    if kind == account.kind and same_method:
        if not server_edit.is_empty():
            raise InvalidInput(f"{account.email} already signs in with "
                               f"{method_words(account.kind, account.auth_method)}: change its "
                               "servers without --kind")
        return None
    changes: dict[str, Any] = {"kind": kind, "auth_method": auth_method}
    preset = PRESETS.get(kind)
    if preset is not None and kind != account.kind:
        for proto in ("imap", "smtp"):
            for part in ("host", "port", "security"):
                name = f"{proto}_{part}"
                changes[name] = getattr(preset, name)
    # The rep's servers win over the provider's (compared with the provider's, not the stored).
    changes.update(validate_edit(proposed_account(account, changes), server_edit))
    changes = {k: v for k, v in changes.items() if k in ("kind", "auth_method")
               or getattr(account, k) != v}
    return SwitchPlan(account.id, account.email, kind, changes["auth_method"], changes,
                      secret_slot(account.kind, account.auth_method),
                      secret_slot(kind, changes["auth_method"]), password)


@dataclass
class Staged:
    """A switch signed in and tested, not applied yet: the passing test, and what the new
    secret's keyring slot held before (`abandon_switch` puts it back)."""

    plan: SwitchPlan
    imap: ProbeResult
    smtp: ProbeResult
    previous: str | None = field(default=None, repr=False)
    stored: bool = False  # the new secret is in the keyring


def _default_check(account: Account, password: str | None, timeout: float
                   ) -> tuple[ProbeResult, ProbeResult]:
    from mailmonitor.services.auth.refresh import oauth_token_provider
    from mailmonitor.services.monitoring.checker import run_check

    return run_check(account, password, timeout, token_provider=oauth_token_provider())


def sign_in_and_test(account: Account, plan: SwitchPlan, timeout: float, *,
                     on_url: oauth.UrlCallback | None = None,
                     cancel: threading.Event | None = None,
                     signer: oauth.Signer | None = None,
                     check: CheckFn | None = None, check_timeout: float = 20.0) -> Staged:
    """Blocking, no database writes: sign in (OAuth: the browser, or `signer`) and keep the new
    tokens in the keyring next to the old secret, then test the new method with real IMAP and
    SMTP logins (`check`, default: the real check with this process's token provider). Raises
    SwitchFailed; the new tokens are then gone again and the old secret was never touched."""
    ok, message = secrets.keyring_status()
    if not ok:
        raise SwitchFailed(message)
    was = method_words(account.kind, account.auth_method)
    proposed = proposed_account(account, plan.changes)
    previous = secrets.get_secret(plan.email, plan.new_slot) if plan.to_oauth else None
    stored = False
    try:
        if plan.to_oauth:
            try:
                oauth.sign_in_new(plan.kind, plan.email, proposed.username or None, timeout,
                                  on_url=on_url, cancel=cancel, signer=signer, note_age=False)
            except oauth.SignInError as exc:
                raise SwitchFailed(f"{exc} ({plan.email} still signs in with {was})"
                                   ) from None
            stored = True
        imap, smtp = (check or _default_check)(proposed, plan.password, check_timeout)
        failed = failure_of(imap, smtp)
        if failed is not None:
            raise SwitchFailed(
                f"{plan.email} did not connect with {method_words(plan.kind, plan.auth_method)}"
                f" ({failed.protocol}: {failed.label}): {failed.detail}; nothing was changed, "
                f"it still signs in with {was}")
    except BaseException as exc:
        if stored:
            _put_back(plan.email, plan.new_slot, previous)
        if isinstance(exc, secrets.SecretStoreError):
            raise SwitchFailed(str(exc)) from None
        raise
    return Staged(plan, imap, smtp, previous=previous, stored=stored)


def abandon_switch(staged: Staged) -> None:
    """Not applying a staged switch (the rep cancelled): the new tokens go, nothing changed."""
    if staged.stored:
        _put_back(staged.plan.email, staged.plan.new_slot, staged.previous)
        staged.stored = False


def _put_back(email: str, slot: str, previous: str | None) -> None:
    """The slot as it was before the switch touched it."""
    try:
        if previous is None:
            secrets.delete_secret(email, slot)
        else:
            secrets.set_secret(email, slot, previous, note_age=False)
    except secrets.SecretStoreError:
        log.warning("could not put back the previous %s of %s", slot, email)


@dataclass(frozen=True)
class SwitchResult:
    account: Account
    changed: list[str]
    old_secret_removed: bool  # False: the keyring refused to delete it (unused from now on)


def apply_switch(staged: Staged, now: datetime) -> SwitchResult:
    """Database (run on the loop's thread): a new password goes to the keyring, then the switch
    is written in one transaction with the passing test as the mailbox's check (its status
    follows), then — only now — the old secret leaves the keyring. A failure before that puts
    the keyring back and changes nothing."""
    plan = staged.plan
    account = Account.get_by_id(plan.account_id)
    if plan.password is not None:
        register_secret(plan.password)
        staged.previous = secrets.get_secret(plan.email, plan.new_slot)
        secrets.set_secret(plan.email, plan.new_slot, plan.password, note_age=False)
        staged.stored = True
    try:
        with db.atomic():
            for key, value in plan.changes.items():
                setattr(account, key, value)
            account.secret_set_at = now  # a new password or sign-in: its age starts now
            account.consecutive_failures = 0  # what the old method failed at is history
            account.transient_since = None
            account.next_check_at = now
            account.save()
            if can_be_rechecked(account):
                record_check(account, staged.imap, staged.smtp, now, TRIGGER)
    except BaseException:
        abandon_switch(staged)
        raise
    removed = True
    if plan.old_slot != plan.new_slot:
        try:
            secrets.delete_secret(plan.email, plan.old_slot)
        except secrets.SecretStoreError:
            removed = False
            log.warning("switched %s, but the keyring kept its old %s", plan.email,
                        plan.old_slot)
    bus.emit(ACCOUNT_CHANGED, account.id, account.status, account.status)
    log.info("switched %s to %s", plan.email, method_words(plan.kind, plan.auth_method))
    return SwitchResult(Account.get_by_id(account.id), sorted(plan.changes), removed)


def switch_sign_in(account: Account, kind: str, now: datetime, *,
                   servers: AccountEdit | None = None, password: str | None = None,
                   timeout: float = 300.0, on_url: oauth.UrlCallback | None = None,
                   cancel: threading.Event | None = None, signer: oauth.Signer | None = None,
                   check: CheckFn | None = None) -> SwitchResult | None:
    """All three steps (the command line): None when the mailbox already signs in that way.
    Raises InvalidInput (bad input, nothing touched) or SwitchFailed (nothing changed)."""
    plan = plan_switch(account, kind, servers, password)
    if plan is None:
        return None
    started = time.monotonic()
    staged = sign_in_and_test(account, plan, timeout, on_url=on_url, cancel=cancel,
                              signer=signer, check=check)
    try:
        return apply_switch(staged, now + timedelta(seconds=time.monotonic() - started))
    except secrets.SecretStoreError as exc:
        raise SwitchFailed(str(exc)) from None
