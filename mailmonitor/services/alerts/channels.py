"""Delivering one digest over one channel (blocking; the outbox runs it in a worker thread).

- **email**: from one of the rep's connected mailboxes (the chosen one first; never a broken
  one) over the same crash-safe SMTP transport as campaign email, or through a separate SMTP
  relay the rep set up (its password in the keyring);
- **slack**: a Slack-compatible incoming-webhook body (`text` + `blocks`);
- **webhook**: a generic JSON body; with a secret, signed with HMAC-SHA256 over
  ``"<timestamp>.<body>"`` in ``X-Mailmonitor-Signature: sha256=<hex>`` and
  ``X-Mailmonitor-Timestamp`` (seconds since 1970), so a receiver can check it and refuse
  replays. Every request carries ``X-Mailmonitor-Delivery`` (the outbox id, stable across
  retries).

Every transport calls `on_handover` (which commits) right before the last byte of the message
goes out: before it, a failed delivery provably did not arrive and is retried; after it, the
receiver may have it and it is never sent again on a guess (outbox.py).

Each delivery has one total deadline (`deadline.py`: connect, TLS, the request and the whole
answer; 20 s by default), and an answer counts only when it is complete and well-formed: a
receiver that cuts its answer off (``200 OK\r\nContent-Len`` and close) has not confirmed
anything, so the message may have arrived (`unknown`), never "sent".
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from typing import Any, cast
from urllib.parse import urlsplit

from mailmonitor import __version__
from mailmonitor.logsetup import redact, register_secret
from mailmonitor.models import Account, NotifyChannel, Status, db
from mailmonitor.services.alerts import http_post
from mailmonitor.services.alerts.deadline import Deadline, DeadlinePassed
from mailmonitor.services.alerts.http_post import NotHandedOver
from mailmonitor.services.auth import secrets
from mailmonitor.services.auth.refresh import oauth_token_provider
from mailmonitor.services.common.validation import address_header, needs_smtputf8
from mailmonitor.services.monitoring.checker import credentials_for
from mailmonitor.services.monitoring.probes import Credentials
from mailmonitor.services.sending import sender as smtp

DELIVERY_DEADLINE = 20.0  # seconds for a whole delivery, connect to the answer's last byte
USER_AGENT = f"mailmonitor/{__version__}"
SIGNATURE_HEADER = "X-Mailmonitor-Signature"
TIMESTAMP_HEADER = "X-Mailmonitor-Timestamp"
DELIVERY_HEADER = "X-Mailmonitor-Delivery"


class DeliveryError(Exception):
    """Not delivered. `permanent`: retrying cannot help (the receiver refused it for good).
    `maybe_delivered`: the whole message went out but no answer came back."""

    def __init__(self, text: str, *, permanent: bool = False,
                 maybe_delivered: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.permanent = permanent
        self.maybe_delivered = maybe_delivered


@dataclass(frozen=True)
class Outgoing:
    delivery_id: str
    title: str
    text: str
    items: list[dict[str, Any]]
    created_at: datetime


def secret_name(channel_id: int) -> str:
    return f"notify-channel-{channel_id}"


def channel_secret(channel: NotifyChannel) -> str | None:
    if not channel.has_secret:
        return None
    return secrets.get_secret(secret_name(channel.id), "secret")


def channel_url(channel: NotifyChannel) -> str:
    """A webhook's full URL. It is a credential (a Slack URL lets anyone post to the channel), so
    it lives in the keyring; the database keeps only its scheme and host."""
    try:
        url = secrets.get_secret(secret_name(channel.id), "url")
    except secrets.SecretStoreError as exc:
        raise DeliveryError(str(exc)) from None
    if not url:
        raise DeliveryError("The webhook address is missing from the keyring: remove this "
                            "channel and add it again")
    register_url(url)
    return url


SECRET_PATH_LENGTH = 16  # a shorter path ("/hook") carries no token, and would mangle words


def register_url(url: str) -> None:
    """A webhook URL (and a path long enough to carry a token, which libraries log on their
    own) is a secret: no log line or message may carry it (logsetup.redact)."""
    register_secret(url)
    parts = urlsplit(url)
    if len(parts.path) >= SECRET_PATH_LENGTH:
        register_secret(parts.path)
    if parts.query:
        register_secret(parts.query)


# --- bodies ---------------------------------------------------------------------------------

def webhook_body(message: Outgoing) -> dict[str, Any]:
    """The generic JSON body: one object per change of a condition in `events`; `event` names
    the kind of the digest ("digest" when it mixes several). `change` tells a condition that
    opened from one that changed, was resolved (leads that were stopped, not about to be) or is
    reminded of; `key` names the condition; `mailboxes` lists every mailbox its card names
    (`account` is the first)."""
    kinds = {i["event"] for i in message.items}
    return {
        "source": "mailmonitor", "version": __version__, "delivery_id": message.delivery_id,
        "created_at": message.created_at.isoformat(timespec="seconds") + "Z",
        "event": kinds.pop() if len(kinds) == 1 else "digest",
        "title": message.title, "count": len(message.items),
        "events": [{k: item.get(k) for k in (
            "event", "kind", "change", "key", "account", "mailboxes", "status", "reason",
            "label", "campaigns", "leads_waiting", "deadline", "action", "severity", "title",
            "message", "at")} for item in message.items],
    }


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(message: Outgoing) -> dict[str, Any]:
    """Slack's incoming-webhook format (also understood by Mattermost, Rocket.Chat, Discord's
    /slack endpoint): `text` is the notification and fallback, `blocks` the layout."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}}]
    for item in message.items[:20]:  # Slack takes at most 50 blocks
        lines = [f"*{_mrkdwn(item['title'])}*"]
        if item.get("message"):
            lines.append(_mrkdwn(str(item["message"])))
        facts = []
        if item.get("label"):
            facts.append(f"Status: {_mrkdwn(str(item['label']))}")
        if item.get("leads_waiting"):
            facts.append(f"Leads waiting: {item['leads_waiting']}")
        if item.get("deadline_local"):
            facts.append(f"Stops at: {_mrkdwn(str(item['deadline_local']))}")
        if item.get("campaigns"):
            facts.append("Campaigns: " + _mrkdwn(", ".join(item["campaigns"])))
        if facts:
            lines.append(" · ".join(facts))
        if item.get("advice") and item.get("event") in ("disconnected", "reminder"):
            lines.append(f"_What to do:_ {_mrkdwn(str(item['advice']))}")
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": "\n".join(lines)[:2900]}})
    if len(message.items) > 20:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                       f"…and {len(message.items) - 20} more in mailmonitor"}]})
    return {"text": message.title, "blocks": blocks}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                      hashlib.sha256).hexdigest()
    return f"sha256={digest}"


# --- HTTP -------------------------------------------------------------------------------------

def post_json(url: str, payload: dict[str, Any], on_handover: Callable[[], None],
              deadline: Deadline, delivery_id: str, secret: str | None = None) -> str:
    """POST the payload; returns "HTTP <code>" for a complete 2xx answer. Raises
    DeliveryError (or NotHandedOver when the deadline passed before the last byte)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
               DELIVERY_HEADER: delivery_id}
    if secret:
        stamp = str(int(time.time()))
        headers[TIMESTAMP_HEADER] = stamp
        headers[SIGNATURE_HEADER] = signature(secret, stamp, body)
    try:
        answer = http_post.post(url, body, headers, on_handover, deadline)
    except http_post.PostFailed as failed:
        raise DeliveryError(failed.text, maybe_delivered=failed.handed_over) from None
    if 200 <= answer.status < 300:
        return f"HTTP {answer.status}"
    permanent = 400 <= answer.status < 500 and answer.status not in (408, 425, 429)
    raise DeliveryError(f"HTTP {answer.status}" + (f": {answer.text}" if answer.text else ""),
                        permanent=permanent)


def check_url(url: str) -> str:
    """An http(s) URL with a host; plain http only to this computer (a webhook names mailboxes
    and campaigns: it must not cross a network in clear text). Raises ValueError."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError("webhooks must use https:// (plain http only to 127.0.0.1/localhost)")
    if len(url) > 2000:
        raise ValueError("the URL is longer than 2000 characters")
    return url.strip()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- email ------------------------------------------------------------------------------------

def pick_sender(channel: NotifyChannel) -> Account | None:
    """The mailbox an alert email goes out from: the chosen one if it can send, else any
    connected mailbox (never a broken one)."""
    if channel.from_account_id is not None:
        chosen = Account.get_or_none(Account.id == channel.from_account_id)
        if chosen is not None and chosen.can_send():
            return cast(Account, chosen)
    connected: Account | None = Account.select().where(
        (Account.status == Status.CONNECTED) & Account.removed_at.is_null()).order_by(
        Account.id).first()
    return connected


def relay_account(relay: dict[str, Any]) -> Account:
    """An unsaved Account that carries a relay's endpoint for the SMTP transport."""
    return Account(email=str(relay["from"]), username=str(relay.get("username") or ""),
                   smtp_host=str(relay["host"]), smtp_port=int(relay["port"]),
                   smtp_security=str(relay.get("security") or "starttls"),
                   ca_file=relay.get("ca_file"), name="mailmonitor")


def compose_email(message: Outgoing, sender: str, sender_name: str, to: str) -> bytes:
    """The alert email: internationalized domains as punycode; UTF-8 headers only when an
    address needs them (an SMTPUTF8 transaction; sender.py refuses it on other servers)."""
    utf8 = needs_smtputf8(sender) or needs_smtputf8(to)
    mail = EmailMessage(policy=SMTP_POLICY.clone(utf8=True) if utf8 else SMTP_POLICY)
    mail["From"] = address_header(sender_name or "mailmonitor", sender)
    mail["To"] = address_header("", to)
    mail["Subject"] = message.title
    mail["Date"] = format_datetime(message.created_at.replace(tzinfo=UTC))
    mail["Message-ID"] = f"<{message.delivery_id}@mailmonitor.alerts>"
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    mail[DELIVERY_HEADER] = message.delivery_id
    mail.set_content(message.text)
    return mail.as_bytes()


def send_email(channel: NotifyChannel, message: Outgoing, on_handover: Callable[[], None],
               deadline: Deadline) -> str:
    """Returns the mailbox or relay it went through."""
    step = deadline.step_timeout()
    if channel.relay:
        account = relay_account(channel.relay)
        password = channel_secret(channel)
        creds = Credentials(password=password)
        transport: smtp.SmtpTransport = RelayTransport(account, creds, step, deadline)
        via = f"relay {account.smtp_host}:{account.smtp_port}"
    else:
        found = pick_sender(channel)
        if found is None:
            raise DeliveryError("No connected mailbox can send this alert email (every mailbox "
                                "is disconnected): add an SMTP relay to this channel")
        account = found
        try:
            creds = credentials_for(account, None, step, oauth_token_provider())
        except Exception as exc:
            raise DeliveryError(f"{account.email}: {redact(str(exc))}") from None
        transport = DeadlineTransport(account, creds, deadline.step_timeout(), deadline)
        via = account.email
    data = compose_email(message, account.email, account.name, channel.target)

    def hand_over() -> None:
        if not deadline.hand_over():
            raise NotHandedOver("the time was up before the end of the message")
        on_handover()

    try:
        transport.open()
        transport.send(account.email, channel.target, data, hand_over)
    except smtp.SendError as error:
        if error.kind == smtp.LOST:
            raise DeliveryError(f"{via}: {error.text}", maybe_delivered=True) from None
        permanent = error.kind in (smtp.RECIPIENT, smtp.MESSAGE)
        raise DeliveryError(f"{via}: {error.text}", permanent=permanent) from None
    finally:
        transport.close()
    return via


class DeadlineTransport(smtp.SmtpTransport):
    """The campaign SMTP transport, its sockets watched by the delivery's deadline."""

    def __init__(self, account: Account, creds: Credentials, timeout: float,
                 deadline: Deadline) -> None:
        super().__init__(account, creds, timeout)
        self.deadline = deadline

    def _client(self, context: ssl.SSLContext | None) -> smtp._SMTP | smtp._SMTPSSL:
        deadline = self.deadline
        client = super()._client(context)

        def get_socket(host: str, port: int, timeout: float) -> socket.socket:
            sock = socket.create_connection((host, port), deadline.step_timeout(timeout),
                                            client.source_address)
            deadline.track(sock)  # before TLS: a slow handshake is cut too
            if isinstance(client, smtplib.SMTP_SSL):
                return client.context.wrap_socket(sock, server_hostname=client._host)
            return sock

        setattr(client, "_get_socket", get_socket)  # noqa: B010 - smtplib's own hook
        return client


class RelayTransport(DeadlineTransport):
    """A relay may take mail without AUTH (a company smarthost): no password, no AUTH."""

    def _authenticate(self) -> None:
        if self.creds.password or self.creds.access_token:
            super()._authenticate()


# --- one delivery -----------------------------------------------------------------------------

def deliver(channel: NotifyChannel, message: Outgoing, on_handover: Callable[[], None],
            timeout: float = DELIVERY_DEADLINE, cancel: threading.Event | None = None) -> str:
    """Send one digest over one channel within `timeout` seconds in all (connect to the
    answer's last byte; `cancel` cuts it short, e.g. on SIGTERM); returns what to show as
    "via". Raises DeliveryError."""
    secret = None
    if channel.kind == "webhook":
        try:
            secret = channel_secret(channel)
        except secrets.SecretStoreError as exc:
            raise DeliveryError(str(exc)) from None
        if channel.has_secret and not secret:
            raise DeliveryError("The signing secret is missing from the keyring: set it again "
                                "with `mailmonitor notify add … --secret-stdin`")
    url = channel_url(channel) if channel.kind != "email" else ""
    deadline = Deadline(timeout, cancel)

    def exchange() -> str:
        if channel.kind == "email":
            return send_email(channel, message, on_handover, deadline)
        payload = slack_body(message) if channel.kind == "slack" else webhook_body(message)
        return post_json(url, payload, on_handover, deadline, message.delivery_id, secret)

    try:
        # In a thread of its own that closes its database connection (it commits the
        # hand-over): the deadline holds even where a socket cannot be cut (a DNS lookup).
        return deadline.run(exchange, on_exit=db.close)
    except DeadlinePassed as late:
        raise DeliveryError(late.text, maybe_delivered=late.handed_over) from None
    except NotHandedOver:  # the time ran out right at the end: provably not delivered
        raise DeliveryError(f"no complete answer within {timeout:g} s") from None
