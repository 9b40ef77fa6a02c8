"""Setting up alert channels (the command line's `notify` and Settings → Notifications).

Everything the rep types is checked first; bad input raises InvalidInput and changes nothing.
A channel's secret (webhook signing secret, relay password) goes to the OS keyring only; when
the keyring refuses, the channel is not stored either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from mailmonitor.models import Account, NotifyChannel, OutboxMessage, account_by_email, db
from mailmonitor.models.notify import CHANNEL_KINDS
from mailmonitor.services.alerts.channels import check_url, secret_name
from mailmonitor.services.alerts.http_post import safe_url
from mailmonitor.services.alerts.subscriptions import EVENT_NAMES
from mailmonitor.services.auth import secrets
from mailmonitor.services.common import bounds
from mailmonitor.services.common.validation import InvalidInput, normalize_email

MAX_NAME = bounds.TEXTS["channel_name"].longest
SECURITIES = ("ssl", "starttls", "plain")


@dataclass
class ChannelSpec:
    name: str
    kind: str
    target: str
    events: list[str] = field(default_factory=lambda: list(EVENT_NAMES))
    from_email: str | None = None  # email: the mailbox to send from (None: any connected)
    relay: dict[str, Any] | None = None  # email: host, port, security, username, from
    secret: str | None = None  # webhook signing secret / relay password

    def validated(self) -> ChannelSpec:
        if any(ord(c) < 32 for c in self.name or ""):
            raise InvalidInput("the channel name contains control characters")
        name = bounds.text("channel_name", " ".join((self.name or "").split()))
        if self.kind not in CHANNEL_KINDS:
            raise InvalidInput(f"unknown channel kind {self.kind!r}; choose email, slack or "
                               "webhook")
        events = [e for e in EVENT_NAMES if e in self.events]
        if not events or len(events) != len(set(self.events)):
            raise InvalidInput("choose at least one known event: " + ", ".join(EVENT_NAMES))
        # An empty target is bad input in one line (`notify add X --webhook ""`).
        bounds.required("channel_email" if self.kind == "email" else "webhook_url",
                        self.target)
        if self.kind == "email":
            target = normalize_email(self.target)
            if self.from_email and self.relay:
                raise InvalidInput("an email channel sends either from a mailbox or through a "
                                   "relay, not both")
        else:
            try:
                target = check_url(self.target)
            except ValueError as exc:
                raise InvalidInput(str(exc)) from None
            if self.from_email or self.relay:
                raise InvalidInput("--from and --relay are for email channels")
            if self.kind == "slack" and self.secret:
                raise InvalidInput("Slack webhooks are not signed: a secret is for "
                                   "`--kind webhook`")
        relay = _relay(self.relay) if self.relay else None
        if self.secret is not None and (not self.secret or len(self.secret) > 1024):
            raise InvalidInput("a secret must be 1 to 1024 characters")
        if self.secret and self.kind == "email" and relay is None:
            raise InvalidInput("a password is only needed for a relay (--relay)")
        return ChannelSpec(name, self.kind, target, events, self.from_email, relay, self.secret)


def _relay(raw: dict[str, Any]) -> dict[str, Any]:
    host = bounds.text("relay_host", str(raw.get("host") or ""))
    port = 587 if raw.get("port") is None else bounds.number("relay_port", raw["port"])
    security = str(raw.get("security") or ("ssl" if port == 465 else "starttls"))
    if security not in SECURITIES:
        raise InvalidInput(f"relay security must be one of {', '.join(SECURITIES)}")
    sender = raw.get("from")
    if not sender:
        raise InvalidInput("a relay needs the address alerts come from (--relay-from)")
    return {"host": host, "port": port, "security": security,
            "username": str(raw.get("username") or "").strip(),
            "from": normalize_email(str(sender)), "ca_file": raw.get("ca_file") or None}


def find_channel(name: str) -> NotifyChannel:
    channel = NotifyChannel.get_or_none(NotifyChannel.name == " ".join(name.split()))
    if channel is None:
        raise InvalidInput(f"no alert channel named {name!r} (see `mailmonitor notify list`)")
    return cast(NotifyChannel, channel)


def add_channel(spec: ChannelSpec, now: datetime) -> NotifyChannel:
    spec = spec.validated()
    if NotifyChannel.select().where(NotifyChannel.name == spec.name).exists():
        raise InvalidInput(f"an alert channel named {spec.name!r} exists already")
    sender = None
    if spec.from_email:
        email = normalize_email(spec.from_email)
        sender = account_by_email(email)
        if sender is None:
            raise InvalidInput(f"no mailbox {email} to send alerts from")
    webhook = spec.kind != "email"
    with db.atomic():
        channel = NotifyChannel.create(
            name=spec.name, kind=spec.kind,
            target=safe_url(spec.target) if webhook else spec.target, events=spec.events,
            from_account=sender, relay=spec.relay, has_secret=bool(spec.secret),
            created_at=now)
        # Inside the transaction: a keyring that refuses leaves no channel behind.
        if webhook:
            secrets.set_secret(secret_name(channel.id), "url", spec.target)
        if spec.secret:
            secrets.set_secret(secret_name(channel.id), "secret", spec.secret)
    return cast(NotifyChannel, channel)


def set_events(channel: NotifyChannel, events: list[str]) -> None:
    chosen = [e for e in EVENT_NAMES if e in events]
    if not chosen:
        raise InvalidInput("choose at least one event")
    NotifyChannel.update(events=chosen).where(NotifyChannel.id == channel.id).execute()


def set_enabled(channel: NotifyChannel, enabled: bool) -> None:
    NotifyChannel.update(enabled=enabled).where(NotifyChannel.id == channel.id).execute()


def remove_channel(channel: NotifyChannel, now: datetime) -> int:
    """The channel and its undelivered messages go; returns how many were still waiting."""
    waiting = OutboxMessage.select().where(
        (OutboxMessage.channel == channel) & (OutboxMessage.state == "pending")).count()
    if channel.has_secret:
        secrets.delete_secret(secret_name(channel.id), "secret")
    if channel.kind != "email":
        secrets.delete_secret(secret_name(channel.id), "url")
    with db.atomic():  # its "not getting through" condition goes with it (next reconcile)
        channel.delete_instance(recursive=True)
    return int(waiting)


def channel_summary(channel: NotifyChannel) -> dict[str, Any]:
    states: dict[str, int] = {}
    for (state,) in OutboxMessage.select(OutboxMessage.state).where(
            OutboxMessage.channel == channel).tuples():
        states[state] = states.get(state, 0) + 1
    sender = None
    if channel.kind == "email":
        if channel.relay:
            sender = f"relay {channel.relay['host']}:{channel.relay['port']} as " \
                     f"{channel.relay['from']}"
        elif channel.from_account_id:
            sender = Account.get_by_id(channel.from_account_id).email
        else:
            sender = "any connected mailbox"

    def iso(value: datetime | None) -> str | None:
        return value.isoformat(timespec="seconds") + "Z" if value else None

    return {
        "name": channel.name, "kind": channel.kind,
        "target": channel.target,
        "events": list(channel.events or []), "from": sender, "signed": channel.has_secret,
        "enabled": channel.enabled, "last_ok_at": iso(channel.last_ok_at),
        "last_error": channel.last_error, "last_error_at": iso(channel.last_error_at),
        "waiting": states.get("pending", 0) + states.get("sending", 0),
        "sent": states.get("sent", 0), "failed": states.get("failed", 0),
        "unknown": states.get("unknown", 0),
    }


def list_channels() -> list[NotifyChannel]:
    return list(NotifyChannel.select().order_by(NotifyChannel.name))
