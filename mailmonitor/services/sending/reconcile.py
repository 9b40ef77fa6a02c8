"""Settling sends that were cut off (spec §6: "an unfinished send is reconciled at start").

A SendRecord still `sending` when no send is in flight was interrupted (mailmonitor killed, the
computer off, the connection dropped). What is known about it decides, never a guess:

1. No hand-over mark (`handed_over_at` NULL): the end of the message was never written, so the
   server discarded the transaction (RFC 5321). Proven not sent → `failed` ("interrupted"); the
   lead keeps its cursor and gets the step again, under a new Message-ID.
2. Handed over: the server may have accepted it before the answer was lost. Its Message-ID is
   looked up on the server (IMAP SEARCH HEADER Message-ID in Sent, then INBOX):
   - found → `sent`, the cursor advances exactly once (conditional update);
   - server unreachable → left as is, tried again later; the lead waits (never re-sent);
   - not found, and the provider files every SMTP send in Sent itself (Gmail, Microsoft 365;
     mailbox.server_keeps_sent_copy) → the server never accepted it: `failed`, sent again.
     Only after a settle delay (default 10 min) so a copy the server is still filing counts;
   - not found otherwise (the server keeps no copy to check) → `unknown`: counted as sent (the
     whole message had reached the server, so it almost surely went out), never re-sent, and the
     rep is told: "1 email may or may not have been sent…".

Guarantee: no email is sent twice. Every step is delivered exactly once where the provider files
its sends (case 2 is then decided by the server's own record); elsewhere at most once, and a step
that may be missing is always named to the rep. The window for `unknown` is the time between
writing the final "." and the server's 250 (a round trip), not the whole send.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import peewee as pw

from mailmonitor.events import ATTENTION_DIRTY, LEADS_CHANGED, bus
from mailmonitor.models import Account, Lead, SendRecord, db
from mailmonitor.models.states import DELIVERED_SEND_STATES, LeadState, SendState
from mailmonitor.services.monitoring.probes import Credentials
from mailmonitor.services.sending import mailbox, sendlog

log = logging.getLogger(__name__)

DEFAULT_SETTLE = timedelta(minutes=10)
STOPPED_WHILE_ACCEPTING = "interrupted while the server was accepting it"

# (account, Message-IDs) → the ones the server has, or None when it cannot be asked now.
Lookup = Callable[[Account, list[str]], set[str] | None]


@dataclass
class ReconcileReport:
    sent: int = 0  # found on the server
    retried: int = 0  # proven not sent: the lead gets the step again
    unknown: int = 0  # cannot be known: counted as sent, the rep is told
    waiting: int = 0  # the server could not be asked yet
    # campaign id -> an unexpected error settling its sends (the engine pauses it)
    campaign_errors: dict[int, str] = field(default_factory=dict)

    @property
    def settled(self) -> int:
        return self.sent + self.retried + self.unknown


def server_lookup(credentials: Callable[[Account, str | None, float], Credentials],
                  timeout: float = 20.0) -> Lookup:
    """Look Message-IDs up in the mailbox's Sent folder, then its INBOX (a copy the rep sent to
    themselves, or a bounce quoting it)."""

    def lookup(account: Account, message_ids: list[str]) -> set[str] | None:
        try:
            creds = credentials(account, None, timeout)
            client = mailbox.open_imap(account, creds, timeout)
        except Exception as exc:
            log.info("reconcile: %s cannot be asked now: %s", account.email, exc)
            return None
        try:
            found: set[str] = set()
            folders = [f for f in (mailbox.sent_folder(client), "INBOX") if f]
            for folder in folders:
                found |= mailbox.find_message_ids(client, folder,
                                                  [m for m in message_ids if m not in found])
            return found
        except Exception as exc:
            log.warning("reconcile: searching %s failed: %s", account.email, exc)
            return None
        finally:
            mailbox.close_quietly(client)

    return lookup


def unsettled(exclude: Iterable[int] = (), accounts: Collection[int] | None = None
              ) -> list[SendRecord]:
    """Records left `sending`; with `accounts`, only those of these mailboxes (the ones this
    copy serves: another copy's sends in flight are its own business)."""
    query = SendRecord.select().where(SendRecord.state == SendState.SENDING).order_by(SendRecord.id)
    if accounts is not None:
        query = query.where(SendRecord.account.in_(list(accounts)))
    skip = set(exclude)
    return [r for r in query if r.id not in skip]


def reconcile_pending(now: datetime, lookup: Lookup, settle: timedelta = DEFAULT_SETTLE,
                      exclude: Iterable[int] = (), accounts: Collection[int] | None = None
                      ) -> ReconcileReport:
    """Settle every interrupted send (records in `exclude` are in flight: left alone; with
    `accounts`, only sends from these mailboxes)."""
    report = ReconcileReport()
    handed: dict[int, list[SendRecord]] = defaultdict(list)
    for record in unsettled(exclude, accounts):
        if record.handed_over_at is None:
            sendlog.mark_failed(record, f"{sendlog.INTERRUPTED}: stopped before the end of the "
                                "message was sent, so the server discarded it; it is sent again",
                                now)
            report.retried += 1
        else:
            handed[record.account_id].append(record)
    for account_id, records in handed.items():
        try:
            _settle_handed_over(account_id, records, now, lookup, settle, report)
        except pw.DatabaseError:
            raise
        except Exception as exc:  # one mailbox's records must not stop the others'
            log.exception("reconciling the sends of mailbox %s failed", account_id)
            report.waiting += len(records)
            for record in records:
                report.campaign_errors[record.campaign_id] = f"{type(exc).__name__}: {exc}"
    if report.settled or report.waiting:
        log.info("reconciled interrupted sends: %s", report)
    return report


def _settle_handed_over(account_id: int, records: list[SendRecord], now: datetime,
                        lookup: Lookup, settle: timedelta, report: ReconcileReport) -> None:
    account = Account.get_by_id(account_id)
    found = lookup(account, [r.message_id for r in records])
    if found is None:
        report.waiting += len(records)
        return
    unknown: list[SendRecord] = []
    for record in records:
        if record.message_id in found:
            sendlog.mark_sent(record, now)
            report.sent += 1
        elif mailbox.server_keeps_sent_copy(account):
            if now - record.handed_over_at < settle:
                report.waiting += 1
                continue
            sendlog.mark_failed(record, f"{sendlog.INTERRUPTED}: the server has no copy in "
                                "Sent, so it did not accept it; it is sent again", now)
            report.retried += 1
        else:
            if sendlog.mark_sent(record, now, state=SendState.UNKNOWN,
                                 error=record.error or STOPPED_WHILE_ACCEPTING):
                unknown.append(record)
                report.unknown += 1
    if unknown:
        bus.emit(ATTENTION_DIRTY)


def unknown_sends_words(account_id: int) -> tuple[int, str] | None:
    """(how many, what to tell the rep) about the emails of this mailbox that may or may not
    have gone out, or None when there are none (the attention model's words)."""
    records = list(SendRecord.select(SendRecord, Lead).join(Lead).where(
        (SendRecord.account == account_id) & (SendRecord.state == SendState.UNKNOWN)
    ).order_by(SendRecord.id))
    count = len(records)
    if not count:
        return None
    names = "; ".join(f"{r.lead.email} (step {r.step + 1})" for r in records[:10])
    more = f"; and {count - 10} more" if count > 10 else ""
    # What happened, as the sender saw it: a server that went silent after the whole message
    # is not "mailmonitor was stopped".
    causes = [r.error for r in records if r.error and r.error != STOPPED_WHILE_ACCEPTING]
    them = "it" if count == 1 else "them"
    what = (f"{causes[0].rstrip('.')}" + (f" (and {len(causes) - 1} more like it)"
                                          if len(causes) > 1 else "")
            if causes else f"mailmonitor was stopped while the server was accepting {them}")
    return count, (
        f"{what}, and this server keeps no copy to check. {'It is' if count == 1 else 'They are'} "
        f"counted as sent and will not be sent again by itself: {names}{more}. Look in the "
        "Sent folder, then choose “They went out” or “Send again”.")


def resolve_unknown_sends(account: Account, delivered: bool, now: datetime) -> int:
    """The rep checked the mailbox's Sent folder (or asked the lead) about the emails that may or
    may not have gone out. `delivered`: they did, and stay counted. Otherwise each is sent again
    from the same mailbox at its pace: the lead's cursor goes back to that step — but only where
    it is still the lead's latest email (a later step already sent keeps the sequence as it is).
    Returns how many will be sent again."""
    records = list(SendRecord.select().where(
        (SendRecord.account == account) & (SendRecord.state == SendState.UNKNOWN)))
    again = 0
    with db.atomic():
        for record in records:
            lead = Lead.get_by_id(record.lead_id)
            latest = lead.last_message_id == record.message_id and lead.cursor == record.step + 1
            if delivered or not latest:
                SendRecord.update(state=SendState.SENT).where(SendRecord.id == record.id).execute()
                continue
            previous = (SendRecord.select(SendRecord.message_id)
                        .where((SendRecord.lead == lead) & (SendRecord.id != record.id)
                               & SendRecord.state.in_(DELIVERED_SEND_STATES))
                        .order_by(SendRecord.id.desc()).scalar())
            SendRecord.update(state=SendState.FAILED, error="not delivered (checked by the rep)"
                              ).where(SendRecord.id == record.id).execute()
            waiting = lead.state in (LeadState.ACTIVE, LeadState.COMPLETED, LeadState.PENDING)
            Lead.update(
                cursor=record.step, messages_sent=Lead.messages_sent - 1,
                last_message_id=previous, next_due_at=now, updated_at=now,
                state=(LeadState.ACTIVE if record.step else LeadState.PENDING) if waiting
                else lead.state,
            ).where(Lead.id == lead.id).execute()
            again += 1
    for campaign_id in {r.campaign_id for r in records}:
        bus.emit(LEADS_CHANGED, campaign_id)
    return again
