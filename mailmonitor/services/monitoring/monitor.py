"""The background monitor (spec §3): each account on its interval with jitter, a global
concurrency limit, blocking probes in worker threads with timeouts, one confirming re-check
before a rejected credential is alerted, offline handling and wake-from-sleep sweeps.

Runs on any asyncio loop: qasync in the window, plain asyncio for `check` and `run --headless`.
Database writes happen on the loop's thread; only the probes run in threads."""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from mailmonitor.clock import Clock, SystemClock
from mailmonitor.events import CHECK_FINISHED, CHECK_STARTED, bus
from mailmonitor.models import (
    Account,
    Check,
    active_accounts,
    emails_match,
    get_setting,
    set_setting,
)
from mailmonitor.models.database import is_fatal_database_error
from mailmonitor.models.fast_sql import select_fields, select_many_fields
from mailmonitor.services.auth.secrets import SecretStoreError
from mailmonitor.services.campaigns.lifecycle import run_housekeeping
from mailmonitor.services.common.reasons import CREDENTIAL_REASONS, Status
from mailmonitor.services.monitoring.account_state import (
    CheckToRecord,
    ProbeLike,
    record_checks,
    update_status,
)
from mailmonitor.services.monitoring.checker import CheckFn, TokenProvider, check_with
from mailmonitor.services.monitoring.login_budget import LoginBudget, ServerTurns, default_budget
from mailmonitor.services.monitoring.network import is_local_account
from mailmonitor.services.monitoring.status_rules import Outcome, combine

if TYPE_CHECKING:
    import asyncio

# asyncio is imported where it is used: `check` (sweep_blocking: a plain pool of threads) does
# not need it, and importing it costs a twentieth of its start-up (issue 22).

log = logging.getLogger(__name__)

BATCH = 32  # `sweep_blocking` records answers in batches of up to this many
BATCH_SECONDS = 0.1  # or of those that arrived, at the latest this often
KEYRING_PROBLEM_SETTING = "keyring_problem"  # {"text", "since"} while the keyring fails
# What a check's recording depends on, read again right before it is written.
STATE_FIELDS = (Account.status, Account.reason, Account.removed_at, Account.detached_at,
                Account.consecutive_failures, Account.transient_since, Account.status_since,
                Account.disconnected_since, Account.check_interval_seconds,
                Account.cert_expires_at, Account.monitoring_enabled)
T = TypeVar("T")


def needs_confirming(account: Account, imap: ProbeLike, smtp: ProbeLike) -> bool:
    """A refused sign-in the account did not already have is checked once more before it is
    believed (a provider's passing hiccup must not disconnect a mailbox)."""
    merged = combine(Outcome(imap.status, imap.reason), Outcome(smtp.status, smtp.reason))
    already = (account.status, account.reason) == (merged.status, merged.reason)
    return merged.reason in CREDENTIAL_REASONS and not already


def sign_in_unproven(account: Account, password: str | None) -> bool:
    """Is this check's sign-in untried: a new mailbox, one that is disconnected, or a password
    typed now? (Its checks take turns per server: `login_budget.ServerTurns`.)"""
    return password is not None or account.status in (Status.CHECKING, Status.DISCONNECTED)


def servers_of(account: Account) -> frozenset[str]:
    return frozenset(h.lower() for h in (account.imap_host, account.smtp_host) if h)


def read_state(account_id: int) -> dict[str, Any] | None:
    """The account's state fields as stored now (None: no such account); a sweep reads
    hundreds, so their SQL is rendered once."""
    return select_fields(Account, tuple(f.name for f in STATE_FIELDS), account_id)


def read_states(account_ids: list[int]) -> dict[int, dict[str, Any]]:
    """`read_state` of each (by id; an account that is gone is missing), in one query."""
    if len(account_ids) == 1:
        found = read_state(account_ids[0])
        return {} if found is None else {account_ids[0]: found}
    return select_many_fields(Account, tuple(f.name for f in STATE_FIELDS), account_ids)


class Monitor:
    """Signals (through `mailmonitor.events.bus`): check_started, account_changed.

    `check_fn` defaults to the real probes, logging in to OAuth accounts with `token_provider`
    (None: this process cannot sign in to Google/Microsoft, and says so for those accounts),
    every sign-in gated by the login budget (`budget`: the process's on the system clock, or
    one on the monitor's clock; `login_budget`)."""

    def __init__(
        self,
        clock: Clock | None = None,
        check_fn: CheckFn | None = None,
        max_concurrency: int | None = None,
        is_online: Callable[[], bool] = lambda: True,
        tick_seconds: float = 5.0,
        jitter: float = 0.1,
        token_provider: TokenProvider | None = None,
        budget: LoginBudget | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        if budget is None:
            budget = default_budget() if isinstance(self.clock, SystemClock) \
                else LoginBudget(self.clock)
        self.budget = budget
        self.turns = ServerTurns(budget)
        self.check_fn = check_fn or check_with(token_provider, budget)
        self.max_concurrency = max_concurrency or int(get_setting("max_concurrent_checks"))
        self.executor = ThreadPoolExecutor(max_workers=self.max_concurrency,
                                           thread_name_prefix="check")
        self.is_online = is_online
        self.tick_seconds = tick_seconds
        self.jitter = jitter
        self.in_flight: set[int] = set()
        self._settled: dict[int, asyncio.Event] = {}  # set when that account's check ends
        self._tasks: set[asyncio.Task[Any]] = set()
        self._was_online = True
        self.last_housekeeping: datetime | None = None
        self._keyring_failing = True  # clear a keyring problem of an earlier run once
        # Called when the database cannot be used any more (damaged, disk full): the owner stops.
        self.on_fatal: Callable[[BaseException], None] | None = None
        # Team database: the mailboxes this copy serves (None: all). A copy never checks a
        # mailbox another copy serves (without its secret it would report it disconnected).
        self.serves: Callable[[], Collection[int] | None] = lambda: None
        # Team database: True while it is unreachable (no tick runs: every check would fail
        # to be recorded); `on_database_error(exc)` is True when an error meant exactly that
        # (the owner holds everything and says so once: services/team/reachability.py).
        self.held: Callable[[], bool] = lambda: False
        self.on_database_error: Callable[[BaseException], bool] | None = None

    @functools.cached_property
    def semaphore(self) -> asyncio.Semaphore:
        """The global concurrency limit of the event loop's checks."""
        import asyncio

        return asyncio.Semaphore(self.max_concurrency)

    @functools.cached_property
    def _stopping(self) -> asyncio.Event:
        import asyncio

        return asyncio.Event()

    @functools.cached_property
    def _write_lock(self) -> asyncio.Lock:
        import asyncio

        return asyncio.Lock()

    @property
    def timeout(self) -> float:
        return float(get_setting("connection_timeout_seconds"))

    async def _probe(self, account: Account, password: str | None
                     ) -> tuple[ProbeLike, ProbeLike]:
        import asyncio

        loop = asyncio.get_running_loop()
        timeout = self.timeout
        # Each probe bounds its own steps; this outer bound catches a library that ignores them.
        return await asyncio.wait_for(
            loop.run_in_executor(self.executor, self.check_fn, account, password, timeout),
            timeout=timeout * 6 + 5,
        )

    def _probe_confirmed(self, account: Account, password: str | None, trigger: str,
                         timeout: float) -> tuple[ProbeLike, ProbeLike, str]:
        """`sweep_blocking`'s probes in a worker thread: both sides, and the one confirming
        re-check `check_account` makes (an untried sign-in after its server's turn). Returns the
        answers and the trigger they are recorded under. `timeout`: read by the sweep (a worker
        thread reads nothing from the database)."""
        servers = servers_of(account)
        turn = sign_in_unproven(account, password) and \
            self.turns.enter(servers, self._bound(timeout))
        try:
            imap, smtp = self.check_fn(account, password, timeout)
            if needs_confirming(account, imap, smtp):
                log.info("confirming the refused sign-in of %s", account.email)
                imap, smtp = self.check_fn(account, password, timeout)
                return imap, smtp, f"{trigger}+confirm"
            return imap, smtp, trigger
        finally:
            if turn:
                self.turns.leave(servers)

    @property
    def check_bound(self) -> float:
        """A check with its confirming re-check: two probes, each bounded as in `_probe`."""
        return self._bound(self.timeout)

    @staticmethod
    def _bound(timeout: float) -> float:
        return (timeout * 6 + 5) * 2

    async def check_account(self, account_id: int, trigger: str = "manual",
                            password: str | None = None, row: Account | None = None
                            ) -> Check | None:
        """Check one account now and record the result; None if it was already in flight.
        `row`: the account as a sweep just read it (one query for all; else it is read here)."""
        import asyncio

        if account_id in self.in_flight:
            return None
        self.in_flight.add(account_id)
        turn: frozenset[str] = frozenset()
        try:
            account = row if row is not None else Account.get_by_id(account_id)
            self.budget.sync()  # every copy's failed logins of the last minutes
            if sign_in_unproven(account, password) and await self.turns.enter_async(
                    servers_of(account), self.check_bound):
                turn = servers_of(account)
            async with self.semaphore:
                bus.emit(CHECK_STARTED, account_id)
                imap, smtp = await self._probe(account, password)
                if needs_confirming(account, imap, smtp):
                    # One confirming re-check (RFC 5530 allows it; a loop it is not).
                    log.info("confirming the refused sign-in of %s", account.email)
                    imap, smtp = await self._probe(account, password)
                    trigger = f"{trigger}+confirm"
            if turn:
                self.turns.leave(turn)
                turn = frozenset()
            # One write at a time, each in its own loop iteration: when many checks finish
            # together, their writes (a few ms each) must not run back to back and stall the
            # window's event loop.
            async with self._write_lock:
                await asyncio.sleep(0)
                check = self._record(account, imap, smtp, trigger)
                self.budget.sync()  # its failed logins, for every copy
                return check
        except TimeoutError:
            log.warning("check of account %s overran its bound", account_id)
            return None
        except SecretStoreError as exc:
            # This computer's keyring, not the mailbox: its status stays; tried again later.
            self.keyring_problem(account_id, str(exc))
            return None
        except Exception as exc:
            if self.on_database_error is not None and self.on_database_error(exc):
                return None  # not recorded: checked again once the database is back
            raise
        finally:
            if turn:
                self.turns.leave(turn)
            self.in_flight.discard(account_id)
            settled = self._settled.pop(account_id, None)
            if settled is not None:
                settled.set()
            bus.emit(CHECK_FINISHED, account_id)

    def _record(self, account: Account, imap: ProbeLike, smtp: ProbeLike, trigger: str
                ) -> Check | None:
        """Store a check's answers (on the thread that owns the status writes). The rep may
        have changed the account meanwhile: its state is read again (a light query; saving
        writes only the fields the check sets); a mailbox stopped or removed meanwhile keeps
        no result."""
        found = self._record_many([(account, imap, smtp, trigger)])
        return found[0] if found else None

    def _record_many(self, answers: list[tuple[Account, ProbeLike, ProbeLike, str]]
                     ) -> list[Check]:
        """`_record` of each, in one transaction (`record_checks`), their states read again
        in one query."""
        fresh = read_states([account.id for account, *_ in answers])
        checks: list[CheckToRecord] = []
        for account, imap, smtp, trigger in answers:
            state = fresh.get(account.id)
            if state is None or state["status"] == Status.STOPPED \
                    or state["removed_at"] is not None:
                continue
            account.__data__.update(state)  # as read, not as changed (nothing dirty)
            checks.append((account, imap, smtp, trigger, self.clock.now()))
        if not checks:
            return []
        if self._keyring_failing:
            self._keyring_failing = False
            if get_setting(KEYRING_PROBLEM_SETTING):
                set_setting(KEYRING_PROBLEM_SETTING, None)
        return record_checks(checks)

    def _record_batch(self, answers: list[tuple[Account, ProbeLike, ProbeLike, str]]
                      ) -> list[Check]:
        """`sweep_blocking`'s recording of the answers that arrived together. Should one of
        them fail to be recorded, the transaction is rolled back and each is recorded on its
        own, as the accounts are stored now: every other one is kept, then the first error is
        raised (a database that cannot be written at all raises at once)."""
        try:
            return self._record_many(answers)
        except Exception as exc:
            if len(answers) == 1 or is_fatal_database_error(exc):
                raise
            log.warning("recording %d checks together failed (%s): one by one",
                        len(answers), exc)
        results: list[Check] = []
        error: Exception | None = None
        for account, imap, smtp, trigger in answers:
            try:
                stored = Account.get_or_none(Account.id == account.id)
                check = None if stored is None else self._record(stored, imap, smtp, trigger)
            except Exception as exc:
                if is_fatal_database_error(exc):
                    raise
                error = error or exc
                continue
            if check is not None:
                results.append(check)
        if error is not None:
            raise error
        return results

    def sweep_blocking(self, emails: list[str] | None = None, trigger: str = "cli",
                       tail: Callable[[], object] | None = None) -> list[Check]:
        """`sweep` for a command that has nothing else to do: the probes (and a confirming
        re-check) run in a plain pool of `max_concurrency` threads; this thread records the
        answers — no event loop between them (measured: its per-check plumbing cost `check`
        about a tenth over a bare client). Same rules as `sweep`.

        The answers are recorded in batches (`record_checks`: one transaction, a few
        statements): each time `BATCH` of them have arrived, at the latest every
        `BATCH_SECONDS`, and when the last one arrives. One transaction per answer cost a tenth of
        `check`'s time against a fast server (issue 22: each statement hands the interpreter
        lock to the probes' threads and waits to get it back). A crash loses the answers of
        the batch not yet written, as it loses the checks still running.

        `tail`, if given, runs once on this thread when the last probes are all under way (no
        mailbox waits for a thread any more): what the caller does after the sweep, prepared
        while the interpreter has less to do. Its failure is logged and changes nothing."""
        self.budget.sync(force=True)
        timeout = self.timeout
        results: list[Check] = []
        # Each answer is handed over as it arrives (concurrent.futures.wait would install a
        # waiter on every pending future for each answer: quadratic in the mailboxes); this
        # thread wakes for a batch, not for each.
        finished: queue.SimpleQueue[Future[tuple[ProbeLike, ProbeLike, str]]] = \
            queue.SimpleQueue()
        ready = threading.Event()
        lock = threading.Lock()
        waiting = [0]  # answers arrived and not yet taken

        def arrived(future: Future[tuple[ProbeLike, ProbeLike, str]]) -> None:
            with lock:
                finished.put(future)
                waiting[0] += 1
                if waiting[0] >= min(BATCH, len(pending)):
                    ready.set()

        pending: dict[Future[tuple[ProbeLike, ProbeLike, str]], Account] = {}
        # Each mailbox's probes start as soon as its row is read (500 rows: 15 ms); a pool's
        # worth of rows is read before any starts, so that those start together (read while
        # probes run, each row waits for the interpreter lock: the 16th probe started 15-70 ms
        # after the first, issue 22).
        rows = self._each_sweep_row(emails)
        for account in itertools.chain(list(itertools.islice(rows, self.max_concurrency)), rows):
            future = self.executor.submit(self._probe_confirmed, account, None, trigger,
                                          timeout)
            pending[future] = account
        for future in list(pending):
            future.add_done_callback(arrived)
        deadline = time.monotonic() + self._bound(timeout) * (
            len(pending) / self.max_concurrency + 1)
        while pending:
            left = deadline - time.monotonic()
            ready.wait(timeout=max(0.0, min(left, BATCH_SECONDS)))
            batch: list[Future[tuple[ProbeLike, ProbeLike, str]]] = []
            with lock:
                ready.clear()
                while True:
                    try:
                        batch.append(finished.get_nowait())
                    except queue.Empty:
                        break
                waiting[0] -= len(batch)
            if not batch:
                if time.monotonic() < deadline:
                    continue
                # A library that ignored every bound: say so, record the rest.
                for late, account in pending.items():
                    late.cancel()
                    log.warning("check of account %s overran its bound", account.id)
                break
            answers: list[tuple[Account, ProbeLike, ProbeLike, str]] = []
            for future in batch:
                account = pending.pop(future)
                try:
                    imap, smtp, how = future.result()
                except SecretStoreError as exc:
                    self.keyring_problem(account.id, str(exc))
                    continue
                answers.append((account, imap, smtp, how))
            if answers:
                results.extend(self._record_batch(answers))
                self.budget.sync()  # their failed logins, for every copy
            if tail is not None and len(pending) <= self.max_concurrency:
                try:
                    tail()
                except Exception:
                    log.exception("preparing what follows the sweep failed")
                tail = None
        return results

    def _sweep_rows(self, emails: list[str] | None) -> list[Account]:
        return list(self._each_sweep_row(emails))

    def _each_sweep_row(self, emails: list[str] | None) -> Iterator[Account]:
        """The accounts a sweep checks, each as it is read."""
        query = active_accounts().where(Account.status != Status.STOPPED)
        if emails:
            query = query.where(emails_match(emails))
        served = self.serves()
        for account in query.order_by(Account.id).iterator():
            if served is None or account.id in served:
                yield account

    def keyring_problem(self, account_id: int, message: str) -> None:
        now = self.clock.now()
        log.warning("check of account %s skipped: %s", account_id, message)
        account = Account.get_by_id(account_id)
        Account.update(next_check_at=now + timedelta(seconds=account.check_interval_seconds)
                       ).where(Account.id == account_id).execute()
        self._keyring_failing = True
        known = get_setting(KEYRING_PROBLEM_SETTING) or {}
        if known.get("text") != message:
            set_setting(KEYRING_PROBLEM_SETTING, {
                "text": message, "since": known.get("since") or now.isoformat()})

    async def store_test(self, account_id: int, write: Callable[[], T]) -> T:
        """Store a connection test that ran outside the monitor (the reconnect wizard, adding
        a mailbox) with `write`, on the loop's thread: after any check of the account already
        in flight (its older answer must not land after the new one), and with no check of it
        starting meanwhile."""
        import asyncio

        bound = self.check_bound
        while account_id in self.in_flight:
            settled = self._settled.setdefault(account_id, asyncio.Event())
            try:
                await asyncio.wait_for(settled.wait(), timeout=bound)
            except TimeoutError:
                log.warning("check of account %s still running: storing the test", account_id)
                break
        self.in_flight.add(account_id)
        try:
            async with self._write_lock:
                return write()
        finally:
            self.in_flight.discard(account_id)

    def due_accounts(self, now: datetime) -> list[Account]:
        query = active_accounts().where(
            Account.monitoring_enabled
            & (Account.status != Status.STOPPED)
            & Account.next_check_at.is_null(False)
            & (Account.next_check_at <= now)
        )
        served = self.serves()
        return [a for a in query if a.id not in self.in_flight
                and (served is None or a.id in served)]

    async def sweep(self, emails: list[str] | None = None, trigger: str = "manual"
                    ) -> list[Check]:
        """Check every (or the named) account now, concurrently within the limit."""
        import asyncio

        rows = self._sweep_rows(emails)
        results = await asyncio.gather(*(self.check_account(a.id, trigger, row=a) for a in rows))
        return [c for c in results if c is not None]

    def _spawn(self, coro: Any) -> None:
        import asyncio

        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def tick(self) -> None:
        """One scheduling step: housekeeping each minute, due checks, offline handling."""
        now = self.clock.now()
        self.budget.sync()  # failed logins of the window's own tests, and the other copies'
        online = self.is_online()
        if not online:
            if self._was_online:
                log.info("this computer is offline: checks suspended (local servers go on)")
                mark_offline(now, self.serves())
            self._was_online = False
            # Mailboxes on this computer or the local network are still checked (spec §2).
            for account in self.due_accounts(now):
                if is_local_account(account):
                    self._spawn(self._delayed_check(account.id, 0))
            return
        if not self._was_online:
            log.info("back online: checking everything now")
            self._was_online = True
            self._spawn(self.sweep(trigger="online"))
            return
        if self.last_housekeeping is None or now - self.last_housekeeping >= timedelta(minutes=1):
            self.last_housekeeping = now
            run_housekeeping(now)
        for account in self.due_accounts(now):
            delay = random.uniform(0, self.tick_seconds * self.jitter * 10)
            self._spawn(self._delayed_check(account.id, delay))

    async def _delayed_check(self, account_id: int, delay: float) -> None:
        import asyncio

        if delay:
            await asyncio.sleep(delay)
        await self.check_account(account_id, "schedule")

    async def run(self) -> None:
        """Until `stop()`: tick every few seconds, and notice when the computer slept."""
        import asyncio

        loop = asyncio.get_running_loop()
        last = loop.time()
        while not self._stopping.is_set():
            try:
                if not self.held():
                    await self.tick()
            except Exception as exc:
                if self.on_database_error is not None and self.on_database_error(exc):
                    pass
                elif self.on_fatal is not None and is_fatal_database_error(exc):
                    self.on_fatal(exc)
                    return
                else:
                    log.exception("monitor tick failed")
            # Awaited in this task (no inner task that a loop ended from outside would leave
            # never started, warning "coroutine was never awaited").
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_seconds):
                    await self._stopping.wait()
            current = loop.time()
            self.note_gap(current - last)
            last = current

    def note_gap(self, seconds: float) -> bool:
        """A tick that fires far later than scheduled means the computer slept (or the process
        was suspended): statuses are stale, so everything is checked at once."""
        if seconds <= self.tick_seconds * 3 + 30:
            return False
        log.info("woke from sleep (%.0f s gap): checking everything", seconds)
        self._spawn(self.sweep(trigger="wake"))
        return True

    async def stop(self) -> None:
        import asyncio

        self._stopping.set()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self.executor.shutdown(wait=False, cancel_futures=True)


def mark_offline(now: datetime, only: Collection[int] | None = None) -> None:
    """The computer has no network: accounts that were fine or retrying show `offline`; no
    failure is counted and nothing about campaigns changes. Disconnected accounts still need
    the rep, so they keep saying so."""
    query = active_accounts().where(Account.status.in_(
        (Status.CONNECTED, Status.WARNING, Status.CHECKING)))
    if only is not None:  # a team database: only what this computer serves
        query = query.where(Account.id.in_(list(only)))
    for account in query:
        if not is_local_account(account):  # local servers stay reachable: still checked
            update_status(account, Status.OFFLINE, None, "This computer is offline", now)
    offline = Account.update(next_check_at=now).where(Account.status == Status.OFFLINE)
    if only is not None:
        offline = offline.where(Account.id.in_(list(only)))
    offline.execute()

