"""Editing a mailbox (issue 11): everything but the address — name, signature, servers, username,
security, CA file, password, sending settings, how often the password should change.

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
from mailmonitor.models import Account, Check, account_by_email, db
from mailmonitor.services.accounts.adding import AccountSpec, clean_password
from mailmonitor.services.alerts import warnings
from mailmonitor.services.auth import secrets
from mailmonitor.services.common import bounds
from mailmonitor.services.common.rep_day import rep_today
from mailmonitor.services.common.validation import (
    InvalidInput,
    normalize_email,
    validate_host,
    validate_port,
    validate_security,
)
from mailmonitor.services.monitoring.account_state import ProbeLike, record_check

SERVER_FIELDS = ("imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port",
                 "smtp_security", "username", "ca_file")
# The one table of bounds (common.bounds) holds every range; these names are the window's.
MAX_DAILY_LIMIT = bounds.NUMBERS["daily_limit"].high
MAX_MIN_GAP_SECONDS = bounds.NUMBERS["min_gap_seconds"].high
MAX_WARMUP = bounds.NUMBERS["warmup_start"].high
MAX_NAME = bounds.TEXTS["sender_name"].longest
MAX_SIGNATURE = bounds.TEXTS["signature"].longest
MIN_ROTATION_DAYS = bounds.NUMBERS["password_rotation_days"].low
MAX_ROTATION_DAYS = bounds.NUMBERS["password_rotation_days"].high
ROTATION_DEFAULT = "default"  # the CLI's word for "follow the team-wide period again"


@dataclass
class AccountEdit:
    """What the rep asked to change; None = leave as it is. `ca_file=""` removes the trusted
    CA file; `warmup_off` ends the warm-up ramp; `password_rotation_default` clears the
    mailbox's own password reminder period (the team-wide one applies again)."""

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
    password_rotation_days: int | str | None = None
    password_rotation_default: bool = False

    def is_empty(self) -> bool:
        """Nothing asked for (a 0 or an empty text is asked for, and checked)."""
        return all(getattr(self, f.name) is None or getattr(self, f.name) is False
                   for f in fields(self))


def find_account(address: str) -> Account:
    """The mailbox at this address, in any case. None there is bad input (the command line's
    exit 3, like an unknown campaign), with one line."""
    email = normalize_email(address)
    account = account_by_email(email)
    if account is None:
        raise InvalidInput(f"no account {email} (see `mailmonitor accounts list`)")
    return account


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
        changes["name"] = bounds.text("sender_name", edit.name)
    if edit.signature is not None:
        changes["signature"] = bounds.text("signature", edit.signature)
    for proto in ("imap", "smtp"):
        label = proto.upper()
        host = getattr(edit, f"{proto}_host")
        if host is not None:
            bounds.required(f"{proto}_host", host)
            changes[f"{proto}_host"] = validate_host(host, f"{label} host")
        port = getattr(edit, f"{proto}_port")
        if port is not None:
            changes[f"{proto}_port"] = validate_port(port, f"{label} port")
        security = getattr(edit, f"{proto}_security")
        if security is not None:
            changes[f"{proto}_security"] = validate_security(security, f"{label} security")
    if edit.username is not None:
        changes["username"] = bounds.text("username", edit.username)
    if edit.ca_file is not None:
        changes["ca_file"] = _ca_file(edit.ca_file)
    if edit.password is not None:
        if account.is_oauth:
            raise InvalidInput(f"{account.email} signs in through the browser; use `mailmonitor "
                               "accounts reconnect` instead of a password")
        bounds.text("password", edit.password)
    if edit.daily_limit is not None:
        changes["daily_limit"] = bounds.number("daily_limit", edit.daily_limit)
    if edit.min_gap_seconds is not None:
        changes["min_gap_seconds"] = bounds.number("min_gap_seconds", edit.min_gap_seconds)
    if edit.warmup_off and edit.warmup is not None:
        raise InvalidInput("the warm-up cannot be both set and off")
    if edit.warmup_off:
        changes.update(warmup_start=None, warmup_step=None, warmup_started_on=None)
    elif edit.warmup is not None:
        start = bounds.number("warmup_start", edit.warmup[0])
        step = bounds.number("warmup_step", edit.warmup[1])
        changes.update(warmup_start=start, warmup_step=step)
    if edit.password_rotation_days is not None or edit.password_rotation_default:
        changes["password_rotation_days"] = _rotation_days(account, edit)
    # Only what differs from the stored values counts as a change.
    return {k: v for k, v in changes.items() if getattr(account, k) != v}


def _rotation_days(account: Account, edit: AccountEdit) -> int | None:
    if account.is_oauth:
        raise InvalidInput(f"{account.email} signs in through the browser and has no password "
                           "to change; a password reminder applies to password mailboxes only")
    if edit.password_rotation_default and edit.password_rotation_days is not None:
        raise InvalidInput("the password reminder cannot be both a number of days and the "
                           "default")
    if edit.password_rotation_default:
        return None
    assert edit.password_rotation_days is not None
    return bounds.number("password_rotation_days", edit.password_rotation_days)


def rotation_option(text: str) -> tuple[int | str | None, bool]:
    """`--password-rotation-days N|default` as (days, back to the default); the number itself
    is checked with the other values (validate_edit)."""
    word = text.strip().lower()
    if word == ROTATION_DEFAULT:
        return None, True
    return word, False


def rotation_words(account: Account) -> str:
    """The mailbox's password reminder in words, e.g. "password reminder every 60 days"."""
    team = warnings.default_rotation_days()
    team_words = f"every {team} days" if team else "none"
    if account.password_rotation_days:
        return f"password reminder every {account.password_rotation_days} days"
    return f"password reminder: the team-wide default ({team_words})"


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
        if secrets.set_secret(account.email, "password", password, note_age=False):
            # A new password: the password reminder counts from now (on the caller's clock).
            changes = {**changes, "secret_set_at": now}
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
                secrets.set_secret(account.email, "password", previous, note_age=False)
        raise
    # The reminder follows the new period or the new password: the attention model reads it.
    bus.emit(ACCOUNT_CHANGED, account.id, account.status, account.status)
    changed = sorted(k for k in changes if k != "secret_set_at")
    return EditResult(changed=changed + (["password"] if password is not None else []),
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
