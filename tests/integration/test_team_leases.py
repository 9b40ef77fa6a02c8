"""Leases on the test PostgreSQL server: one copy serves each mailbox, only a copy whose keyring
holds the secret, a dead holder loses it after the expiry, the send fence, what the window says."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Lead, MailboxLease, Runner, SendRecord
from mailmonitor.models import db as database
from mailmonitor.services.sending import sendlog
from mailmonitor.services.team.leases import LeaseKeeper, serving_by_account, serving_text
from tests.factories import make_account, make_campaign, make_leads

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)]


def keeper(clock: FakeClock, name: str, secrets_of: set[str]) -> LeaseKeeper:
    return LeaseKeeper(clock, holder=f"{name}:1", machine=name, lease_seconds=30,
                       has_secret=lambda account: account.email in secrets_of)


def one_lead_two_copies(clock: FakeClock, email: str, name: str
                        ) -> tuple[Account, Lead, LeaseKeeper, LeaseKeeper]:
    """A mailbox with one lead in campaign `name`, and two copies that can both serve it; the
    first holds its lease."""
    account = make_account(email)
    campaign = make_campaign(name, [account])
    (lead_id,) = make_leads(campaign, account, 1)
    lead = Lead.get_by_id(lead_id)
    first = keeper(clock, "one", {email})
    second = keeper(clock, "two", {email})
    first.renew()
    return account, lead, first, second


def holders() -> dict[str, str | None]:
    return {lease.account.email: lease.holder for lease in MailboxLease.select()}


def test_each_mailbox_is_held_by_one_copy_that_has_its_secret(db: Path,
                                                             clock: FakeClock) -> None:
    a_only = make_account("a@team.example")
    both = make_account("b@team.example")
    first = keeper(clock, "laptop", {"a@team.example", "b@team.example"})
    second = keeper(clock, "server", {"b@team.example"})
    assert first.renew().taken == sorted([a_only.id, both.id])
    assert second.renew().held == set()  # B is held, A's secret is not in its keyring
    assert holders() == {"a@team.example": "laptop:1", "b@team.example": "laptop:1"}
    assert serving_text(both.id, clock.now()) == "served by laptop"

    # The laptop dies (no more renewals): after the expiry the server takes B, never A.
    clock.advance(timedelta(seconds=31))
    assert second.renew().taken == [both.id]
    assert serving_text(a_only.id, clock.now()) == "no running copy can send for this mailbox"
    assert serving_text(both.id, clock.now()) == "served by server"
    # The laptop comes back: it lost B, takes A again (free since its lease lapsed).
    report = first.renew()
    assert report.lost == [both.id] and report.taken == [a_only.id]
    assert MailboxLease.get(MailboxLease.account == both.id).generation == 2
    # Live copies and what their keyrings can serve.
    assert {r.machine: r.can_serve for r in Runner.select()} == {
        "laptop": [a_only.id, both.id], "server": [both.id]}


def test_a_renewing_holder_keeps_its_mailboxes(db: Path, clock: FakeClock) -> None:
    make_account("keep@team.example")
    first = keeper(clock, "one", {"keep@team.example"})
    second = keeper(clock, "two", {"keep@team.example"})
    first.renew()
    for _ in range(10):
        clock.advance(timedelta(seconds=10))
        assert first.renew().held and not second.renew().held


def test_a_graceful_stop_hands_over_at_once(db: Path, clock: FakeClock) -> None:
    account = make_account("bye@team.example")
    first = keeper(clock, "one", {"bye@team.example"})
    second = keeper(clock, "two", {"bye@team.example"})
    first.renew()
    first.release_all()
    assert second.renew().taken == [account.id]
    assert [r.machine for r in Runner.select()] == ["two"]


def test_copies_renewing_at_the_same_moment_never_share_a_mailbox(db: Path,
                                                                  clock: FakeClock) -> None:
    emails = {f"m{i}@team.example" for i in range(40)}
    for email in sorted(emails):
        make_account(email)
    keepers = [keeper(clock, f"copy{i}", emails) for i in range(4)]
    start = threading.Barrier(len(keepers))
    held: dict[str, set[int]] = {}
    errors: list[BaseException] = []

    def run(k: LeaseKeeper) -> None:
        try:
            start.wait(timeout=10)
            held[k.machine] = k.renew().held  # own connection per thread
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            database.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in keepers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    taken = [i for ids in held.values() for i in ids]
    assert len(taken) == len(set(taken)) == 40  # every mailbox once, none twice
    assert {lease.holder for lease in MailboxLease.select()} <= {f"copy{i}:1" for i in range(4)}


def test_the_fence_refuses_to_hand_over_a_mailbox_this_copy_lost(db: Path,
                                                                clock: FakeClock) -> None:
    account, lead, first, second = one_lead_two_copies(clock, "fence@team.example", "Fence")
    record = sendlog.start_attempt(lead, 0, account, "<f1@team.example>", "Hi", clock.now())
    sendlog.mark_handed_over(record.id, clock.now(), first.held_condition(account.id))
    assert SendRecord.get_by_id(record.id).handed_over_at is not None

    other = sendlog.start_attempt(lead, 0, account, "<f2@team.example>", "Hi", clock.now())
    clock.advance(timedelta(seconds=40))  # the first copy was suspended past its lease
    second.renew()
    with pytest.raises(sendlog.LeaseLost):
        sendlog.mark_handed_over(other.id, clock.now(), first.held_condition(account.id))
    assert SendRecord.get_by_id(other.id).handed_over_at is None  # provably not delivered
    assert not first.still_holds(account.id) and second.still_holds(account.id)


def test_serving_lists_live_leases_only(db: Path, clock: FakeClock) -> None:
    a = make_account("live@team.example")
    make_account("none@team.example")
    keeper(clock, "desk", {"live@team.example"}).renew()
    assert {k: v.text for k, v in serving_by_account(clock.now()).items()} == {
        a.id: "served by desk"}
    clock.advance(timedelta(minutes=5))
    assert serving_by_account(clock.now()) == {}
    assert Account.select().count() == 2


def test_two_copies_share_the_mailboxes_they_can_both_serve(db: Path, clock: FakeClock) -> None:
    emails = {f"s{i}@team.example" for i in range(10)}
    only_first = make_account("only@team.example")
    for email in sorted(emails):
        make_account(email)
    first = keeper(clock, "one", emails | {"only@team.example"})
    second = keeper(clock, "two", emails)
    assert len(first.renew().held) == 11  # alone: it serves everything
    second.renew()  # registers; nothing is free yet
    clock.advance(timedelta(seconds=5))
    first.renew()  # sees the second copy: hands its surplus back
    second.renew()
    assert len(first.held) == 6 and only_first.id in first.held
    assert len(second.held) == 5 and not first.held & second.held
    clock.advance(timedelta(seconds=5))
    assert first.renew().held == first.held and second.renew().held == second.held  # stable


def test_copies_with_mailboxes_of_their_own_still_serve_every_shared_one(
        db: Path, clock: FakeClock) -> None:
    """Issue 21: two of its own and four shared (the share once counted its own two: it took
    one shared mailbox, the other copy two, and the sixth was never served)."""
    own = {f"own{i}@team.example" for i in range(2)}
    shared = {f"shared{i}@team.example" for i in range(4)}
    for email in sorted(own | shared):
        make_account(email)
    first = keeper(clock, "one", own | shared)
    second = keeper(clock, "two", shared)
    first.renew()
    second.renew()
    for _ in range(3):  # a few renewals each, interleaved
        clock.advance(timedelta(seconds=10))
        first.renew()
        second.renew()
    assert len(first.held | second.held) == 6 and not first.held & second.held
    assert len(second.held) == 2 and len(first.held) == 4
    clock.advance(timedelta(seconds=10))
    assert first.renew().held == first.held and second.renew().held == second.held  # stable


def test_a_mailbox_no_copy_took_for_a_renewal_is_taken_whatever_the_share(
        db: Path, clock: FakeClock) -> None:
    """A copy that stopped renewing still counts until its heartbeat lapses: its share is
    nobody's. The live copy takes what stayed free for a whole renewal."""
    for i in range(4):
        make_account(f"m{i}@team.example")
    everything = {f"m{i}@team.example" for i in range(4)}
    live = keeper(clock, "live", everything)
    gone = keeper(clock, "gone", everything)
    gone.renew()
    live.renew()  # sees "gone" alive: takes its half (gone holds all 4 still)
    Runner.update(expires_at=clock.now() + timedelta(minutes=10)).where(
        Runner.holder == "gone:1").execute()  # its heartbeat still looks alive...
    MailboxLease.update(holder=None).where(MailboxLease.holder == "gone:1").execute()  # ...
    clock.advance(timedelta(seconds=10))
    assert len(live.renew().held) == 2  # its share
    clock.advance(timedelta(seconds=10))
    assert len(live.renew().held) == 4  # the other two stayed free for a renewal


def test_a_send_another_copy_settled_is_never_handed_over_even_with_the_lease_back(
        db: Path, clock: FakeClock) -> None:
    """Issue 21: a batch hung while the team database was away; meanwhile the other copy took
    the mailbox, settled the hung send as not sent (and sends the step again), and then handed
    the mailbox back. The hung batch must not hand its copy of the step over."""
    account, lead, first, second = one_lead_two_copies(clock, "hung@team.example", "Hung")
    hung = sendlog.start_attempt(lead, 0, account, "<hung@team.example>", "Hi", clock.now())
    clock.advance(timedelta(seconds=40))  # the first copy's lease lapsed meanwhile
    second.renew()
    sendlog.mark_failed(SendRecord.get_by_id(hung.id), "interrupted: settled by copy two",
                        clock.now())  # what reconcile does with a send that was never handed over
    second.release_all()
    first.renew()  # the first copy holds the mailbox again
    assert first.still_holds(account.id)
    with pytest.raises(sendlog.LeaseLost):
        sendlog.mark_handed_over(hung.id, clock.now(), first.held_condition(account.id))
    assert SendRecord.get_by_id(hung.id).handed_over_at is None
