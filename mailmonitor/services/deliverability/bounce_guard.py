"""The bounce guard: a mailbox whose recent sends bounce too often stops sending.

Bounces come from two places: delivery status notifications in the INBOX (RFC 3464
`message/delivery-status`, read by sending/replies.py) and SMTP refusals of a recipient during
the send itself (550 5.1.1 at RCPT TO). Each is stored as a `Bounce` of one send, hard or soft:

- hard: the report's Status is 5.x.x (the address does not exist, the domain has no mail
  server, the mailbox is disabled): the address will never take mail;
- soft: 4.x.x (mailbox full, greylisting, "still trying"): it may work later.

The rate is the share of hard bounces over the mailbox's last N sends (setting
`bounce_window_sends`, 50) that are no older than D days (`bounce_window_days`, 7) nor older
than the rep's last Resume sending. Over the
threshold (`bounce_threshold_percent`, 5 %) and with at least `bounce_min_hard` (3) hard
bounces — one bounce of two sends is chance, not a rate — the mailbox is held ("Paused: high
bounce rate", holds.py) with an alert that lists the bounced addresses. The rep resumes it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import Message
from email.parser import HeaderParser
from email.utils import parseaddr

import peewee as pw

from mailmonitor.models import Account, Bounce, SendingHold, SendRecord, db, get_setting
from mailmonitor.models.deliverability import HARD, SOFT
from mailmonitor.services.deliverability import holds
from mailmonitor.services.monitoring.account_state import active_hold

log = logging.getLogger(__name__)

MAX_LISTED = 20  # addresses named in the alert; the rest are counted
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class DsnRecipient:
    """One per-recipient block of a delivery status notification (RFC 3464 §2.3)."""

    recipient: str
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str  # e.g. 5.1.1
    diagnostic: str

    @property
    def kind(self) -> str | None:
        """hard, soft, or None when the report is not about a failure."""
        if self.status.startswith("5"):
            return HARD
        if self.status.startswith("4") or self.action == "delayed":
            return SOFT
        return HARD if self.action == "failed" else None


def _address(value: str) -> str:
    """`rfc822; a@b` → a@b (RFC 3464 address-type; value)."""
    _type, _sep, rest = value.partition(";")
    return parseaddr((rest or _type).strip())[1].strip().lower()


def _blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    text = payload if isinstance(payload, str) else ""
    parser = HeaderParser()
    return [parser.parsestr(chunk.strip() + "\n") for chunk in re.split(r"\r?\n\s*\r?\n", text)
            if chunk.strip()]


def parse_dsn(message: Message) -> list[DsnRecipient]:
    """The per-recipient results of a DSN (the first block of each report is about the whole
    message and is skipped: it has no Final-Recipient)."""
    found: list[DsnRecipient] = []
    for part in message.walk():
        if part.get_content_type() not in ("message/delivery-status",
                                           "message/global-delivery-status"):
            continue
        for block in _blocks(part):
            final = str(block.get("Final-Recipient", "") or block.get("Original-Recipient", ""))
            if not final:
                continue
            status = str(block.get("Status", "")).strip()
            match = _STATUS.search(status)
            found.append(DsnRecipient(
                recipient=_address(final),
                action=str(block.get("Action", "")).strip().lower(),
                status=match.group(0) if match else status,
                diagnostic=" ".join(str(block.get("Diagnostic-Code", "")).split())[:500],
            ))
    return found


def kind_of_status(text: str) -> str:
    """hard or soft from an enhanced status code (RFC 3463) or a bare SMTP code in text."""
    match = _STATUS.search(text)
    if match:
        return HARD if match.group(1) == "5" else SOFT
    return SOFT if re.match(r"\s*4\d\d", text) else HARD


# --- recording ------------------------------------------------------------------------------

def _store(account_id: int, record: SendRecord | None, email: str, kind: str, status: str,
           diagnostic: str, source: str, now: datetime) -> bool:
    inserted = Bounce.insert(
        account=account_id, send=record.id if record is not None else None,
        lead=record.lead_id if record is not None else None, email=email.lower(), kind=kind,
        status=status, diagnostic=diagnostic[:2000], source=source, received_at=now,
    ).on_conflict_ignore().execute()
    return bool(inserted)


def record_dsn(account: Account, records: list[SendRecord], message: Message,
               now: datetime, failed: bool) -> int:
    """Store what a DSN says about our sends. `failed`: the report says delivery failed for
    good (sending/replies.py decides this for the lead). Returns the bounces stored."""
    recipients = parse_dsn(message)
    stored = 0
    with db.atomic():
        for record in records:
            lead_email = record.lead.email.lower()
            mine = [r for r in recipients if r.recipient == lead_email] or \
                ([recipients[0]] if len(recipients) == 1 else [])
            if mine:
                for entry in mine:
                    kind = entry.kind
                    if kind is None:
                        continue
                    stored += _store(account.id, record, lead_email, kind, entry.status,
                                     entry.diagnostic or entry.action, "dsn", now)
            elif failed:  # an old-style bounce without machine-readable status: it failed
                stored += _store(account.id, record, lead_email, HARD, "", "returned mail",
                                 "dsn", now)
    return stored


def record_refusal(record: SendRecord, email: str, text: str, now: datetime) -> bool:
    """The server refused the recipient of a send (e.g. 550 5.1.1 at RCPT TO)."""
    match = _STATUS.search(text)
    return _store(record.account_id, record, email, kind_of_status(text),
                  match.group(0) if match else text[:3], text, "smtp", now)


# --- the rate -------------------------------------------------------------------------------

@dataclass
class BounceRate:
    sends: int = 0
    hard: int = 0
    soft: int = 0
    hard_addresses: list[str] = field(default_factory=list)
    soft_addresses: list[str] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return 100.0 * self.hard / self.sends if self.sends else 0.0

    def describe(self) -> str:
        return (f"{self.hard} of the last {self.sends} emails bounced ({self.percent:.1f} %)"
                + (f"; {self.soft} more were delayed or refused for now" if self.soft else ""))


def window_start(account: Account | int, now: datetime) -> datetime:
    """D days back, or the rep's last Resume sending after a bounce pause if later: the bounces
    before it were dealt with (otherwise the old ones would pause it again at once)."""
    since = now - timedelta(days=float(get_setting("bounce_window_days")))
    resumed = SendingHold.select(pw.fn.MAX(SendingHold.lifted_at)).where(
        (SendingHold.account == account) & (SendingHold.reason == "high_bounce_rate")).scalar()
    return max(since, resumed) if resumed is not None else since


def recent_sends(account: Account | int, now: datetime) -> list[int]:
    """Ids of the mailbox's last N sends of the window (sent, possibly sent, or refused for
    their recipient)."""
    limit = int(get_setting("bounce_window_sends"))
    since = window_start(account, now)
    refused = Bounce.select(Bounce.send).where((Bounce.account == account)
                                               & Bounce.send.is_null(False))
    query = (SendRecord.select(SendRecord.id)
             .where((SendRecord.account == account) & (SendRecord.created_at >= since)
                    & (SendRecord.state.in_(("sent", "unknown")) | SendRecord.id.in_(refused)))
             .order_by(SendRecord.created_at.desc(), SendRecord.id.desc()).limit(limit))
    return [i for (i,) in query.tuples()]


def bounce_rate(account: Account | int, now: datetime) -> BounceRate:
    sends = recent_sends(account, now)
    rate = BounceRate(sends=len(sends))
    if not sends:
        return rate
    rows = (Bounce.select(Bounce.send, Bounce.email, Bounce.kind)
            .where(Bounce.send.in_(sends)).order_by(Bounce.received_at, Bounce.id).tuples())
    hard_sends: set[int] = set()
    soft_sends: set[int] = set()
    for send_id, email, kind in rows:
        if kind == HARD:
            hard_sends.add(send_id)
            if email not in rate.hard_addresses:
                rate.hard_addresses.append(email)
        else:
            soft_sends.add(send_id)
            if email not in rate.soft_addresses:
                rate.soft_addresses.append(email)
    rate.hard = len(hard_sends)
    rate.soft = len(soft_sends - hard_sends)
    return rate


def threshold_text() -> str:
    return (f"{float(get_setting('bounce_threshold_percent')):g} % with at least "
            f"{int(get_setting('bounce_min_hard'))} hard bounces")


def over_threshold(rate: BounceRate) -> bool:
    return rate.hard >= int(get_setting("bounce_min_hard")) and \
        rate.percent > float(get_setting("bounce_threshold_percent"))


def pause_detail(rate: BounceRate) -> str:
    shown = rate.hard_addresses[:MAX_LISTED]
    more = len(rate.hard_addresses) - len(shown)
    return (f"{rate.describe()}. Bounced: {', '.join(shown)}"
            + (f" and {more} more" if more > 0 else "")
            + ". Remove these addresses from your lists, then choose Resume sending.")


def pause_needed(account: Account, now: datetime) -> str | None:
    """The pause's words when the mailbox's bounce rate is over the threshold (read only)."""
    if account.removed_at is not None or active_hold(account) is not None:
        return None
    rate = bounce_rate(account, now)
    return pause_detail(rate) if over_threshold(rate) else None


def evaluate(account: Account, now: datetime) -> bool:
    """Hold the mailbox when its bounce rate is over the threshold. True when it was held now.
    Call on the thread that writes statuses (the event loop's)."""
    detail = pause_needed(account, now)
    return detail is not None and holds.place_hold(account, "high_bounce_rate", detail, now)


def pauses_needed(now: datetime, received_since: datetime | None = None
                  ) -> list[tuple[int, str]]:
    """(account id, words) of every mailbox to pause: those with a bounce received since
    `received_since` (default: in the window). Read only: a worker thread may run it. One
    mailbox's trouble never stops the others."""
    since = received_since or now - timedelta(days=float(get_setting("bounce_window_days")))
    with_bounces = Bounce.select(Bounce.account).where(Bounce.received_at >= since).distinct()
    found: list[tuple[int, str]] = []
    for account in Account.select().where(Account.id.in_(with_bounces)
                                           & Account.removed_at.is_null()):
        try:
            detail = pause_needed(account, now)
        except Exception:
            log.exception("bounce guard failed for %s", account.email)
            continue
        if detail is not None:
            found.append((account.id, detail))
    return found


def apply_pauses(found: list[tuple[int, str]], now: datetime) -> list[str]:
    """Hold the mailboxes `pauses_needed` found (on the thread that writes statuses)."""
    held: list[str] = []
    for account_id, detail in found:
        account = Account.get_or_none(Account.id == account_id)
        if account is not None and holds.place_hold(account, "high_bounce_rate", detail, now):
            held.append(account.email)
    return held


def evaluate_all(now: datetime, received_since: datetime | None = None) -> list[str]:
    """Find and hold in one go; returns the addresses of the mailboxes held now."""
    return apply_pauses(pauses_needed(now, received_since), now)
