"""The login budget (issue 24, part 3): at most 3 failed logins per server (across its mailboxes)
and per mailbox in 10 minutes, attempts in flight counted, shared by the copies of a team through
the database, a held-back check that changes nothing. Injected clock, scripted probes."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Check, LoginFailure, set_setting
from mailmonitor.services.accounts.connection_test import TestOutcome
from mailmonitor.services.monitoring.checker import failure_of
from mailmonitor.services.monitoring.login_budget import (
    Limits,
    LoginBudget,
    LoginHeld,
    ServerTurns,
)
from mailmonitor.services.monitoring.monitor import Monitor
from mailmonitor.services.monitoring.probes import ProbeResult
from mailmonitor.services.reconnect.failure_words import failure_text
from tests.factories import make_account, probe_fail, probe_ok, reload

SERVER = "imap.northwind.example"


def refuse(budget: LoginBudget, mailbox: str, server: str = SERVER) -> None:
    budget.begin(server, mailbox, wait=0)
    budget.end(server, mailbox, "imap", refused=True, accepted=False)


def accept(budget: LoginBudget, mailbox: str, server: str = SERVER) -> None:
    budget.begin(server, mailbox, wait=0)
    budget.end(server, mailbox, "imap", refused=False, accepted=True)


# --- the budget itself (no database) ------------------------------------------------------------

def test_three_failed_logins_to_a_server_hold_back_every_mailbox_of_it(clock: FakeClock) -> None:
    budget = LoginBudget(clock)
    for rep in ("ava", "ben", "cleo"):
        refuse(budget, f"{rep}@northwind.example")
        clock.advance(minutes=1)
    with pytest.raises(LoginHeld) as held:
        budget.begin(SERVER, "dan@northwind.example", wait=0)
    assert held.value.message == "held back: 3 failed logins to imap.northwind.example in 10 min"
    assert held.value.retry_at == clock.now() - timedelta(minutes=3) + timedelta(minutes=10)
    budget.begin("imap.fabrikam.example", "eve@fabrikam.example", wait=0)  # another server: fine


def test_the_budget_frees_up_as_the_failures_leave_the_window(clock: FakeClock) -> None:
    budget = LoginBudget(clock)
    for _ in range(3):
        refuse(budget, f"rep{_}@northwind.example")
    clock.advance(minutes=9, seconds=59)
    assert budget.check(SERVER, "dan@northwind.example") is not None
    clock.advance(seconds=2)
    assert budget.check(SERVER, "dan@northwind.example") is None


def test_one_mailbox_on_two_servers_has_its_own_budget(clock: FakeClock) -> None:
    budget = LoginBudget(clock, Limits(per_server=3, per_mailbox=2))
    refuse(budget, "ava@gmail.example", "imap.gmail.example")
    refuse(budget, "ava@gmail.example", "smtp.gmail.example")
    with pytest.raises(LoginHeld) as caught:
        budget.begin("imap.gmail.example", "Ava@Gmail.example", wait=0)
    assert caught.value.message == "held back: 2 failed logins of ava@gmail.example in 10 min"
    budget.begin("imap.gmail.example", "ben@gmail.example", wait=0)


def test_accepted_sign_ins_cost_nothing(clock: FakeClock) -> None:
    budget = LoginBudget(clock)
    for n in range(50):
        accept(budget, f"rep{n}@northwind.example")
    assert budget.check(SERVER, "rep0@northwind.example") is None


def test_attempts_in_flight_count_until_the_server_answers(clock: FakeClock) -> None:
    budget = LoginBudget(clock)
    refuse(budget, "ava@northwind.example")
    budget.begin(SERVER, "ben@northwind.example", wait=0)
    budget.begin(SERVER, "cleo@northwind.example", wait=0)
    # 1 failed + 2 in flight: a fourth could be the fourth failure; it waits, then gives up.
    with pytest.raises(LoginHeld, match="still waiting for an answer"):
        budget.begin(SERVER, "dan@northwind.example", wait=0.05)
    budget.end(SERVER, "ben@northwind.example", "imap", refused=False, accepted=True)
    budget.begin(SERVER, "dan@northwind.example", wait=0)


def test_twenty_sign_ins_at_once_never_fail_more_than_the_budget(clock: FakeClock) -> None:
    budget = LoginBudget(clock)
    outcomes: list[str] = []
    lock = threading.Lock()
    most_in_flight = [0]
    in_flight = [0]

    def sign_in(n: int) -> None:
        mailbox = f"rep{n}@northwind.example"
        try:
            budget.begin(SERVER, mailbox, wait=5)
        except LoginHeld:
            with lock:
                outcomes.append("held")
            return
        with lock:
            in_flight[0] += 1
            most_in_flight[0] = max(most_in_flight[0], in_flight[0])
        time.sleep(0.01)  # the server thinks, then refuses the wrong password
        with lock:
            in_flight[0] -= 1
            outcomes.append("refused")
        budget.end(SERVER, mailbox, "imap", refused=True, accepted=False)

    threads = [threading.Thread(target=sign_in, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("refused") == 3 and outcomes.count("held") == 17
    assert most_in_flight[0] <= 3


def test_a_server_is_proven_by_an_accepted_sign_in_until_it_refuses_one(clock: FakeClock
                                                                         ) -> None:
    budget = LoginBudget(clock)
    assert not budget.proven((SERVER,))
    accept(budget, "ava@northwind.example")
    assert budget.proven((SERVER,))
    refuse(budget, "ben@northwind.example")
    assert not budget.proven((SERVER,))
    clock.advance(minutes=11)
    accept(budget, "ava@northwind.example")
    assert budget.proven((SERVER,))


def test_untried_sign_ins_take_turns_per_server_until_one_is_accepted(clock: FakeClock) -> None:
    budget = LoginBudget(clock)
    turns = ServerTurns(budget)
    servers = frozenset({SERVER})
    assert turns.enter(servers, wait=1)
    assert not turns.enter(servers, wait=0.05)  # busy: gave up waiting (the gate still guards)
    assert turns.enter(frozenset({"imap.fabrikam.example"}), wait=0)  # another server
    accept(budget, "ava@northwind.example")
    assert not turns.enter(servers, wait=0)  # proven: no turn needed
    turns.leave(servers)


# --- shared by the copies of a team (the database) ----------------------------------------------

def test_failures_are_shared_through_the_database(db: object, clock: FakeClock) -> None:
    here, there = LoginBudget(clock), LoginBudget(clock)  # two copies of mailmonitor
    here.sync()
    for n in range(3):
        refuse(here, f"rep{n}@northwind.example")
    here.sync()
    assert LoginFailure.select().count() == 3
    there.sync(force=True)
    assert there.check(SERVER, "dan@northwind.example") is not None
    clock.advance(minutes=11)
    there.sync(force=True)
    assert there.check(SERVER, "dan@northwind.example") is None


def test_the_budget_follows_its_settings(db: object, clock: FakeClock) -> None:
    set_setting("login_budget_server", 1)
    set_setting("login_budget_minutes", 30)
    budget = LoginBudget(clock)
    budget.sync(force=True)
    refuse(budget, "ava@northwind.example")
    with pytest.raises(LoginHeld) as caught:
        budget.begin(SERVER, "ben@northwind.example", wait=0)
    assert caught.value.message == "held back: 1 failed login to imap.northwind.example in 30 min"


def test_a_failure_noted_while_syncing_is_not_lost(db: object, clock: FakeClock) -> None:
    budget = LoginBudget(clock)
    budget.sync()
    refuse(budget, "ava@northwind.example")
    budget.sync()  # stored
    refuse(budget, "ben@northwind.example")  # pending
    refuse(budget, "cleo@northwind.example")
    assert budget.check(SERVER, "dan@northwind.example") is not None
    budget.sync()
    assert budget.check(SERVER, "dan@northwind.example") is not None
    assert LoginFailure.select().count() == 3


# --- a held-back check changes nothing ----------------------------------------------------------

def held(protocol: str, until: datetime) -> ProbeResult:
    words = "held back: 3 failed logins to imap.northwind.example in 10 min"
    return ProbeResult(protocol=protocol, ok=False, status="checking", reason=None,
                       detail=words, latency_ms=3, phases={}, cert_expires_at=None, error=words,
                       held=words, held_until=until)


def test_a_held_back_check_keeps_status_failures_and_last_check(db: object, clock: FakeClock
                                                                ) -> None:
    before = clock.now() - timedelta(minutes=5)
    account = make_account("ava@northwind.example", checked_at=before,
                           consecutive_failures=1, transient_since=before, status="warning",
                           reason="timeout", next_check_at=clock.now())
    frees = clock.now() + timedelta(minutes=7)
    monitor = Monitor(clock=clock, check_fn=lambda a, p, t: (held("imap", frees),
                                                             held("smtp", frees)))
    check = asyncio.run(monitor.check_account(account.id, "schedule"))
    assert check is not None
    stored = reload(account)
    assert (stored.status, stored.reason, stored.consecutive_failures) == ("warning", "timeout", 1)
    assert stored.checked_at == before and stored.next_check_at == frees
    row = Check.get_by_id(check.id)
    assert (row.status, row.trigger) == ("checking", "schedule+held")
    assert row.detail == "held back: 3 failed logins to imap.northwind.example in 10 min"
    assert row.imap["held"] == row.detail


def test_a_side_that_ran_and_failed_is_evidence_the_held_side_does_not_hide(
        db: object, clock: FakeClock) -> None:
    account = make_account("ava@northwind.example", status="connected")
    failed = probe_fail("invalid_credentials", "NO [AUTHENTICATIONFAILED]")
    calls = []

    def check(a: Account, p: str | None, t: float) -> tuple[object, object]:
        calls.append(1)
        return failed, held("smtp", clock.now())

    monitor = Monitor(clock=clock, check_fn=check)  # type: ignore[arg-type]
    asyncio.run(monitor.check_account(account.id, "manual"))
    stored = reload(account)
    assert (stored.status, stored.reason) == ("disconnected", "invalid_credentials")
    assert len(calls) == 2  # and it was confirmed once, as always


def test_a_passing_side_next_to_a_held_one_does_not_claim_connected(db: object,
                                                                    clock: FakeClock) -> None:
    account = make_account("ava@northwind.example", status="checking")
    monitor = Monitor(clock=clock, check_fn=lambda a, p, t: (probe_ok(), held("smtp",
                                                                               clock.now())))
    asyncio.run(monitor.check_account(account.id, "manual"))
    assert reload(account).status == "checking"


def test_a_held_back_test_says_so_in_the_wizard_and_on_the_command_line(
        clock: FakeClock) -> None:
    account = Account(email="ava@northwind.example", imap_host=SERVER, smtp_host=SERVER)
    outcome = TestOutcome.of(probe_ok(), held("smtp", clock.now()))
    assert (outcome.ok, outcome.label, outcome.reason) == (False, "Held back", None)
    words = failure_text(account, outcome, "reconnecting", 20)
    assert words.title == "The connection failed: held back to protect the mailbox."
    assert words.advice[0].startswith("Held back: 3 failed logins to imap.northwind.example in "
                                      "10 min: mailmonitor makes no more sign-in attempts")
    failed = failure_of(held("imap", clock.now()), held("smtp", clock.now()))
    assert failed is not None
    assert (failed.protocol, failed.label, failed.detail) == (
        "IMAP", "Held back", "3 failed logins to imap.northwind.example in 10 min")


def test_untried_mailboxes_of_one_server_are_checked_one_at_a_time(db: object,
                                                                   clock: FakeClock) -> None:
    # The scripted probes never sign in, so no server is ever proven here: new mailboxes of
    # one server wait for each other, mailboxes that signed in before do not.
    running: dict[str, int] = {}
    most: dict[str, int] = {}
    lock = threading.Lock()

    def check(account: Account, password: str | None, timeout: float) -> tuple[object, object]:
        with lock:
            running[account.status] = running.get(account.status, 0) + 1
            most[account.status] = max(most.get(account.status, 0), running[account.status])
        time.sleep(0.03)
        with lock:
            running[account.status] -= 1
        return probe_ok(), probe_ok()

    for n in range(4):
        make_account(f"new{n}@northwind.example", status="checking", imap_host=SERVER,
                     smtp_host=SERVER)
        make_account(f"old{n}@northwind.example", status="connected", imap_host=SERVER,
                     smtp_host=SERVER)
    monitor = Monitor(clock=clock, check_fn=check, max_concurrency=8)  # type: ignore[arg-type]
    checks = monitor.sweep_blocking()
    assert len(checks) == 8 and most == {"checking": 1, "connected": most["connected"]}
    assert most["connected"] > 1
    running.clear()
    most.clear()
    Account.update(status="checking").execute()
    asyncio.run(monitor.sweep())  # the window's sweep takes turns the same way
    assert most == {"checking": 1}
    monitor.executor.shutdown()
