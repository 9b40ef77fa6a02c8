"""Editing a mailbox (issue 11): everything but the address — name, signature, servers, username,
security, CA file, password, sending settings.

The same row is updated, so the account keeps its check history, campaigns, leads, cursors and
send records. Server changes can be tested for real before anything is stored
(`proposed_account` + a check); after saving, the account is re-checked by the caller (the CLI
or the window's monitor), which is what moves a fixed account back to `connected` and lets its
halted leads continue.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from mailmonitor.events import ACCOUNT_CHANGED, bus
from mailmonitor.logsetup import register_secret
from mailmonitor.models import Account, Check, db
from mailmonitor.services.accounts.adding import AccountSpec, clean_password
from mailmonitor.services.accounts.validation import (
    InvalidInput,
    validate_host,
    validate_port,
    validate_security,
)
from mailmonitor.services.auth import secrets
from mailmonitor.services.monitoring.account_state import ProbeLike, record_check
from mailmonitor.services.sending.rep_day import rep_today

SERVER_FIELDS = ("imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port",
                 "smtp_security", "username", "ca_file")
MAX_DAILY_LIMIT = 100_000  # no mailbox provider lets one mailbox send more in a day
MAX_MIN_GAP_SECONDS = 7 * 24 * 3600
MAX_WARMUP = 10_000
MAX_NAME = 200
MAX_SIGNATURE = 10_000


@dataclass
class AccountEdit:
    """What the rep asked to change; None = leave as it is. `ca_file=""` removes the trusted
    CA file; `warmup_off` ends the warm-up ramp."""

    name: str | None = None
    signature: str | None = None
    imap_host: str | None = None
    imap_port: int | str | None = None
    imap_security: str | None = None
    smtp_host: str | None = None
    smtp_port: int | str | None = None
    smtp_security: str | None = None
    username: str | None = None
    ca_file: str | None = None
    password: str | None = None
    daily_limit: int | str | None = None
    min_gap_seconds: int | str | None = None
    warmup: tuple[int, int] | None = None
    warmup_off: bool = False

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) in (None, False) for f in fields(self))


def _bounded(value: int | str, low: int, high: int, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} {value!r} is not a whole number") from None
    if not low <= number <= high:
        raise InvalidInput(f"{what} must be between {low:,} and {high:,}, not {number:,}")
    return number


def _ca_file(value: str) -> str | None:
    if not value.strip():
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise InvalidInput(f"CA file {value} does not exist")
    try:
        head = path.read_bytes()[:1_000_000].decode("utf-8", "replace")
    except OSError as exc:
        raise InvalidInput(f"cannot read CA file {value}: {exc.strerror or exc}") from None
    if "BEGIN CERTIFICATE" not in head:
        raise InvalidInput(f"CA file {value} is not a PEM certificate")
    return str(path.resolve())


def validate_edit(account: Account, edit: AccountEdit) -> dict[str, Any]:
    """The account fields to write, each checked; raises InvalidInput (nothing is changed)."""
    changes: dict[str, Any] = {}
    if edit.name is not None:
        name = edit.name.strip()
        if len(name) > MAX_NAME or "\n" in name or "\r" in name:
            raise InvalidInput(f"the sender name must be one line of at most {MAX_NAME} "
                               "characters")
        changes["name"] = name
    if edit.signature is not None:
        if len(edit.signature) > MAX_SIGNATURE:
            raise InvalidInput(f"the signature must be at most {MAX_SIGNATURE:,} characters")
        changes["signature"] = edit.signature
    for proto in ("imap", "smtp"):
        label = proto.upper()
        host = getattr(edit, f"{proto}_host")
        if host is not None:
            changes[f"{proto}_host"] = validate_host(host, f"{label} host")
        port = getattr(edit, f"{proto}_port")
        if port is not None:
            changes[f"{proto}_port"] = validate_port(port, f"{label} port")
        security = getattr(edit, f"{proto}_security")
        if security is not None:
            changes[f"{proto}_security"] = validate_security(security, f"{label} security")
    if edit.username is not None:
        username = edit.username.strip()
        if len(username) > 320 or any(c in username for c in "\r\n\t "):
            raise InvalidInput(f"user name {edit.username!r} is not valid")
        changes["username"] = username
    if edit.ca_file is not None:
        changes["ca_file"] = _ca_file(edit.ca_file)
    if edit.password is not None:
        if account.is_oauth:
            raise InvalidInput(f"{account.email} signs in through the browser; use `mailmonitor "
                               "accounts reconnect` instead of a password")
        if not edit.password or "\n" in edit.password or len(edit.password) > 1000:
            raise InvalidInput("the password must be one non-empty line")
    if edit.daily_limit is not None:
        changes["daily_limit"] = _bounded(edit.daily_limit, 0, MAX_DAILY_LIMIT, "daily limit")
    if edit.min_gap_seconds is not None:
        changes["min_gap_seconds"] = _bounded(edit.min_gap_seconds, 0, MAX_MIN_GAP_SECONDS,
                                              "minimum gap (seconds)")
    if edit.warmup_off and edit.warmup is not None:
        raise InvalidInput("the warm-up cannot be both set and off")
    if edit.warmup_off:
        changes.update(warmup_start=None, warmup_step=None, warmup_started_on=None)
    elif edit.warmup is not None:
        start = _bounded(edit.warmup[0], 1, MAX_WARMUP, "warm-up start")
        step = _bounded(edit.warmup[1], 0, MAX_WARMUP, "warm-up step")
        changes.update(warmup_start=start, warmup_step=step)
    # Only what differs from the stored values counts as a change.
    return {k: v for k, v in changes.items() if getattr(account, k) != v}


def server_settings_change(changes: dict[str, Any], edit: AccountEdit) -> bool:
    """Do the changes touch how the account connects (and so need a test / a re-check)?"""
    return edit.password is not None or any(k in changes for k in SERVER_FIELDS)


def proposed_account(account: Account, changes: dict[str, Any]) -> Account:
    """An unsaved copy of the account with the changes applied, to test the new settings
    before anything is stored."""
    copy = Account(**{**account.__data__, **changes})
    copy.id = account.id
    return copy


def clean_new_password(account: Account, password: str) -> str:
    return clean_password(AccountSpec(email=account.email, kind=account.kind,
                                      imap_host=account.imap_host), password)


@dataclass
class EditResult:
    changed: list[str]
    servers_changed: bool


def save_edit(account: Account, changes: dict[str, Any], password: str | None, now: datetime
              ) -> EditResult:
    """Store the changes on the same account row (history, campaigns and leads stay). A new
    password goes to the keyring first, and is put back if the database write fails."""
    servers = password is not None or any(k in changes for k in SERVER_FIELDS)
    previous: str | None = None
    if password is not None:
        register_secret(password)
        previous = secrets.get_secret(account.email, "password")
        secrets.set_secret(account.email, "password", password)
    try:
        with db.atomic():
            if "warmup_start" in changes and changes["warmup_start"] is not None \
                    and account.warmup_started_on is None:
                changes = {**changes, "warmup_started_on": rep_today(now)}
            for key, value in changes.items():
                setattr(account, key, value)
            if servers:
                # New settings: what the old ones failed at says nothing about them.
                account.consecutive_failures = 0
                account.transient_since = None
                account.next_check_at = now
            account.save()
    except Exception:
        if password is not None:
            if previous is None:
                secrets.delete_secret(account.email, "password")
            else:
                secrets.set_secret(account.email, "password", previous)
        raise
    bus.emit(ACCOUNT_CHANGED, account.id, account.status, account.status)
    return EditResult(changed=sorted(changes) + (["password"] if password is not None else []),
                      servers_changed=servers)


def record_edit_test(account_id: int, imap: ProbeLike, smtp: ProbeLike, now: datetime
                     ) -> Check:
    """The passing test of edited server settings becomes the mailbox's re-check. Database
    only: run it on the loop's thread, through the monitor (`Monitor.store_test`)."""
    return record_check(Account.get_by_id(account_id), imap, smtp, now, "edit")


def can_be_rechecked(account: Account) -> bool:
    """A mailbox the rep disconnected (or stopped monitoring) is not checked until reconnected."""
    return account.status != "stopped" and account.detached_at is None \
        and account.removed_at is None
