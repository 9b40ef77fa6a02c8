"""Which lead gets which step, from which mailbox, when (spec §6). Database reads only.

A lead is due when all of these hold:
- its campaign is `active` and the campaign's sending window is open (in the window's time zone);
- the lead is `pending` or `active`, not flagged for the rep, and `next_due_at <= now`;
- no earlier attempt of it is still unresolved (`sending` record, see reconcile.py);
- its mailbox is a current member of the campaign and `connected` (Account.can_send);
- the mailbox is under its daily cap (warm-up included, capacity.py) and past its minimum gap
  since its last send (plus a little jitter, so sends do not look machine-timed).

Halted, unassigned, flagged and finished leads simply are not due; nothing about them changes
here, so they keep their place. A mailbox with a backlog (e.g. after a reconnect) sends it at its
own pace: with a minimum gap it sends one email per gap, never a burst.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import peewee as pw

from mailmonitor.models import Account, Campaign, CampaignMailbox, Lead, SendRecord, Step
from mailmonitor.models.states import (
    OPEN_STATES,
    SENDABLE_STATES,
    CampaignStatus,
    LeadState,
    SendState,
    Status,
)
from mailmonitor.services.common.capacity import COUNTED_SEND_STATES, remaining_capacity
from mailmonitor.services.common.validation import MAX_DELAY_DAYS, MAX_MIN_GAP_SECONDS

DEFAULT_MAX_BATCH = 50  # emails per mailbox per round when it has no minimum gap
DEFAULT_JITTER = 0.1  # up to +10 % of the minimum gap


@dataclass(frozen=True)
class Dispatch:
    """One planned email: this lead gets this step from this mailbox."""

    lead: Lead
    step: Step
    account: Account


# --- sending windows ------------------------------------------------------------------------

def _clock_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours) % 24, int(minutes))


def window_open(window: dict[str, object] | None, now: datetime) -> bool:
    """Is the window (validation.parse_window format) open at `now` (naive UTC)?

    Hours are wall-clock hours in the window's time zone (daylight saving included). A window
    that ends before it starts runs over midnight and belongs to the day it started on; an end of
    00:00 means midnight."""
    if not window:
        return True
    try:
        zone = ZoneInfo(str(window.get("tz") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
    days = {int(d) for d in window.get("days", range(7))}  # type: ignore[attr-defined]
    start = _clock_time(str(window.get("start", "00:00")))
    end = _clock_time(str(window.get("end", "00:00")))
    clock = local.time().replace(tzinfo=None)
    if start < end:
        return local.weekday() in days and start <= clock < end
    # Over midnight (or until midnight when end is 00:00).
    if clock >= start:
        return local.weekday() in days
    return clock < end and (local.weekday() - 1) % 7 in days


# --- mailbox pacing -------------------------------------------------------------------------

def last_send_times(account_ids: Iterable[int]) -> dict[int, datetime]:
    """When each mailbox last started a send, from its send records (the authoritative source;
    Account.last_sent_at is kept for display)."""
    ids = list(account_ids)
    if not ids:
        return {}
    rows = (
        SendRecord.select(SendRecord.account, pw.fn.MAX(SendRecord.created_at))
        .where(SendRecord.account.in_(ids) & SendRecord.state.in_(COUNTED_SEND_STATES))
        .group_by(SendRecord.account)
        .tuples()
    )
    found: dict[int, datetime] = {}
    for account_id, when in rows:
        if isinstance(when, str):  # MAX() comes back as text from SQLite
            when = datetime.fromisoformat(when)
        found[int(account_id)] = when
    return found


class Scheduler:
    """Plans rounds of sends. Keeps only the jitter drawn for each mailbox's current gap, so the
    same gap is not re-rolled on every tick."""

    def __init__(self, rng: random.Random | None = None, jitter: float = DEFAULT_JITTER,
                 max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self.rng = rng or random.Random()
        self.jitter = jitter
        self.max_batch = max_batch
        self._jitter_for: dict[int, tuple[datetime, float]] = {}
        # campaign id -> what went wrong planning it (the engine pauses it; the others go on)
        self.campaign_errors: dict[int, str] = {}

    def ready_at(self, account: Account, last_sent: datetime | None) -> datetime | None:
        """The earliest time the mailbox may send again; None = now."""
        last = max((t for t in (last_sent, account.last_sent_at) if t is not None), default=None)
        # Bounded here too: a value stored before input was bounded must not overflow a date.
        gap = min(max(0, int(account.min_gap_seconds or 0)), MAX_MIN_GAP_SECONDS)
        if last is None or gap == 0:
            return None
        memo = self._jitter_for.get(account.id)
        if memo is None or memo[0] != last:
            memo = (last, self.rng.uniform(0, self.jitter * gap) if self.jitter > 0 else 0.0)
            self._jitter_for[account.id] = memo
        return last + timedelta(seconds=gap + memo[1])

    def sending_mailboxes(self, now: datetime, backoff: dict[int, datetime] | None = None,
                          only: Collection[int] | None = None, exclude: Collection[int] = ()
                          ) -> dict[int, int]:
        """Mailboxes that may send now, with how many emails each may send in this round.
        `only`: the mailboxes this copy serves (None: all of them); `exclude`: those left out
        (a batch of theirs is in flight)."""
        query = Account.select().where(
            (Account.status == Status.CONNECTED) & Account.removed_at.is_null()
            & Account.id.in_(CampaignMailbox.select(CampaignMailbox.account)
                             .where(CampaignMailbox.active)))
        if only is not None:
            if not only:
                return {}
            query = query.where(Account.id.in_(list(only)))
        if exclude:
            query = query.where(Account.id.not_in(list(exclude)))
        accounts = list(query)
        accounts = [a for a in accounts if a.can_send()
                    and (backoff is None or backoff.get(a.id, now) <= now)]
        if not accounts:
            return {}
        capacity = remaining_capacity(accounts, now)
        last = last_send_times(a.id for a in accounts)
        quota: dict[int, int] = {}
        for account in accounts:
            left = capacity[account.id]
            ready = self.ready_at(account, last.get(account.id))
            if left <= 0 or (ready is not None and ready > now):
                continue
            per_round = 1 if account.min_gap_seconds else self.max_batch
            quota[account.id] = min(left, per_round)
        return quota

    def plan(self, now: datetime, backoff: dict[int, datetime] | None = None,
             only: Collection[int] | None = None, exclude: Collection[int] = ()
             ) -> dict[int, list[Dispatch]]:
        """The next round: for each mailbox that may send, its due leads (oldest due first)."""
        campaigns = []
        for campaign in Campaign.select().where(Campaign.status == CampaignStatus.ACTIVE):
            try:
                if window_open(campaign.window, now):
                    campaigns.append(campaign.id)
            except Exception as exc:  # a damaged window must not stop the other campaigns
                self.campaign_errors[campaign.id] = f"sending window: {type(exc).__name__}"
        if not campaigns:
            return {}
        quota = self.sending_mailboxes(now, backoff, only, exclude)
        if not quota:
            return {}
        accounts = {a.id: a for a in Account.select().where(Account.id.in_(list(quota)))}
        unresolved = SendRecord.select(SendRecord.lead).where(SendRecord.state == SendState.SENDING)
        batches: dict[int, list[Dispatch]] = {}
        for account_id, limit in quota.items():
            query = (
                Lead.select(Lead, Step)
                .join(Step, on=((Step.campaign == Lead.campaign)
                                & (Step.position == Lead.cursor)), attr="step")
                .switch(Lead)
                .join(CampaignMailbox, on=((CampaignMailbox.campaign == Lead.campaign)
                                           & (CampaignMailbox.account == Lead.mailbox)))
                .where(
                    (Lead.mailbox == account_id)
                    & CampaignMailbox.active
                    & Lead.campaign.in_(campaigns)
                    & Lead.state.in_(SENDABLE_STATES)
                    & Lead.flag.is_null()
                    & (Lead.next_due_at.is_null() | (Lead.next_due_at <= now))
                    & Lead.id.not_in(unresolved)
                )
                .order_by(Lead.next_due_at.asc(nulls="first"), Lead.id)
                .limit(limit)
            )
            batch = [Dispatch(lead, lead.step, accounts[account_id]) for lead in query]
            if batch:
                batches[account_id] = batch
        return batches


# --- after a send ---------------------------------------------------------------------------

def bounded_delay(days: object) -> float:
    """A step's delay as a date can hold it: 0 to MAX_DELAY_DAYS (a value stored before input
    was bounded, e.g. Infinity, becomes the longest delay rather than an OverflowError)."""
    try:
        value = float(days)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return float(MAX_DELAY_DAYS)
    if value != value or value > MAX_DELAY_DAYS:  # NaN or too long
        return float(MAX_DELAY_DAYS)
    return max(0.0, value)


def step_delays(campaign_id: int) -> list[float]:
    return [bounded_delay(d) for (d,) in Step.select(Step.delay_days)
            .where(Step.campaign == campaign_id).order_by(Step.position).tuples()]


def advance_lead(lead_id: int, step_position: int, message_id: str, subject: str,
                 now: datetime, delays: list[float]) -> bool:
    """The lead got step `step_position`: move its cursor past it exactly once. The next step is
    due `delay_days` after now; after the last step the lead is `completed`. Returns False when
    the cursor had already moved (nothing changes then). Call inside the send's transaction."""
    after = step_position + 1
    finished = after >= len(delays)
    values: dict[pw.Field, object] = {
        Lead.cursor: after,
        Lead.messages_sent: Lead.messages_sent + 1,
        Lead.last_message_id: message_id,
        Lead.next_due_at: None if finished else now + timedelta(days=bounded_delay(
            delays[after])),
        Lead.updated_at: now,
        # A reply or bounce noticed meanwhile wins over the sequence's own states; a halted lead
        # stays halted (its place is kept) unless nothing is left to send.
        Lead.state: pw.Case(None, [(Lead.state.in_(OPEN_STATES if finished
                                                   else SENDABLE_STATES),
                                    LeadState.COMPLETED if finished else LeadState.ACTIVE)],
                            Lead.state),
    }
    if step_position == 0:
        values[Lead.first_subject] = subject
    changed = Lead.update(values).where((Lead.id == lead_id) & (Lead.cursor == step_position))
    return bool(changed.execute())
