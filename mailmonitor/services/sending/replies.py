"""Replies and bounces, read from each sending mailbox's INBOX over IMAP (spec §6).

Each poll reads the messages that arrived since the last UID seen (kept per mailbox with the
folder's UIDVALIDITY; a changed UIDVALIDITY re-reads everything since the mailbox's first send,
which is harmless because every decision is idempotent). Then, for each message:

- a delivery status notification (multipart/report; report-type=delivery-status, or a message
  from MAILER-DAEMON/postmaster quoting one of our Message-IDs) whose action is "failed" →
  the lead of that Message-ID is `bounced` (delay warnings are ignored);
- an automatic reply (Auto-Submitted other than "no", X-Autoreply, Precedence bulk/auto_reply,
  an "Out of Office"/"Automatic reply" subject, an empty Return-Path) → ignored: the sequence
  continues;
- anything else answering one of our Message-IDs (In-Reply-To/References), or sent from a lead's
  address to the mailbox that emailed it → that lead `replied`, and gets no further step.

Pure parts (`classify_message`, `bounced_message_ids`) work on parsed messages; `poll_account`
does the IMAP; `apply_message` the database. Blocking: run in a worker thread.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr
from typing import Any

from peewee import fn

from mailmonitor.events import LEADS_CHANGED, bus
from mailmonitor.models import Account, Lead, MailboxSync, SendRecord, db
from mailmonitor.models.states import NOT_REPLIABLE_STATES, LeadState, Status
from mailmonitor.services.common.reasons import SENDING_REASONS
from mailmonitor.services.deliverability import bounce_guard, unsubscribe
from mailmonitor.services.monitoring.probes import Credentials
from mailmonitor.services.sending import mailbox, sendlog

log = logging.getLogger(__name__)

BOUNCE, AUTO_REPLY, REPLY, UNSUBSCRIBE = "bounce", "auto_reply", "reply", "unsubscribe"
MAX_FULL_FETCH = 5_000_000  # bytes: a bounce is small; never download a huge message for it
MAX_REPLY_FETCH = 1_000_000  # a reply's text is read (for "unsubscribe") only up to this size

_MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.IGNORECASE)
_AUTO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response|antwort)|"
    r"auto:|autoreply|abwesenheit|abwesend|r[ée]ponse automatique|absence|"
    r"respuesta autom[áa]tica|fuera de la oficina|i am (currently )?out of|on vacation|"
    r"vacation reply|away from (my|the) (desk|office))",
    re.IGNORECASE,
)
_DELAY_SUBJECT = re.compile(r"delay|delayed|warning|still trying|not yet been delivered",
                            re.IGNORECASE)

_parser = BytesParser(policy=policy.default)


def parse(raw: bytes, headers_only: bool = False) -> EmailMessage:
    return _parser.parsebytes(raw, headersonly=headers_only)


def message_ids_in(value: str | None) -> list[str]:
    return _MESSAGE_ID.findall(value or "")


def referenced_ids(message: Message) -> list[str]:
    """Message-IDs the message answers (In-Reply-To first, then References)."""
    ids: list[str] = []
    for header in ("In-Reply-To", "References"):
        for value in message.get_all(header, []) or []:
            ids.extend(m for m in message_ids_in(str(value)) if m not in ids)
    return ids


def sender_address(message: Message) -> str:
    return parseaddr(str(message.get("From", "")))[1].strip().lower()


def is_delivery_report(message: Message) -> bool:
    content_type = message.get_content_type()
    report_type = str(message.get_param("report-type", "") or "").lower()
    if content_type == "multipart/report":
        return report_type in ("delivery-status", "")
    return bool(_DAEMON.match(sender_address(message)))


def is_auto_reply(message: Message) -> bool:
    if message.get_content_type() == "multipart/report":
        return True  # read receipts and other machine reports (bounces are caught before)
    auto = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if any(message.get(h) is not None for h in ("X-Autoreply", "X-Autorespond",
                                                 "X-Autoresponder", "X-Auto-Reply")):
        return True
    if str(message.get("Precedence", "")).strip().lower() in ("auto_reply", "bulk", "junk",
                                                                 "list"):
        return True
    if str(message.get("Return-Path", "x")).strip() == "<>":
        return True
    return bool(_AUTO_SUBJECT.match(str(message.get("Subject", ""))))


def classify_message(message: Message) -> str:
    """BOUNCE, AUTO_REPLY or REPLY (headers are enough for all but a bounce's details)."""
    if is_delivery_report(message):
        return BOUNCE
    if is_auto_reply(message):
        return AUTO_REPLY
    return REPLY


def _status_blocks(message: Message) -> list[Message]:
    blocks: list[Message] = []
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                blocks.extend(p for p in payload if isinstance(p, Message))
            elif isinstance(payload, str):
                for chunk in re.split(r"\r?\n\r?\n", payload):
                    blocks.append(parse(chunk.encode("utf-8", "replace"), headers_only=True))
    return blocks


def delivery_failed(message: Message) -> bool:
    """True when the report says delivery failed for good (not a delay warning)."""
    actions = [str(b.get("Action", "")).strip().lower() for b in _status_blocks(message)]
    actions = [a for a in actions if a]
    if actions:
        return "failed" in actions
    statuses = [str(b.get("Status", "")).strip() for b in _status_blocks(message)]
    if any(s.startswith("5") for s in statuses):
        return True
    if any(s.startswith("4") for s in statuses):
        return False
    return not _DELAY_SUBJECT.search(str(message.get("Subject", "")))


def bounced_message_ids(message: Message, raw: bytes) -> list[str]:
    """The original Message-IDs a bounce is about: the returned message's or headers' own
    Message-ID, else every Message-ID quoted anywhere in it (matched against ours later)."""
    found: list[str] = []
    for part in message.walk():
        content_type = part.get_content_type()
        inner: Message | None = None
        if content_type in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            first = payload[0] if isinstance(payload, list) and payload else None
            inner = first if isinstance(first, Message) else None
        elif content_type in ("text/rfc822-headers", "message/global-headers"):
            text = part.get_payload(decode=True) or b""
            inner = parse(text if isinstance(text, bytes) else b"", headers_only=True)
        if inner is not None:
            found.extend(m for m in message_ids_in(str(inner.get("Message-ID", "")))
                         if m not in found)
    if not found:
        own = set(message_ids_in(str(message.get("Message-ID", ""))))
        text = raw.decode("utf-8", "replace")
        found = [m for m in dict.fromkeys(_MESSAGE_ID.findall(text)) if m not in own]
    return found


# --- applying what was read -----------------------------------------------------------------

@dataclass
class PollReport:
    replied: int = 0
    bounced: int = 0
    auto_replies: int = 0
    unmatched: int = 0
    seen: int = 0
    unsubscribed: int = 0

    def add(self, other: PollReport) -> None:
        for name in ("replied", "bounced", "auto_replies", "unmatched", "seen", "unsubscribed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _our_records(message_ids: list[str], account: Account) -> list[SendRecord]:
    if not message_ids:
        return []
    return list(SendRecord.select().where(SendRecord.message_id.in_(message_ids)
                                          & (SendRecord.account == account)))


def leads_from(address: str, account: Account) -> list[int]:
    """Leads with this address that this mailbox emailed (or is assigned)."""
    emailed = SendRecord.select(SendRecord.lead).where(SendRecord.account == account)
    return [i for (i,) in Lead.select(Lead.id).where(
        (fn.LOWER(Lead.email) == address)
        & (Lead.id.in_(emailed) | (Lead.mailbox == account))
    ).tuples()]


def mark_replied(lead_ids: list[int], now: datetime) -> list[int]:
    """Leads that answered get no further step; returns the campaigns touched."""
    if not lead_ids:
        return []
    campaigns = [c for (c,) in Lead.select(Lead.campaign).where(
        Lead.id.in_(lead_ids) & Lead.state.not_in(NOT_REPLIABLE_STATES)).distinct().tuples()]
    Lead.update(state=LeadState.REPLIED, next_due_at=None, updated_at=now).where(
        Lead.id.in_(lead_ids) & Lead.state.not_in(NOT_REPLIABLE_STATES)).execute()
    return campaigns


def apply_message(account: Account, message: Message, raw: bytes | None, now: datetime
                  ) -> str | None:
    """Act on one incoming message; returns what it was taken for (None: not about us)."""
    if sender_address(message) == account.email.lower():
        return None
    kind = classify_message(message)
    if kind != BOUNCE:
        # The List-Unsubscribe mailto carries the lead's token, whatever the client adds.
        by_token = unsubscribe.leads_of_tokens(unsubscribe.tokens_in(
            str(message.get("Subject", "")) + "\n" + unsubscribe.own_text(message)))
        if by_token:
            return _unsubscribe(by_token, account, now)
    if kind == AUTO_REPLY:
        return AUTO_REPLY
    if kind == BOUNCE:
        if raw is None:
            return None
        records = _our_records(bounced_message_ids(message, raw), account)
        failed = delivery_failed(message)
        bounce_guard.record_dsn(account, records, message, now, failed)  # hard and soft
        if not failed:
            return None
        bounced: set[int] = set()
        with db.atomic():
            for record in records:
                if sendlog.bounce_lead(record.lead_id, now):
                    bounced.add(record.campaign_id)
        for campaign_id in bounced:
            bus.emit(LEADS_CHANGED, campaign_id)
        return BOUNCE if records else None
    lead_ids = [r.lead_id for r in _our_records(referenced_ids(message), account)]
    if not lead_ids:
        lead_ids = leads_from(sender_address(message), account)
    if not lead_ids:
        return None
    if unsubscribe.asks_to_unsubscribe(message):
        return _unsubscribe(lead_ids, account, now)
    with db.atomic():
        campaigns = mark_replied(lead_ids, now)
    for campaign_id in campaigns:
        bus.emit(LEADS_CHANGED, campaign_id)
    return REPLY


def _unsubscribe(lead_ids: list[int], account: Account, now: datetime) -> str:
    campaigns = [c for (c,) in Lead.select(Lead.campaign).where(Lead.id.in_(lead_ids))
                 .distinct().tuples()]
    with db.atomic():
        unsubscribe.unsubscribe_leads(lead_ids, now, f"asked by email to {account.email}")
    for campaign_id in campaigns:
        bus.emit(LEADS_CHANGED, campaign_id)
    return UNSUBSCRIBE


# --- IMAP -----------------------------------------------------------------------------------

def _first_send(account: Account) -> datetime | None:
    first = SendRecord.select(SendRecord.created_at).where(SendRecord.account == account) \
        .order_by(SendRecord.created_at).first()
    return first.created_at if first is not None else None


def new_uids(client: Any, sync: MailboxSync, account: Account) -> list[int]:
    """UIDs that arrived since the last poll (all since the first send after a UIDVALIDITY
    change or on the first poll)."""
    status = client.select_folder("INBOX", readonly=True)
    validity = int(status.get(b"UIDVALIDITY", 0) or 0)
    if sync.uidvalidity != validity:
        sync.uidvalidity = validity
        sync.last_uid = 0
        since = _first_send(account)
        if since is None:
            sync.last_uid = max(0, int(status.get(b"UIDNEXT", 1) or 1) - 1)
            return []
        uids = client.search(["SINCE", (since - timedelta(days=1)).date()])
    else:
        uids = client.search(["UID", f"{sync.last_uid + 1}:*"])
    return sorted(int(u) for u in uids if int(u) > sync.last_uid)


def poll_account(account: Account, creds: Credentials, now: datetime, timeout: float = 20.0,
                 batch: int = 200) -> PollReport:
    report = PollReport()
    sync, _ = MailboxSync.get_or_create(account=account, folder="INBOX")
    client = mailbox.open_imap(account, creds, timeout)
    try:
        uids = new_uids(client, sync, account)
        for start in range(0, len(uids), batch):
            chunk = uids[start:start + batch]
            fetched = client.fetch(chunk, [b"BODY.PEEK[HEADER]", b"RFC822.SIZE"])
            for uid in chunk:
                data = fetched.get(uid) or {}
                header = data.get(b"BODY[HEADER]") or b""
                message = parse(header, headers_only=True)
                raw: bytes | None = None
                size = int(data.get(b"RFC822.SIZE", 0) or 0)
                kind = classify_message(message)
                if (kind == BOUNCE and size <= MAX_FULL_FETCH) or \
                        (kind == REPLY and size <= MAX_REPLY_FETCH):
                    # A reply's own words may ask to unsubscribe: its text is needed too.
                    full = client.fetch([uid], [b"BODY.PEEK[]"]).get(uid) or {}
                    raw = full.get(b"BODY[]") or b""
                    message = parse(raw)
                outcome = apply_message(account, message, raw, now)
                report.seen += 1
                if outcome == REPLY:
                    report.replied += 1
                elif outcome == BOUNCE:
                    report.bounced += 1
                elif outcome == AUTO_REPLY:
                    report.auto_replies += 1
                elif outcome == UNSUBSCRIBE:
                    report.unsubscribed += 1
                else:
                    report.unmatched += 1
                sync.last_uid = max(sync.last_uid, uid)
            sync.polled_at = now
            sync.save()
        sync.polled_at = now
        sync.save()
    finally:
        mailbox.close_quietly(client)
    return report


def accounts_to_poll(only: Collection[int] | None = None) -> list[Account]:
    """Connected mailboxes that have sent something, and those paused for their sending (their
    logins work: replies, bounces and unsubscribes keep being read while the rep decides); of
    `only`: those this copy serves on a team database."""
    senders = SendRecord.select(SendRecord.account).distinct()
    query = Account.select().where(
        ((Account.status == Status.CONNECTED) | Account.reason.in_(SENDING_REASONS))
        & Account.removed_at.is_null() & Account.id.in_(senders)).order_by(Account.id)
    if only is not None:
        query = query.where(Account.id.in_(list(only)))
    return list(query)


def poll_replies(now: datetime, credentials: Callable[[Account, str | None, float], Credentials],
                 timeout: float = 20.0, only: Collection[int] | None = None) -> PollReport:
    """One poll of every sending mailbox; a mailbox that cannot be read is skipped (the monitor
    reports on its connection)."""
    total = PollReport()
    for account in accounts_to_poll(only):
        try:
            creds = credentials(account, None, timeout)
            total.add(poll_account(account, creds, now, timeout))
        except Exception as exc:
            log.warning("reading replies of %s failed: %s", account.email, exc)
    if total.seen:
        log.info("replies: %s", total)
    return total


def last_polled(account_ids: list[int]) -> dict[int, datetime | None]:
    """When each mailbox's INBOX was last read for replies (None: never)."""
    found: dict[int, datetime | None] = dict.fromkeys(account_ids)
    for account_id, when in MailboxSync.select(MailboxSync.account, MailboxSync.polled_at).where(
            MailboxSync.account.in_(account_ids) & (MailboxSync.folder == "INBOX")).tuples():
        found[int(account_id)] = when
    return found


class ReplyReader:
    """Reads mailboxes' INBOXes for replies and bounces, one poll per mailbox at a time: the
    reply loop and the sending engine's read-before-follow-up (engine.py) share it, from worker
    threads. Blocking."""

    def __init__(self, credentials: Callable[[Account, str | None, float], Credentials],
                 timeout: float, now: Callable[[], datetime]) -> None:
        self.credentials = credentials
        self.timeout = timeout
        self.now = now
        self._guard = threading.Lock()
        self._locks: dict[int, threading.Lock] = {}

    def _lock(self, account_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(account_id, threading.Lock())

    def poll(self, account_id: int) -> bool:
        """Read one mailbox's new messages now; False when its INBOX could not be read."""
        with self._lock(account_id):
            account = Account.get_by_id(account_id)
            try:
                creds = self.credentials(account, None, self.timeout)
                report = poll_account(account, creds, self.now(), self.timeout)
            except Exception as exc:
                log.warning("reading replies of %s failed: %s", account.email, exc)
                return False
            if report.seen:
                log.info("replies of %s: %s", account.email, report)
            return True

    def poll_all(self, only: Collection[int] | None = None) -> int:
        """One poll of every sending mailbox (of `only`: those this copy serves on a team
        database); returns how many could be read."""
        return sum(1 for account in accounts_to_poll(only) if self.poll(account.id))
