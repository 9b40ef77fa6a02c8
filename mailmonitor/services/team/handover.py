"""Handing a mailbox's sign-in over to another running copy, without typing on its machine
(issue 21, part 3): `mailmonitor team senders`, `mailmonitor accounts hand-over EMAIL`.

Every running copy on a team database (a window or `run --headless`) has a key pair: the
private key (X25519) in its own keyring, the public key and its fingerprint on its `Runner` row,
next to its machine, kind and heartbeat. A rep's copy that holds a mailbox's secret (password,
or the OAuth refresh token / Microsoft token cache, and the team's Google client secret a
receiver without it needs to refresh) seals it to the chosen copy's public key with libsodium's
sealed box (PyNaCl `SealedBox`: ephemeral X25519 + XSalsa20-Poly1305, nothing hand-made) and
writes the ciphertext as a `SealedSecret` row. The receiver picks it up (LISTEN/NOTIFY wakes it;
its next tick otherwise), opens it with its private key, checks it is addressed to it and is
the row's mailbox, stores the secret in its keyring and deletes the row. The sender waits until
the row is gone (stored), carries an `error` (refused), or its timeout (the sender deletes it:
no ciphertext outlives the hand-over). The database never holds a secret in the clear.

An OAuth sign-in *moves*: the sender deletes its own copy once the receiver stored it, so
only the receiver refreshes the tokens from then on (two copies refreshing one rotating refresh
token would end each other's sign-in). A password is copied (it does not rotate).

What this does not do: authenticate the sender (anyone who can write to the database can seal
something to a copy's public key, as they could change any mailbox's settings); the receiver
checks what it received the way it checks every sign-in, by using it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import nacl.exceptions
import nacl.public

from mailmonitor.clock import Clock
from mailmonitor.logsetup import register_secret
from mailmonitor.models import Account, Runner, SealedSecret, account_by_email, db
from mailmonitor.services.auth import secrets
from mailmonitor.services.auth.config import OAuthNotConfigured, google_config
from mailmonitor.services.auth.registration import GOOGLE_SECRET_KIND, GOOGLE_SECRET_OWNER

log = logging.getLogger(__name__)

KEY_OWNER, KEY_KIND = "this-copy@team", "handover_key"  # the private key's keyring entry
PAYLOAD_VERSION = 1
DEFAULT_TIMEOUT = 60.0
ROW_GRACE = timedelta(seconds=30)  # a row outlives its sender's timeout by this, then goes
POLL_SECONDS = 0.2  # the sender looks whether the receiver stored it
SIGN_IN_SECRETS = {"gmail": "refresh_token", "microsoft": "msal_cache"}


class HandOverRefused(Exception):
    """Bad input: an unknown mailbox, no secret on this computer, no such receiver, several
    receivers and none chosen. One line; nothing was sent."""


class HandOverFailed(Exception):
    """The receiver did not store it (not picked up in time, or it refused). One line; no
    ciphertext is left behind."""


# --- this copy's key pair ----------------------------------------------------------------------


def fingerprint_of(public_key: bytes) -> str:
    """What a person compares: the SHA-256 of the public key, 32 hex digits in groups of 4."""
    digest = hashlib.sha256(public_key).hexdigest()[:32]
    return "-".join(digest[i:i + 4] for i in range(0, 32, 4))


@dataclass(frozen=True)
class Identity:
    """This copy's key pair (the private key never leaves this process and its keyring)."""

    private_key: nacl.public.PrivateKey = field(repr=False)

    @property
    def public_key(self) -> str:
        return base64.b64encode(bytes(self.private_key.public_key)).decode("ascii")

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(bytes(self.private_key.public_key))


def load_identity(create: bool = True) -> Identity | None:
    """This copy's key pair from its keyring (made and stored there the first time, with
    `create`). None when the keyring has none and `create` is off. Raises SecretStoreError when
    the keyring cannot be used (then this copy cannot receive a hand-over)."""
    stored = secrets.get_secret(KEY_OWNER, KEY_KIND)
    if stored:
        register_secret(stored)
        try:
            return Identity(nacl.public.PrivateKey(base64.b64decode(stored, validate=True)))
        except (ValueError, binascii.Error, nacl.exceptions.CryptoError):
            log.warning("the hand-over key in this computer's keyring is unreadable: a new one "
                        "is made")
    if not create:
        return None
    key = nacl.public.PrivateKey.generate()
    encoded = base64.b64encode(bytes(key)).decode("ascii")
    register_secret(encoded)
    secrets.set_secret(KEY_OWNER, KEY_KIND, encoded, note_age=False)
    identity = Identity(key)
    log.info("made this copy's hand-over key (fingerprint %s)", identity.fingerprint)
    return identity


def seal(public_key: str, payload: dict[str, Any]) -> str:
    box = nacl.public.SealedBox(nacl.public.PublicKey(base64.b64decode(public_key)))
    return base64.b64encode(box.encrypt(json.dumps(payload).encode("utf-8"))).decode("ascii")


def unseal(identity: Identity, ciphertext: str) -> dict[str, Any]:
    """Raises ValueError when it is not addressed to this key or is damaged."""
    try:
        plain = nacl.public.SealedBox(identity.private_key).decrypt(base64.b64decode(ciphertext))
        value = json.loads(plain.decode("utf-8"))
    except (nacl.exceptions.CryptoError, binascii.Error, ValueError) as exc:
        raise ValueError("it cannot be opened with this copy's key") from exc
    if not isinstance(value, dict):
        raise ValueError("it is not a sign-in")
    return value


# --- who can receive ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Receiver:
    """A running copy that can receive a hand-over (one key: copies sharing a keyring on one
    machine are one receiver)."""

    machine: str
    fingerprint: str
    kind: str  # headless | window (headless when any of its copies is)
    public_key: str
    mailboxes: tuple[str, ...]  # what its keyring can serve
    last_seen: datetime

    def as_json(self) -> dict[str, Any]:
        return {"machine": self.machine, "fingerprint": self.fingerprint, "kind": self.kind,
                "mailboxes": list(self.mailboxes),
                "last_seen": self.last_seen.isoformat(timespec="seconds") + "Z"}


def live_receivers(now: datetime) -> list[Receiver]:
    """Copies whose heartbeat is current and who published a key, by machine."""
    emails = dict(Account.select(Account.id, Account.email).tuples())
    found: dict[str, dict[str, Any]] = {}
    for row in Runner.select().where((Runner.expires_at > now)
                                     & Runner.fingerprint.is_null(False)):
        entry = found.setdefault(row.fingerprint, {
            "machine": row.machine, "fingerprint": row.fingerprint, "kind": row.kind,
            "public_key": row.public_key, "mailboxes": set(), "last_seen": row.heartbeat_at})
        if row.kind == "headless":
            entry["kind"] = "headless"
        entry["mailboxes"] |= {emails[a] for a in row.can_serve or () if a in emails}
        entry["last_seen"] = max(entry["last_seen"], row.heartbeat_at)
    return sorted((Receiver(**{**e, "mailboxes": tuple(sorted(e["mailboxes"]))})
                   for e in found.values()), key=lambda r: (r.machine, r.fingerprint))


def _same(text: str) -> str:
    return text.strip().lower().replace(" ", "").replace(":", "-")


def choose_receiver(receivers: list[Receiver], to: str | None, own: str | None) -> Receiver:
    """`--to MACHINE` (or a fingerprint, or its first digits); without it, the only one.
    Copies on this keyring (`own` fingerprint) already hold what it holds: never a receiver."""
    others = [r for r in receivers if r.fingerprint != own]
    if to is None:
        if not others:
            raise HandOverFailed("no running copy can receive it: start the always-on sender "
                                 "(mailmonitor run --headless) on the team database first")
        if len(others) > 1:
            raise HandOverRefused("several running copies can receive it: choose one with "
                                  "--to (" + ", ".join(_named(r) for r in others) + ")")
        return others[0]
    wanted = _same(to)
    matches = [r for r in others if r.machine.lower() == wanted]
    if not matches and len(wanted.replace("-", "")) >= 4:
        matches = [r for r in others if r.fingerprint.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise HandOverRefused(f"several running copies on {to}: choose one by its fingerprint "
                              "with --to (" + ", ".join(_named(r) for r in matches) + ")")
    running = ", ".join(_named(r) for r in others) or "none"
    raise HandOverRefused(f"no running copy {to!r} can receive it (its heartbeat is not "
                          f"current, or it is not on this database); running: {running}")


def _named(receiver: Receiver) -> str:
    return f"{receiver.machine} {receiver.kind} {receiver.fingerprint}"


# --- the sender's side ---------------------------------------------------------------------------


def secrets_to_hand_over(account: Account) -> dict[str, str]:
    """What this computer's keyring holds of the mailbox's sign-in; refused when nothing."""
    kind = SIGN_IN_SECRETS.get(account.kind) if account.is_oauth else "password"
    value = secrets.get_secret(account.email, kind) if kind else None
    if not kind or not value:
        what = "sign-in" if account.is_oauth else "password"
        raise HandOverRefused(f"this computer's keyring holds no {what} for {account.email}: "
                              "nothing to hand over (sign in or reconnect it here first)")
    register_secret(value)
    found = {kind: value}
    if account.kind == "gmail":  # a receiver without the team's Google client secret
        try:
            client_secret = google_config().client_secret
        except OAuthNotConfigured:
            client_secret = ""
        if client_secret:
            register_secret(client_secret)
            found["google_client_secret"] = client_secret
    return found


@dataclass(frozen=True)
class HandedOver:
    email: str
    receiver: Receiver
    moved: bool  # the sign-in left this computer (OAuth); a password stays here too
    seconds: float


def hand_over(email: str, to: str | None, timeout: float, clock: Clock, *,
              announce: Callable[[str], None] = lambda fingerprint: None,
              sleep: Callable[[float], None] = time.sleep,
              cancelled: Callable[[], bool] = lambda: False) -> HandedOver:
    """Seal the mailbox's secret to a running copy and wait until it stored it (blocking).
    `announce(fingerprint)` wakes the receiver (LISTEN/NOTIFY); it looks every few seconds
    anyway. `cancelled()` true while waiting (the window's Cancel) takes the row back as a
    timeout does. Raises HandOverRefused (bad input) or HandOverFailed."""
    account = account_by_email(email)
    if account is None or account.removed_at is not None:
        raise HandOverRefused(f"no account {email}")
    if not 1 <= timeout <= 3600:
        raise HandOverRefused("--timeout must be 1 to 3600 seconds")
    now = clock.now()
    own = load_identity(create=False)
    receiver = choose_receiver(live_receivers(now), to, own.fingerprint if own else None)
    found = secrets_to_hand_over(account)
    payload = {"v": PAYLOAD_VERSION, "email": account.email, "to": receiver.fingerprint,
               "from": machine_name(), "secrets": found}
    started = time.monotonic()
    with db.atomic():
        row = SealedSecret.create(
            account=account.id, to_fingerprint=receiver.fingerprint, to_machine=receiver.machine,
            from_machine=machine_name(), ciphertext=seal(receiver.public_key, payload),
            created_at=now, expires_at=now + timedelta(seconds=timeout) + ROW_GRACE)
    log.info("handing %s over to %s (%s)", account.email, receiver.machine,
             receiver.fingerprint)
    announce(receiver.fingerprint)
    while True:
        left = SealedSecret.select(SealedSecret.error).where(SealedSecret.id == row.id).tuples()
        state = list(left)
        if not state:
            break  # the receiver stored it and deleted the row
        if state[0][0]:
            SealedSecret.delete().where(SealedSecret.id == row.id).execute()
            raise HandOverFailed(f"{receiver.machine} could not store it: {state[0][0]}")
        if cancelled():
            if SealedSecret.delete().where(SealedSecret.id == row.id).execute():
                raise HandOverFailed("cancelled: nothing was handed over")
            break  # picked up at the last moment
        if time.monotonic() - started >= timeout:
            if SealedSecret.delete().where(SealedSecret.id == row.id).execute():
                raise HandOverFailed(
                    f"{receiver.machine} did not pick it up within {timeout:g} seconds (is it "
                    "still running and connected to this database?); nothing was handed over")
            break  # picked up at the last moment
        sleep(POLL_SECONDS)
    moved = account.is_oauth
    if moved:  # one copy refreshes a rotating sign-in: the receiver, from now on
        for kind in found:
            if kind in SIGN_IN_SECRETS.values():
                secrets.delete_secret(account.email, kind)
    log.info("handed %s over to %s", account.email, receiver.machine)
    return HandedOver(account.email, receiver, moved, time.monotonic() - started)


def machine_name() -> str:
    return socket.gethostname()


# --- the receiver's side -------------------------------------------------------------------------


class Inbox:
    """A running copy's end: its key on its Runner row, and the sign-ins sealed to it.
    Blocking (worker threads). `register()` publishes the key (and, for a copy that keeps no
    leases, its heartbeat); `pick_up()` stores what arrived and returns those mailboxes."""

    def __init__(self, identity: Identity, clock: Clock, holder: str, kind: str,
                 lease_seconds: float, *, keeps_heartbeat: bool) -> None:
        self.identity = identity
        self.clock = clock
        self.holder = holder
        self.kind = kind
        self.ttl = timedelta(seconds=lease_seconds)
        self.keeps_heartbeat = keeps_heartbeat  # False: the LeaseKeeper writes the heartbeat
        self.started = clock.now()

    def keys(self) -> dict[str, str]:
        """What this copy's Runner row publishes (the LeaseKeeper's heartbeat writes it)."""
        return {"public_key": self.identity.public_key,
                "fingerprint": self.identity.fingerprint}

    def register(self) -> None:
        """The heartbeat of a copy that keeps no leases (a window beside its folder's
        sender): alive, its key, and no mailbox it competes for."""
        if not self.keeps_heartbeat:
            return
        now = self.clock.now()
        live = {"heartbeat_at": now, "expires_at": now + self.ttl, "machine": machine_name(),
                "kind": self.kind, "pid": os.getpid(), **self.keys()}
        Runner.insert(holder=self.holder, started_at=self.started, can_serve=[],
                      **live).on_conflict(
            conflict_target=[Runner.holder],
            update={getattr(Runner, k): v for k, v in live.items()}).execute()

    def unregister(self) -> None:
        if self.keeps_heartbeat:
            Runner.delete().where(Runner.holder == self.holder).execute()

    def pick_up(self) -> list[int]:
        now = self.clock.now()
        SealedSecret.delete().where(SealedSecret.expires_at < now).execute()
        stored: list[int] = []
        ids = [i for (i,) in SealedSecret.select(SealedSecret.id).where(
            (SealedSecret.to_fingerprint == self.identity.fingerprint)
            & SealedSecret.error.is_null() & (SealedSecret.expires_at >= now)).tuples()]
        for row_id in ids:
            account_id = self._take(row_id)
            if account_id is not None:
                stored.append(account_id)
        return stored

    def _take(self, row_id: int) -> int | None:
        with db.atomic():
            rows = list(SealedSecret.select().where(SealedSecret.id == row_id)
                        .for_update("FOR UPDATE SKIP LOCKED"))
            if not rows:
                return None  # another copy on this keyring is taking it
            row = rows[0]
            account = Account.get_or_none(Account.id == row.account_id)
            try:
                if account is None:
                    raise ValueError("its mailbox was removed")
                payload = unseal(self.identity, row.ciphertext)
                self._store(account, payload)
            except (ValueError, secrets.SecretStoreError) as exc:
                log.warning("could not store the sign-in of mailbox %s from %s: %s",
                            row.account_id, row.from_machine, exc)
                SealedSecret.update(error=str(exc)[:300]).where(
                    SealedSecret.id == row.id).execute()
                return None
            SealedSecret.delete().where(SealedSecret.id == row.id).execute()
        log.info("received the sign-in of %s from %s: stored in this computer's keyring",
                 account.email, row.from_machine)
        return int(account.id)

    def _store(self, account: Account, payload: dict[str, Any]) -> None:
        found = payload.get("secrets")
        if payload.get("v") != PAYLOAD_VERSION or not isinstance(found, dict):
            raise ValueError("it is not a sign-in this version understands")
        for value in found.values():
            register_secret(str(value))
        if payload.get("to") != self.identity.fingerprint:
            raise ValueError("it was sealed for another copy")
        if str(payload.get("email", "")).lower() != account.email.lower():
            raise ValueError("it is the sign-in of another mailbox")
        wanted = SIGN_IN_SECRETS.get(account.kind) if account.is_oauth else "password"
        if not wanted or not found.get(wanted):
            raise ValueError(f"it holds no {wanted or 'secret'} for this {account.kind} mailbox")
        client_secret = found.get("google_client_secret")
        if client_secret and not _google_client_secret_here():
            secrets.set_secret(GOOGLE_SECRET_OWNER, GOOGLE_SECRET_KIND, str(client_secret),
                               note_age=False)
        secrets.set_secret(account.email, wanted, str(found[wanted]), note_age=False)


def _google_client_secret_here() -> bool:
    return bool(os.environ.get("MAILMONITOR_GOOGLE_CLIENT_SECRET", "").strip()
                or secrets.get_secret(GOOGLE_SECRET_OWNER, GOOGLE_SECRET_KIND))
