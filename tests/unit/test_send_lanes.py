"""Each mailbox sends on its own lane: a slow server holds back nobody. The background work
starts a mailbox's next batch as soon as its previous one ends (no round that waits for the
slowest mailbox), keeps at most MAX_PARALLEL_MAILBOXES batches in flight, lets the mailbox
that waited longest go first, and leaves the `sending` records of a batch in flight alone when
it settles interrupted sends."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, SendRecord
from mailmonitor.models.states import SendState
from mailmonitor.services.desktop import background
from mailmonitor.services.desktop.background import BackgroundWork
from mailmonitor.services.monitoring.probes import Credentials
from mailmonitor.services.sending.sender import BatchResult
from tests.factories import make_account, make_campaign, make_lead, make_leads
from tests.fake_smtp import FakeServer, FakeTransport, fake_credentials

NOW = datetime(2026, 12, 2, 9, 0)


class IdleMonitor:
    async def run(self) -> None:
        await asyncio.sleep(3600)

    async def stop(self) -> None:
        return None


class GatedTransport(FakeTransport):
    """A server that answers only once `gate` is set (a provider that hangs for minutes)."""

    def __init__(self, server: FakeServer, account: Account, gate: threading.Event) -> None:
        super().__init__(server, account)
        self.gate = gate

    def send(self, mail_from: str, rcpt: str, data: bytes,
             on_handover: Callable[[], None]) -> str:
        assert self.gate.wait(30), "the test never opened the gate"
        return super().send(mail_from, rcpt, data, on_handover)


def work_with(server: FakeServer, gated: dict[str, threading.Event]) -> BackgroundWork:
    work = BackgroundWork(FakeClock(NOW), monitor=IdleMonitor())
    work.send_tick = 0.01
    sender = work.engine.sender
    sender.credentials = fake_credentials
    sender.save_copy = lambda account: False

    def factory(account: Account, creds: Credentials, timeout: float) -> FakeTransport:
        gate = gated.get(account.email)
        return GatedTransport(server, account, gate) if gate else FakeTransport(server, account)

    sender.transport_factory = factory
    work.engine.lookup = lambda account, ids: None
    return work


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_a_hanging_server_holds_back_no_other_mailbox(db: Path) -> None:
    slow = make_account("slow@sales.example", min_gap_seconds=0, daily_limit=1000)
    fast = [make_account(f"fast{i}@sales.example", min_gap_seconds=0, daily_limit=1000)
            for i in range(2)]
    campaign = make_campaign("C", [slow, *fast], steps=1)
    make_leads(campaign, slow, 3, prefix="s-")
    for i, account in enumerate(fast):
        make_leads(campaign, account, 120, prefix=f"f{i}-")  # three batches of 50 or fewer each
    server, gate = FakeServer(), threading.Event()
    work = work_with(server, {slow.email: gate})

    async def main() -> list[str]:
        loop_task = asyncio.create_task(work.sending_loop())
        # Every email of the fast mailboxes goes out while the slow server still hangs.
        await until(lambda: len(server.delivered) == 240)
        assert slow.id in work.in_flight
        order = [d.rcpt for d in server.delivered]
        gate.set()
        await until(lambda: len(server.delivered) == 243)
        work.request_stop()
        await loop_task
        return order

    order = asyncio.run(main())
    assert not any(r.startswith("s-") for r in order)
    assert sorted(d.rcpt for d in server.delivered) == sorted(
        [f"s-{n}@leads.example" for n in range(3)]
        + [f"f{i}-{n}@leads.example" for i in range(2) for n in range(120)])  # each once
    assert SendRecord.select().where(SendRecord.state == SendState.SENT).count() == 243


def test_at_most_the_parallel_limit_is_in_flight_and_every_mailbox_gets_its_turn(
        db: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(background, "MAX_PARALLEL_MAILBOXES", 2)
    boxes = [make_account(f"box{i}@sales.example", min_gap_seconds=0, daily_limit=1000)
             for i in range(5)]
    campaign = make_campaign("C", boxes, steps=1)
    for i, account in enumerate(boxes):
        make_leads(campaign, account, 100, prefix=f"b{i}-")  # two batches each
    server = FakeServer()
    gates = {a.email: threading.Event() for a in boxes}
    work = work_with(server, gates)
    firsts: list[str] = []

    async def main() -> None:
        loop_task = asyncio.create_task(work.sending_loop())
        for _ in range(5):  # open one lane at a time: the next to start is one never served
            await until(lambda: len(work.in_flight) == 2)
            assert len(work.in_flight) <= 2
            waiting = [a for a in boxes if a.id in work.in_flight and not gates[a.email].is_set()]
            first = waiting[0]
            firsts.append(first.email)
            gates[first.email].set()
            await until(lambda f=first: f.id not in work.in_flight)  # type: ignore[misc]
        for gate in gates.values():
            gate.set()
        await until(lambda: len(server.delivered) == 500)
        work.request_stop()
        await loop_task

    asyncio.run(main())
    assert sorted(set(firsts)) == sorted(a.email for a in boxes)  # five lanes, five mailboxes
    assert SendRecord.select().where(SendRecord.state == SendState.SENT).count() == 500


def test_settling_interrupted_sends_leaves_a_batch_in_flight_alone(db: Path) -> None:
    busy = make_account("busy@sales.example", min_gap_seconds=0, daily_limit=1000)
    idle = make_account("idle@sales.example", min_gap_seconds=0, daily_limit=1000)
    campaign = make_campaign("C", [busy, idle], steps=1)
    in_flight = make_lead(campaign, "now@x.example", busy)
    interrupted = make_lead(campaign, "then@x.example", idle)
    for lead, account in ((in_flight, busy), (interrupted, idle)):
        SendRecord.create(lead=lead, campaign=campaign, account=account, step=0,
                          message_id=f"<{lead.id}@x>")  # not handed over: retried
    work = work_with(FakeServer(), {})
    engine = work.engine
    assert engine.needs_reconcile({busy.id})
    report = engine.reconcile({busy.id})
    assert report.retried == 1
    states = {r.lead_id: r.state for r in SendRecord.select()}
    assert states[in_flight.id] == SendState.SENDING  # its batch is still sending it
    assert states[interrupted.id] != SendState.SENDING
    assert not engine.needs_reconcile({busy.id})
    assert engine.needs_reconcile()


def test_a_batch_that_sent_nothing_waits_a_tick_instead_of_spinning(db: Path) -> None:
    """E.g. a team copy whose lease just lapsed: the send fence refuses every email until the
    next renewal. Its mailbox is not planned again at once while the others go on."""
    stuck = make_account("stuck@sales.example", min_gap_seconds=0, daily_limit=1000)
    busy = make_account("busy@sales.example", min_gap_seconds=0, daily_limit=1000)
    campaign = make_campaign("C", [stuck, busy], steps=1)
    make_leads(campaign, stuck, 5, prefix="s-")
    make_leads(campaign, busy, 150, prefix="b-")  # three batches
    server = FakeServer()
    work = work_with(server, {})
    work.send_tick = 30.0  # the rest of a mailbox whose batch sent nothing
    real_send = work.engine.send
    calls: list[int] = []

    def send(account_id: int, batch: list[Any]) -> BatchResult:
        calls.append(account_id)
        if account_id == stuck.id:
            return BatchResult(account_id)  # nothing sent, no error: as a refused fence
        return real_send(account_id, batch)

    work.engine.send = send  # type: ignore[method-assign]

    async def main() -> None:
        loop_task = asyncio.create_task(work.sending_loop())
        await until(lambda: len(server.delivered) == 150)
        work.request_stop()
        await loop_task

    asyncio.run(main())
    assert calls.count(busy.id) == 3
    assert calls.count(stuck.id) == 1  # not again while the other mailbox sent its batches
