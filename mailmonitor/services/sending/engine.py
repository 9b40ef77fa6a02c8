"""The sending engine: settle interrupted sends, plan a round, send each mailbox's batch, apply
what the servers said to the accounts. Clock, randomness, SMTP transport and server lookups are
injectable, so a test drives whole campaigns in simulated days without sleeping.

`run_once()` does one round synchronously (tests, benchmarks). The background work
(services/desktop/background.py) calls the parts itself: `plan()` and `apply()` on the event
loop's thread (account status changes happen there, like the monitor's), `send()` in worker
threads — each mailbox on its own, so `plan`, `needs_reconcile` and `reconcile` take the
mailboxes whose batch is in flight (`busy`) and leave them alone.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import peewee as pw

from mailmonitor.clock import Clock
from mailmonitor.events import ATTENTION_DIRTY, bus
from mailmonitor.logsetup import redact
from mailmonitor.models import Account, SendRecord, get_setting
from mailmonitor.models.states import SendState
from mailmonitor.services.campaigns import rules
from mailmonitor.services.deliverability import bounce_guard, send_outcomes
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.services.monitoring.checker import (
    CredentialsFn,
    TokenProvider,
    credentials_with,
)
from mailmonitor.services.monitoring.sending_limits import apply_sending_limit
from mailmonitor.services.monitoring.status_rules import backoff_delay
from mailmonitor.services.sending import sendlog
from mailmonitor.services.sending.mailbox import app_saves_sent_copy
from mailmonitor.services.sending.reconcile import (
    DEFAULT_SETTLE,
    Lookup,
    ReconcileReport,
    reconcile_pending,
    server_lookup,
)
from mailmonitor.services.sending.replies import last_polled
from mailmonitor.services.sending.scheduler import DEFAULT_MAX_BATCH, Dispatch, Scheduler
from mailmonitor.services.sending.sender import (
    SENDER,
    BatchResult,
    BatchSender,
    SmtpTransport,
)

log = logging.getLogger(__name__)

SENDER_REFUSED_BACKOFF = timedelta(minutes=60)  # the server refuses this mailbox's mail for now
RECONCILE_RETRY = timedelta(minutes=1)  # asking the server again about a send still unsettled


def record_send_problem(account_id: int, kind: str | None, text: str | None, now: datetime
                        ) -> None:
    """A mailbox's sending stopped for a reason that is not its status ("refused": the server
    refuses to send for now; "error": a batch failed unexpectedly), or works again (None).
    State only: the attention model says what it means; an unchanged problem writes nothing."""
    query = Account.update(send_problem_kind=kind, send_problem=text,
                           send_problem_at=now if kind else None).where(Account.id == account_id)
    if kind is None:
        query = query.where(Account.send_problem_kind.is_null(False))
    else:
        query = query.where(Account.send_problem_kind.is_null()
                            | (Account.send_problem_kind != kind)
                            | (Account.send_problem != text))
    if query.execute():
        bus.emit(ATTENTION_DIRTY)


@dataclass
class RoundReport:
    reconciled: ReconcileReport | None = None
    batches: list[BatchResult] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(b.sent for b in self.batches)


class SendingEngine:
    def __init__(
        self,
        clock: Clock,
        *,
        credentials: CredentialsFn | None = None,
        token_provider: TokenProvider | None = None,
        timeout: float | None = None,
        rng: random.Random | None = None,
        jitter: float = 0.1,
        max_batch: int = DEFAULT_MAX_BATCH,
        transport_factory: Callable[..., Any] = SmtpTransport,
        save_copy: Callable[[Account], bool] = app_saves_sent_copy,
        lookup: Lookup | None = None,
        settle: timedelta = DEFAULT_SETTLE,
        read_replies: Callable[[int], bool] | None = None,
    ) -> None:
        self.clock = clock
        self.timeout = float(timeout if timeout is not None
                             else get_setting("connection_timeout_seconds"))
        # OAuth mailboxes log in with tokens from `token_provider` (see services.auth.tokens).
        credentials = credentials or credentials_with(token_provider)
        self.credentials = credentials
        self.scheduler = Scheduler(rng=rng, jitter=jitter, max_batch=max_batch)
        self.stop = threading.Event()  # set: finish the send in flight, start no other
        self.sender = BatchSender(clock, credentials, self.timeout, transport_factory,
                                  save_copy, self.stop)
        self.lookup = lookup or server_lookup(credentials, self.timeout)
        self.settle = settle
        self.backoff: dict[int, datetime] = {}  # account id -> no sends before
        # Several copies on one database (services/team): the mailboxes this copy serves
        # (None: all) and the send fence. Set by BackgroundWork in team mode.
        self.serves: Callable[[], Collection[int] | None] = lambda: None
        self._next_reconcile: datetime | None = None
        self.failures: dict[int, int] = {}
        # Reads one mailbox's INBOX for replies now (replies.ReplyReader.poll); None: the
        # caller reads replies itself (unit tests of the engine alone).
        self.read_replies = read_replies
        self._unread_until: dict[int, datetime] = {}  # inbox could not be read: retry after

    # --- parts ---------------------------------------------------------------------------------

    def _settling(self, busy: Collection[int]) -> Collection[int] | None:
        """The mailboxes whose interrupted sends this engine may settle now: those it serves,
        less those with a batch in flight (their `sending` records are not interrupted)."""
        served = self.serves()
        if not busy:
            return served
        if served is None:
            served = [a for (a,) in Account.select(Account.id).tuples()]
        return [a for a in served if a not in busy]

    def settle_unsent(self) -> int:
        """Sends whose hand-over could not be recorded because the team database went away:
        their end of data was never written, so the server discarded them — whatever the
        database says about the hand-over (its COMMIT may have landed without an answer). They
        are marked not sent (the lead gets the step again) instead of being looked up."""
        ids = self.sender.take_unsent()
        if not ids:
            return 0
        now = self.clock.now()
        try:
            records = list(SendRecord.select().where(SendRecord.id.in_(list(ids))
                                                     & (SendRecord.state == SendState.SENDING)))
            for record in records:
                sendlog.mark_failed(record, f"{sendlog.INTERRUPTED}: the team database went "
                                    "away before the hand-over was recorded, so the end of "
                                    "the message was never sent; it is sent again", now)
                ids.discard(record.id)
            ids.clear()
        finally:
            self.sender.put_back_unsent(ids)  # what is left if the database failed again
        return len(records)

    def needs_reconcile(self, busy: Collection[int] = ()) -> bool:
        """Are there interrupted sends to settle now? While some wait (server unreachable, or
        settling), the server is asked again at most every minute (or every settle delay)."""
        if self._next_reconcile is not None and self.clock.now() < self._next_reconcile:
            return False
        query = SendRecord.select().where(SendRecord.state == SendState.SENDING)
        accounts = self._settling(busy)
        if accounts is not None:
            query = query.where(SendRecord.account.in_(list(accounts)))
        return bool(query.exists())

    def reconcile(self, busy: Collection[int] = ()) -> ReconcileReport:
        """Settle sends left `sending`, except those of the `busy` mailboxes (a batch of theirs
        is in flight)."""
        now = self.clock.now()
        report = reconcile_pending(now, self.lookup, self.settle, accounts=self._settling(busy))
        retry = min(self.settle, RECONCILE_RETRY)
        self._next_reconcile = now + retry if report.waiting else None
        return report

    def apply_reconcile(self, report: ReconcileReport) -> None:
        """On the loop's thread: campaigns whose interrupted sends could not be settled because
        of an unexpected error are paused (their records wait; the others go on)."""
        self.pause_broken_campaigns(report.campaign_errors)

    def plan(self, busy: Collection[int] = ()) -> dict[int, list[Dispatch]]:
        """The next batch of each served mailbox that may send now, `busy` ones left out."""
        batches = self.scheduler.plan(self.clock.now(), self.backoff, only=self.serves(),
                                      exclude=busy)
        self.pause_broken_campaigns(self.scheduler.campaign_errors)
        return batches

    def pause_broken_campaigns(self, errors: dict[int, str]) -> None:
        """Campaigns that failed unexpectedly are paused with an alert; the others go on."""
        now = self.clock.now()
        for campaign_id, error in list(errors.items()):
            errors.pop(campaign_id, None)
            try:
                rules.pause_after_error(campaign_id, error, now)
            except Exception:
                log.exception("could not pause campaign %s after: %s", campaign_id, error)

    def batch_crashed(self, account_id: int, exc: BaseException) -> None:
        """A whole batch failed unexpectedly: that mailbox waits an hour, with an alert; its
        status is not touched (nothing says the mailbox is at fault) and the others go on."""
        now = self.clock.now()
        if isinstance(exc, pw.DatabaseError):  # busy ("database is locked"): soon again
            self.backoff[account_id] = now + RECONCILE_RETRY
            return
        self.backoff[account_id] = now + SENDER_REFUSED_BACKOFF
        record_send_problem(account_id, "error", redact(f"{type(exc).__name__}: {exc}")[:300],
                            now)

    def inboxes_to_read_first(self, plan: dict[int, list[Dispatch]]) -> list[int]:
        """Mailboxes whose INBOX must be read before their batch: no follow-up goes to a lead
        before the replies that arrived before that step's due time were read, so a mailbox
        whose last poll is older than a planned follow-up's due time is read first (at start,
        after the computer slept or was offline, after any pause of the reply loop)."""
        if self.read_replies is None:
            return []
        polled = last_polled(list(plan))
        now = self.clock.now()
        stale = []
        for account_id, batch in plan.items():
            dues = [d.lead.next_due_at or now for d in batch if d.lead.cursor > 0]
            last = polled.get(account_id)
            if dues and (last is None or last < max(dues)):
                stale.append(account_id)
        return stale

    def after_reading(self, plan: dict[int, list[Dispatch]], read: dict[int, bool],
                      busy: Collection[int] = ()) -> dict[int, list[Dispatch]]:
        """The plan again once the inboxes were read (replied and bounced leads drop out). A
        mailbox whose INBOX could not be read sends no follow-up for a minute (first emails
        still go); the monitor reports on its connection."""
        if not read:
            return plan
        now = self.clock.now()
        for account_id, ok in read.items():
            if ok:
                self._unread_until.pop(account_id, None)
            else:
                self._unread_until[account_id] = now + RECONCILE_RETRY
        return self.hold_unread(self.plan(busy))

    def hold_unread(self, plan: dict[int, list[Dispatch]]) -> dict[int, list[Dispatch]]:
        now = self.clock.now()
        held = {a for a, until in self._unread_until.items() if until > now}
        result = {}
        for account_id, batch in plan.items():
            if account_id in held:
                batch = [d for d in batch if d.lead.cursor == 0]
            if batch:
                result[account_id] = batch
        return result

    def inboxes_to_read_now(self, plan: dict[int, list[Dispatch]]) -> list[int]:
        """`inboxes_to_read_first`, less those that just failed to be read (retried later)."""
        now = self.clock.now()
        return [a for a in self.inboxes_to_read_first(plan)
                if self._unread_until.get(a, now) <= now]

    def plan_after_reading_replies(self) -> dict[int, list[Dispatch]]:
        """`plan()`, with the inboxes read first where needed (synchronously)."""
        plan = self.hold_unread(self.plan())
        stale = self.inboxes_to_read_now(plan)
        if not stale or self.read_replies is None:
            return plan
        return self.after_reading(plan, {a: self.read_replies(a) for a in stale})

    def send(self, account_id: int, batch: list[Dispatch]) -> BatchResult:
        return self.sender.send_batch(account_id, batch)

    def apply(self, results: list[BatchResult]) -> None:
        """What the batches learnt about their mailboxes: a rejected sign-in disconnects the
        account at once (its leads halt); temporary trouble makes the mailbox wait a while."""
        now = self.clock.now()
        for result in results:
            self.pause_broken_campaigns(result.campaign_errors)
            if result.blocked is not None:
                account = Account.get_by_id(result.account_id)
                send_outcomes.hold_for_refusals(account, *result.blocked, now)
            if result.bounced:
                bounce_guard.evaluate(Account.get_by_id(result.account_id), now)
            if result.account_problem is not None:
                status, reason, detail = result.account_problem
                account = Account.get_by_id(result.account_id)
                log.warning("sending from %s stopped: %s (%s)", account.email, reason, detail)
                update_status(account, status, reason, detail, now)
                self.failures.pop(result.account_id, None)
                self.backoff.pop(result.account_id, None)
            elif result.back_off is not None:
                count = self.failures.get(result.account_id, 0) + 1
                self.failures[result.account_id] = count
                # Sends failing for a temporary reason wait on the monitor's ladder.
                wait = SENDER_REFUSED_BACKOFF if result.back_off == SENDER else \
                    backoff_delay(count)
                self.backoff[result.account_id] = now + wait
                log.info("mailbox %s waits %s after: %s", result.account_id, wait, result.error)
                if result.back_off == SENDER:
                    account = Account.get_by_id(result.account_id)
                    until = apply_sending_limit(account, result.error or "", now)
                    if until is not None:  # a quota: its own status until it resumes
                        self.backoff[result.account_id] = until
                        continue
                    record_send_problem(account.id, "refused", result.error or "", now)
            elif result.sent:
                self.failures.pop(result.account_id, None)
                self.backoff.pop(result.account_id, None)
                record_send_problem(result.account_id, None, None, now)

    # --- one round, synchronously --------------------------------------------------------------

    def run_once(self) -> RoundReport:
        report = RoundReport()
        self.settle_unsent()
        if self.needs_reconcile():
            report.reconciled = self.reconcile()
            self.apply_reconcile(report.reconciled)
        for account_id, batch in self.plan_after_reading_replies().items():
            if self.stop.is_set():
                break
            try:
                report.batches.append(self.send(account_id, batch))
            except pw.DatabaseError:
                raise
            except Exception as exc:
                log.exception("the batch of mailbox %s failed", account_id)
                self.batch_crashed(account_id, exc)
        self.apply(report.batches)
        return report

    def run_until_idle(self, max_rounds: int = 1000) -> int:
        """Rounds until nothing more is sent now (tests); returns the number of emails sent."""
        total = 0
        for _ in range(max_rounds):
            sent = self.run_once().sent
            total += sent
            if not sent:
                break
        return total
