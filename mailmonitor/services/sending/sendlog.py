"""The send records: written before and after every send (spec §6), and what each outcome does
to the lead. Every function is one short transaction with targeted UPDATEs (no stale rows saved),
so they are safe from the sending worker thread while the monitor writes on the loop's thread.

Lifecycle of a SendRecord:
  sending (committed before MAIL FROM)
    → handed_over_at set (committed just before the final "." goes to the server)
    → sent      the server answered 250; the lead's cursor advanced in the same transaction
    → failed    the server refused, or never got the end of the message: not delivered
    → unknown   the answer was lost and the server keeps nothing to check (reconcile.py)
"""

from __future__ import annotations

from datetime import datetime, timedelta

import peewee as pw

from mailmonitor.events import LEADS_CHANGED, bus
from mailmonitor.models import Account, Lead, SendRecord, db
from mailmonitor.models.states import NOT_REPLIABLE_STATES, LeadState, SendState
from mailmonitor.services.sending.scheduler import advance_lead, step_delays

# Flagged leads counted in the "leads need you" alert: those a fix would still send to.
FLAGGABLE_STATES = (LeadState.PENDING, LeadState.ACTIVE, LeadState.HALTED)

RETRY_DELAY = timedelta(minutes=15)  # a lead whose send failed for a temporary reason
MAX_ATTEMPTS = 5  # failed attempts of one step before the rep is asked to look
INTERRUPTED = "interrupted"  # error prefix of attempts cut off before the end of data


def start_attempt(lead: Lead, step_position: int, account: Account, message_id: str,
                  subject: str, now: datetime) -> SendRecord:
    """Committed before the SMTP transaction starts, with the Message-ID fixed."""
    with db.atomic():
        record: SendRecord = SendRecord.create(
            lead=lead.id, campaign=lead.campaign_id, account=account.id, step=step_position,
            message_id=message_id, subject=subject, state=SendState.SENDING, created_at=now)
    return record


class LeaseLost(Exception):
    """This copy no longer serves the mailbox (or another copy settled this send meanwhile):
    the email must not be handed over."""


def mark_handed_over(record_id: int, now: datetime, fence: pw.Node | None = None) -> None:
    """Committed before the end-of-data mark is written: from here on the server may accept.
    `fence` (several copies on one database): SQL that is true only while this copy still
    serves the mailbox; when false nothing is marked and LeaseLost is raised, so the final "."
    is never sent and the server discards the message. The record must still be `sending`:
    a copy that took the mailbox over while this send hung (the team database was away) has
    settled it as not sent and sends the step again; this copy may hold the lease again by now,
    and must not hand over the same step a second time."""
    with db.atomic():
        condition = (SendRecord.id == record_id) & (SendRecord.state == SendState.SENDING)
        if fence is not None:
            condition = condition & fence
        if not SendRecord.update(handed_over_at=now).where(condition).execute():
            raise LeaseLost("this copy no longer serves the mailbox, or another copy settled "
                            "this send; the email was not handed over (another copy sends it)")


def note_lost(record_id: int, what_happened: str) -> None:
    """The answer to a handed-over send was lost: say how, for reconcile's alert (the record
    stays `sending`)."""
    SendRecord.update(error=what_happened[:500]).where(
        (SendRecord.id == record_id) & (SendRecord.state == SendState.SENDING)).execute()


def mark_sent(record: SendRecord, now: datetime, state: SendState = SendState.SENT,
              error: str | None = None, delays: list[float] | None = None,
              touch_account: bool = True) -> bool:
    """The server accepted it (or, for `unknown`, may have): record it and move the lead's
    cursor past the step, exactly once, in one transaction. False if it was settled already.
    `delays`: the campaign's step delays when the caller has them."""
    with db.atomic():
        changed = SendRecord.update(state=state, sent_at=now, error=error).where(
            (SendRecord.id == record.id) & (SendRecord.state == SendState.SENDING)).execute()
        if not changed:
            return False
        advance_lead(record.lead_id, record.step, record.message_id, record.subject, now,
                     delays if delays is not None else step_delays(record.campaign_id))
        if touch_account:
            touch_last_sent(record.account_id, now)
    bus.emit(LEADS_CHANGED, record.campaign_id)
    return True


def touch_last_sent(account_id: int, now: datetime) -> None:
    """Account.last_sent_at, for display (pacing reads the send records)."""
    Account.update(last_sent_at=now).where(
        (Account.id == account_id)
        & (Account.last_sent_at.is_null() | (Account.last_sent_at < now))).execute()


def mark_failed(record: SendRecord, error: str, now: datetime,
                retry_at: datetime | None = None) -> None:
    """Not delivered. The lead keeps its cursor; with `retry_at` it is due again then. A step
    that keeps failing is flagged for the rep instead of being retried for ever."""
    with db.atomic():
        SendRecord.update(state=SendState.FAILED, error=error[:2000]).where(
            (SendRecord.id == record.id) & (SendRecord.state == SendState.SENDING)).execute()
        if retry_at is not None:
            Lead.update(next_due_at=retry_at, updated_at=now).where(
                (Lead.id == record.lead_id) & (Lead.cursor == record.step)).execute()
        attempts = SendRecord.select().where(
            (SendRecord.lead == record.lead_id) & (SendRecord.step == record.step)
            & (SendRecord.state == SendState.FAILED) & ~SendRecord.error.startswith(INTERRUPTED)
        ).count()
    if attempts >= MAX_ATTEMPTS:
        flag_lead(record.lead_id, f"Step {record.step + 1} could not be sent after {attempts} "
                  f"attempts; the server last said: {error[:300]}", now)


def mark_bounced(record: SendRecord, error: str, now: datetime) -> None:
    """The server refused the recipient for good (e.g. 550 5.1.1): this lead only is bounced."""
    with db.atomic():
        SendRecord.update(state=SendState.FAILED, error=error[:2000]).where(
            (SendRecord.id == record.id) & (SendRecord.state == SendState.SENDING)).execute()
        bounce_lead(record.lead_id, now)
    bus.emit(LEADS_CHANGED, record.campaign_id)


def bounce_lead(lead_id: int, now: datetime) -> bool:
    changed = Lead.update(state=LeadState.BOUNCED, next_due_at=None, updated_at=now).where(
        (Lead.id == lead_id) & Lead.state.not_in(NOT_REPLIABLE_STATES)
    ).execute()
    return bool(changed)


def flag_lead(lead_id: int, text: str, now: datetime) -> None:
    """The lead needs the rep (its state stays; the scheduler skips it until the flag is
    cleared). The attention model tells the rep how many leads of the campaign wait for this."""
    with db.atomic():
        Lead.update(flag=text, updated_at=now).where(Lead.id == lead_id).execute()
        campaign_id = Lead.get_by_id(lead_id).campaign_id
    bus.emit(LEADS_CHANGED, campaign_id)


def clear_flag(lead: Lead, now: datetime) -> None:
    """The rep fixed the lead (e.g. added the missing field): it continues where it was."""
    Lead.update(flag=None, updated_at=now).where(Lead.id == lead.id).execute()
    bus.emit(LEADS_CHANGED, lead.campaign_id)
