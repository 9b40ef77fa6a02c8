"""The sending engine: settle interrupted sends, plan a round, send each mailbox's batch, apply
what the servers said to the accounts. Clock, randomness, SMTP transport and server lookups are
injectable, so a test drives whole campaigns in simulated days without sleeping.

`run_once()` does one round synchronously (tests, benchmarks). The headless runner calls the
parts itself: `plan()` and `apply()` on the event loop's thread (account status changes happen
there, like the monitor's), `send()` in worker threads.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mailmonitor.clock import Clock
from mailmonitor.models import Account, SendRecord, get_setting
from mailmonitor.services.alerts import registry as alerts
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.services.monitoring.checker import credentials_for
from mailmonitor.services.sending.mailbox import app_saves_sent_copy
from mailmonitor.services.sending.reconcile import (
    DEFAULT_SETTLE,
    Lookup,
    ReconcileReport,
    reconcile_pending,
    server_lookup,
)
from mailmonitor.services.sending.scheduler import DEFAULT_MAX_BATCH, Dispatch, Scheduler
from mailmonitor.services.sending.sender import (
    SENDER,
    BatchResult,
    BatchSender,
    CredentialsFn,
    SmtpTransport,
)

log = logging.getLogger(__name__)

BACKOFF_MINUTES = (1, 5, 15, 60)  # a mailbox whose sends fail for a temporary reason
SENDER_REFUSED_BACKOFF = timedelta(minutes=60)  # the server refuses this mailbox's mail for now
RECONCILE_RETRY = timedelta(minutes=1)  # asking the server again about a send still unsettled


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
        credentials: CredentialsFn = credentials_for,
        timeout: float | None = None,
        rng: random.Random | None = None,
        jitter: float = 0.1,
        max_batch: int = DEFAULT_MAX_BATCH,
        transport_factory: Callable[..., Any] = SmtpTransport,
        save_copy: Callable[[Account], bool] = app_saves_sent_copy,
        lookup: Lookup | None = None,
        settle: timedelta = DEFAULT_SETTLE,
    ) -> None:
        self.clock = clock
        self.timeout = float(timeout if timeout is not None
                             else get_setting("connection_timeout_seconds"))
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

    # --- parts ---------------------------------------------------------------------------------

    def needs_reconcile(self) -> bool:
        """Are there interrupted sends to settle now? While some wait (server unreachable, or
        settling), the server is asked again at most every minute (or every settle delay)."""
        if self._next_reconcile is not None and self.clock.now() < self._next_reconcile:
            return False
        query = SendRecord.select().where(SendRecord.state == "sending")
        served = self.serves()
        if served is not None:
            query = query.where(SendRecord.account.in_(list(served)))
        return bool(query.exists())

    def reconcile(self) -> ReconcileReport:
        """Settle sends left `sending` (call only while no batch of this engine is running)."""
        now = self.clock.now()
        report = reconcile_pending(now, self.lookup, self.settle, accounts=self.serves())
        retry = min(self.settle, RECONCILE_RETRY)
        self._next_reconcile = now + retry if report.waiting else None
        return report

    def plan(self) -> dict[int, list[Dispatch]]:
        return self.scheduler.plan(self.clock.now(), self.backoff, only=self.serves())

    def send(self, account_id: int, batch: list[Dispatch]) -> BatchResult:
        return self.sender.send_batch(account_id, batch)

    def apply(self, results: list[BatchResult]) -> None:
        """What the batches learnt about their mailboxes: a rejected sign-in disconnects the
        account at once (its leads halt); temporary trouble makes the mailbox wait a while."""
        now = self.clock.now()
        for result in results:
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
                wait = SENDER_REFUSED_BACKOFF if result.back_off == SENDER else \
                    timedelta(minutes=BACKOFF_MINUTES[min(count, len(BACKOFF_MINUTES)) - 1])
                self.backoff[result.account_id] = now + wait
                log.info("mailbox %s waits %s after: %s", result.account_id, wait, result.error)
                if result.back_off == SENDER:
                    account = Account.get_by_id(result.account_id)
                    alerts.raise_alert(
                        alerts.account_key(account, "send_refused"), "send_refused",
                        f"The server refuses to send mail from {account.email} for now",
                        f"It said: {result.error}. mailmonitor tries again in an hour; the "
                        "leads keep their place.", now, severity="warning", account=account)
            elif result.sent:
                self.failures.pop(result.account_id, None)
                self.backoff.pop(result.account_id, None)
                alerts.resolve_alert(alerts.account_key(result.account_id, "send_refused"), now)

    # --- one round, synchronously --------------------------------------------------------------

    def run_once(self) -> RoundReport:
        report = RoundReport()
        if self.needs_reconcile():
            report.reconciled = self.reconcile()
        for account_id, batch in self.plan().items():
            if self.stop.is_set():
                break
            report.batches.append(self.send(account_id, batch))
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
