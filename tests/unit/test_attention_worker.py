"""The attention loop reconciles on a thread of its own (issue 25: reading the state of
thousands of leads never holds up the loop that writes the state and paints the window), and
no transaction — the reconcile's, a batch of checks' — fails half-way because another thread
wrote meanwhile (on SQLite every transaction takes the write lock at its start)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import peewee as pw
import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.events import ALERTS_CHANGED, bus
from mailmonitor.models import Account, Alert, Setting
from mailmonitor.models import db as database
from mailmonitor.services.alerts.reconciler import AttentionLoop
from mailmonitor.services.monitoring.account_state import record_check
from tests.factories import make_account, probe_fail, probe_ok


async def _run_until(attention: AttentionLoop, done: threading.Event) -> None:
    stopping = asyncio.Event()
    task = asyncio.create_task(attention.run(stopping))
    try:
        async with asyncio.timeout(20):
            while not done.is_set():
                await asyncio.sleep(0.005)
    finally:
        stopping.set()
        await task


@pytest.mark.both_databases
def test_a_reconcile_runs_on_the_attention_thread_and_opens_the_alert(
        db: Path, clock: FakeClock) -> None:
    account = make_account(email="ava@x.test")
    for _ in range(2):
        record_check(account, probe_fail("invalid_credentials", "535 5.7.8 bad"), probe_ok(),
                     clock.now(), "manual")
    threads: list[str] = []
    told = threading.Event()

    def heard() -> None:
        threads.append(threading.current_thread().name)
        told.set()

    bus.subscribe(ALERTS_CHANGED, heard)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="attention")
    try:
        attention = AttentionLoop(clock, tick=0.01, executor=executor)
        asyncio.run(_run_until(attention, told))
    finally:
        bus.unsubscribe(ALERTS_CHANGED, heard)
        executor.shutdown(wait=True)
    assert threads and all(name.startswith("attention") for name in threads), threads
    assert threading.current_thread().name not in threads
    opened = list(Alert.select().where(Alert.resolved_at.is_null()))
    assert [a.mailboxes for a in opened] == [["ava@x.test"]]
    assert attention.reconciles >= 1


def _read_then_write(transaction: object, read: threading.Event, wrote: threading.Event,
                     errors: list[BaseException]) -> None:
    try:
        with transaction:  # type: ignore[attr-defined]
            Account.select().count()  # the transaction reads first
            read.set()
            wrote.wait(10)  # the other connection commits a write meanwhile
            Setting.insert(key="reconciled", value="1").on_conflict_replace().execute()
    except BaseException as exc:  # the test looks at it
        errors.append(exc)
    finally:
        read.set()
        database.close()


def _write_meanwhile(read: threading.Event, wrote: threading.Event) -> None:
    read.wait(10)
    try:
        # In WAL mode a writer runs beside a deferred read transaction; after BEGIN IMMEDIATE
        # it waits its busy timeout for the reconcile's commit instead.
        Account.update(name="written meanwhile").execute()
    finally:
        wrote.set()


@pytest.mark.parametrize("immediate", [False, True], ids=["deferred", "the-default"])
def test_a_transaction_that_reads_then_writes_survives_a_write_by_another_thread(
        db: Path, immediate: bool) -> None:
    make_account(email="ava@x.test")
    read, wrote = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    transaction = database.atomic() if immediate else database.atomic("DEFERRED")
    worker = threading.Thread(target=_read_then_write, args=(transaction, read, wrote, errors))
    worker.start()
    if immediate:
        # The transaction holds the write lock from its start: the other thread's write waits
        # for its commit (released here so the test does not wait the whole busy timeout).
        read.wait(10)
        wrote.set()
        _write_meanwhile(read, threading.Event())
    else:
        _write_meanwhile(read, wrote)
    worker.join(20)
    if immediate:
        assert errors == []
        assert Setting.get_by_id("reconciled").value == "1"
        assert Account.get().name == "written meanwhile"
    else:
        # The trap the default avoids: a deferred transaction that read before another
        # connection's commit cannot write at all, whatever the busy timeout.
        assert len(errors) == 1 and isinstance(errors[0], pw.OperationalError), errors
        assert "locked" in str(errors[0])
