"""The alert outbox: every digest is delivered exactly once, across restarts and kill -9.

Lifecycle of an OutboxMessage (the same protocol as a campaign email's send record):
  pending   written with the digest (digest.py), due at `next_attempt_at`
    → sending          committed before the request / SMTP transaction starts
    → handed_over_at   committed right before the last byte goes out
    → sent             the receiver answered 2xx / 250
    → pending          not delivered for a temporary reason: retried with backoff
    → failed           refused for good, or still failing after `GIVE_UP_AFTER`
    → unknown          the whole message went out but the answer was lost (or the app was killed
                       right then): it may have arrived, so it is never sent again on a guess
At start, `settle_interrupted` turns `sending` without the hand-over mark back into `pending`
(provably not delivered) and with it into `unknown`. A channel whose delivery fails raises an
alert in the window ("Alerts to … are not getting through"), resolved by its next success.

Each delivery ends within its deadline (`delivery_deadline()`, 20 s; channels.deliver), and the
channels are independent: the background work delivers each channel's messages in its own lane
(`due_channels`, `deliver_channel_due`), so a slow receiver holds up only its own alerts.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timedelta
from typing import Any

from mailmonitor.clock import Clock
from mailmonitor.events import ALERTS_CHANGED, bus
from mailmonitor.logsetup import redact
from mailmonitor.models import NotifyChannel, OutboxMessage, db
from mailmonitor.services.alerts.channels import (
    DELIVERY_DEADLINE,
    DeliveryError,
    Outgoing,
    deliver,
)
from mailmonitor.services.alerts.http_post import safe_url
from mailmonitor.services.campaigns.stop_warnings import mark_stop_notice

log = logging.getLogger(__name__)

BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
           timedelta(minutes=30), timedelta(hours=1))
GIVE_UP_AFTER = timedelta(hours=24)
DEFAULT_TIMEOUT = DELIVERY_DEADLINE
ENV_DEADLINE = "MAILMONITOR_NOTIFY_DEADLINE"  # seconds; tests set a short one


def delivery_deadline() -> float:
    """The whole-delivery limit: MAILMONITOR_NOTIFY_DEADLINE, else 20 s."""
    raw = os.environ.get(ENV_DEADLINE, "").strip()
    try:
        value = float(raw) if raw else DELIVERY_DEADLINE
    except ValueError:
        value = DELIVERY_DEADLINE
    return value if 0 < value <= 600 else DELIVERY_DEADLINE


def backoff(attempts: int) -> timedelta:
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def describe(channel: NotifyChannel) -> str:
    target = channel.target if channel.kind == "email" else safe_url(channel.target)
    return f"“{channel.name}” ({target})"


def due_messages(now: datetime, limit: int = 50) -> list[int]:
    query = OutboxMessage.select(OutboxMessage.id).join(NotifyChannel).where(
        (OutboxMessage.state == "pending") & NotifyChannel.enabled
        & (OutboxMessage.next_attempt_at.is_null() | (OutboxMessage.next_attempt_at <= now))
    ).order_by(OutboxMessage.id).limit(limit)
    return [m.id for m in query]


def due_channels(now: datetime) -> list[int]:
    """The channels with a message due now (each is delivered in its own lane)."""
    query = OutboxMessage.select(OutboxMessage.channel).join(NotifyChannel).where(
        (OutboxMessage.state == "pending") & NotifyChannel.enabled
        & (OutboxMessage.next_attempt_at.is_null() | (OutboxMessage.next_attempt_at <= now))
    ).distinct()
    return sorted(m.channel_id for m in query)


def settle_interrupted(now: datetime) -> tuple[int, int]:
    """At start (no delivery of this process is running): (retried, unknown)."""
    with db.atomic():
        retried = OutboxMessage.update(state="pending", next_attempt_at=now,
                                       last_error="interrupted before it was complete").where(
            (OutboxMessage.state == "sending") & OutboxMessage.handed_over_at.is_null()).execute()
        unknown_ids = [m.id for m in OutboxMessage.select(OutboxMessage.id).where(
            (OutboxMessage.state == "sending") & OutboxMessage.handed_over_at.is_null(False))]
        if unknown_ids:
            OutboxMessage.update(state="unknown", last_error=(
                "mailmonitor stopped right after sending it: it may or may not have arrived "
                "(not sent again)")).where(OutboxMessage.id.in_(unknown_ids)).execute()
    for message_id in unknown_ids:
        message = OutboxMessage.get_by_id(message_id)
        _finished(message, now)
        NotifyChannel.update(
            last_error=f"mailmonitor stopped while sending “{message.title}” and cannot tell "
            "whether it arrived; it was not sent twice. The alerts list shows everything it "
            "said.", last_error_at=now).where(NotifyChannel.id == message.channel_id).execute()
    if retried or unknown_ids:
        log.info("alert outbox at start: %d to retry, %d may have arrived", retried,
                 len(unknown_ids))
    return int(retried), len(unknown_ids)


def _claim(message_id: int, now: datetime) -> bool:
    with db.atomic():
        return bool(OutboxMessage.update(
            state="sending", started_at=now, handed_over_at=None,
            attempts=OutboxMessage.attempts + 1).where(
            (OutboxMessage.id == message_id) & (OutboxMessage.state == "pending")).execute())


def _mark_handed_over(message_id: int, now: datetime) -> None:
    with db.atomic():
        OutboxMessage.update(handed_over_at=now).where(OutboxMessage.id == message_id).execute()


def deliver_one(message_id: int, clock: Clock, timeout: float = DEFAULT_TIMEOUT,
                stop: threading.Event | None = None) -> str:
    """Deliver one due message (blocking, at most `timeout` seconds; `stop` cuts it short).
    Returns its new state."""
    if not _claim(message_id, clock.now()):
        return "skipped"
    message = OutboxMessage.get_by_id(message_id)
    channel = message.channel
    outgoing = Outgoing(message.delivery_id, message.title, message.text, message.items or [],
                        message.created_at)
    try:
        via = deliver(channel, outgoing, lambda: _mark_handed_over(message_id, clock.now()),
                      timeout, stop)
    except DeliveryError as error:
        return _failed(message, channel, error, clock.now())
    except Exception as exc:  # a bug must not leave it `sending`, nor stop the others
        log.exception("delivering alert %s failed", message.delivery_id)
        return _failed(message, channel, DeliveryError(f"{type(exc).__name__}: {exc}"),
                       clock.now())
    now = clock.now()
    with db.atomic():
        OutboxMessage.update(state="sent", sent_at=now, via=via, last_error=None).where(
            OutboxMessage.id == message_id).execute()
        NotifyChannel.update(last_ok_at=now, last_error=None).where(
            NotifyChannel.id == channel.id).execute()
        mark_stop_notice(list(message.stop_warning_accounts or []), now)
    log.info("alert %s delivered to %s via %s", message.delivery_id, describe(channel), via)
    bus.emit(ALERTS_CHANGED)
    return "sent"


def _failed(message: OutboxMessage, channel: NotifyChannel, error: DeliveryError,
            now: datetime) -> str:
    text = redact(error.text)[:500]
    if error.maybe_delivered:
        state, retry_at = "unknown", None
        text = f"{text} — the whole message went out but no answer came: it may have arrived " \
               "(not sent again)"
    elif error.permanent or now - message.created_at >= GIVE_UP_AFTER:
        state, retry_at = "failed", None
    else:
        state, retry_at = "pending", now + backoff(message.attempts)
    with db.atomic():
        OutboxMessage.update(state=state, next_attempt_at=retry_at, last_error=text).where(
            OutboxMessage.id == message.id).execute()
        what = {"pending": f"retrying at {retry_at:%H:%M} UTC" if retry_at else "",
                "failed": "given up on this alert", "unknown": "it may not have arrived"}[state]
        # The channel's state: the attention model says "not getting through" from it.
        NotifyChannel.update(last_error=f"{text} ({what}).", last_error_at=now).where(
            NotifyChannel.id == channel.id).execute()
    log.warning("alert %s to %s: %s (%s)", message.delivery_id, describe(channel), text, state)
    if state != "pending":
        _finished(OutboxMessage.get_by_id(message.id), now)
    return state


def _finished(message: OutboxMessage, now: datetime) -> None:
    """A stop warning whose every delivery ended without success still counts as given once
    none is left to try: the window showed it all along."""
    accounts = list(message.stop_warning_accounts or [])
    if not accounts:
        return
    open_ones = [m for m in OutboxMessage.select().where(
        OutboxMessage.state.in_(("pending", "sending"))) if set(m.stop_warning_accounts or [])
        & set(accounts)]
    if not open_ones:
        mark_stop_notice(accounts, now)


def deliver_due(clock: Clock, timeout: float = DEFAULT_TIMEOUT,
                stop: threading.Event | None = None) -> int:
    """Deliver everything due now, one after the other (blocking); returns how many went out.
    Each message is tried on its own, bounded by `timeout`. (The background work uses one lane
    per channel instead: `deliver_channel_due`.)"""
    sent = 0
    for message_id in due_messages(clock.now()):
        if stop is not None and stop.is_set():
            break
        if deliver_one(message_id, clock, timeout, stop) == "sent":
            sent += 1
    return sent


def deliver_channel_due(channel_id: int, clock: Clock, timeout: float = DEFAULT_TIMEOUT,
                        stop: threading.Event | None = None) -> int:
    """One channel's lane: its due messages, one after the other (blocking); returns how many
    went out. A failure ends the lane for this round (the next is due after its backoff)."""
    sent = 0
    while stop is None or not stop.is_set():
        due = OutboxMessage.select(OutboxMessage.id).where(
            (OutboxMessage.channel == channel_id) & (OutboxMessage.state == "pending")
            & (OutboxMessage.next_attempt_at.is_null()
               | (OutboxMessage.next_attempt_at <= clock.now()))).order_by(
            OutboxMessage.id).first()
        if due is None:
            break
        state = deliver_one(due.id, clock, timeout, stop)
        if state == "sent":
            sent += 1
        elif state != "skipped":
            break
    return sent


def send_test(channel: NotifyChannel, clock: Clock, timeout: float = DEFAULT_TIMEOUT) -> str:
    """`notify test` / the dialog's Send test: one message through the outbox right now, so a
    test follows the same exactly-once path. Returns "sent" or raises DeliveryError."""
    import uuid

    now = clock.now()
    item: dict[str, Any] = {"event": "test", "kind": "test", "alert_id": None, "severity": "info",
            "title": "Test from mailmonitor: this channel works",
            "message": "You will get alerts here when a mailbox needs you.",
            "at": now.isoformat(timespec="seconds") + "Z", "account": None, "status": None,
            "reason": None, "label": None, "advice": None, "campaigns": [],
            "leads_waiting": None, "deadline": None, "deadline_local": None}
    message = OutboxMessage.create(
        channel=channel, delivery_id=uuid.uuid4().hex, round_at=now, title=item["title"],
        text=f"{item['message']}\n\nSent by mailmonitor.", items=[item], state="pending",
        next_attempt_at=now, created_at=now)
    state = deliver_one(message.id, clock, timeout)
    if state != "sent":
        error = OutboxMessage.get_by_id(message.id).last_error or state
        # A test is not retried in the background: the rep sees the answer now.
        OutboxMessage.update(state="failed").where(
            (OutboxMessage.id == message.id) & (OutboxMessage.state == "pending")).execute()
        raise DeliveryError(error)
    return state


def recent(channel: NotifyChannel, limit: int = 20) -> list[OutboxMessage]:
    return list(OutboxMessage.select().where(OutboxMessage.channel == channel).order_by(
        OutboxMessage.id.desc()).limit(limit))
