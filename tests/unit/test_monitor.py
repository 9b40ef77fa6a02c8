"""The monitor's scheduling with an injected clock and a scripted probe (a unit test of the
scheduler; the real probes are proven against Dovecot in tests/integration)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Alert, AlertChange, Check
from mailmonitor.services.monitoring.monitor import Monitor
from tests.attention_support import conditions, kinds
from tests.factories import FakeProbe, make_account, probe_fail, probe_ok


class ScriptedChecks:
    """Answers each check with the current script and counts logins per account."""

    def __init__(self) -> None:
        self.answer: Callable[[], tuple[FakeProbe, FakeProbe]] = lambda: (probe_ok(), probe_ok())
        self.calls: list[str] = []

    def __call__(self, account: Account, password: str | None, timeout: float) -> Any:
        self.calls.append(account.email)
        return self.answer()


def run_ticks(monitor: Monitor, clock: FakeClock, minutes: list[float]) -> None:
    async def go() -> None:
        for step in minutes:
            clock.advance(minutes=step)
            await monitor.tick()
            await asyncio.gather(*monitor._tasks)
    asyncio.run(go())


def new_monitor(clock: FakeClock, checks: ScriptedChecks, online: list[bool] | None = None
                ) -> Monitor:
    state = online if online is not None else [True]
    return Monitor(clock=clock, check_fn=checks, is_online=lambda: state[0], jitter=0)


def test_transient_trouble_backs_off_1_5_15_60_then_escalates(db, clock: FakeClock) -> None:
    account = make_account("rep@ex.test", next_check_at=clock.now())
    checks = ScriptedChecks()
    checks.answer = lambda: (probe_fail("server_unavailable", "* BYE [UNAVAILABLE]"), probe_ok())
    monitor = new_monitor(clock, checks)
    run_ticks(monitor, clock, [0])
    gaps = []
    for _ in range(4):
        before = Account.get_by_id(account.id)
        assert before.status == "warning" and before.reason == "server_unavailable"
        gaps.append(before.next_check_at - clock.now())
        clock.set(before.next_check_at)
        run_ticks(monitor, clock, [0])
    assert gaps == [timedelta(minutes=m) for m in (1, 5, 15, 60)]
    # 1 + 5 + 15 + 60 = 81 minutes of trouble: past the 60-minute window → no_service_connection,
    # and it keeps being looked at hourly so a server that comes back is noticed.
    final = Account.get_by_id(account.id)
    assert (final.status, final.reason) == ("disconnected", "no_service_connection")
    assert final.next_check_at - clock.now() == timedelta(minutes=60)
    assert len(checks.calls) == 5


def test_recovery_resolves_alerts_and_returns_to_the_interval(db, clock: FakeClock) -> None:
    account = make_account("rep@ex.test", next_check_at=clock.now(), check_interval_seconds=300)
    checks = ScriptedChecks()
    checks.answer = lambda: (probe_fail("tls_error", "certificate verify failed"), probe_ok())
    monitor = new_monitor(clock, checks)
    run_ticks(monitor, clock, [0])
    assert Account.get_by_id(account.id).status == "disconnected"
    assert kinds(clock.now()) == ["mailbox_broken"]
    checks.answer = lambda: (probe_ok(), probe_ok())
    clock.advance(minutes=60)
    run_ticks(monitor, clock, [0])
    fresh = Account.get_by_id(account.id)
    assert fresh.status == "connected"
    assert fresh.next_check_at == clock.now() + timedelta(seconds=300)
    assert conditions(clock.now()) == []
    assert [c.event for c in AlertChange.select().where(AlertChange.change == "resolved")] == [
        "reconnected"]


def test_offline_suspends_checks_and_blames_no_account(db, clock: FakeClock) -> None:
    account = make_account("rep@ex.test", next_check_at=clock.now())
    broken = make_account("broken@ex.test", status="disconnected", reason="invalid_credentials")
    online = [True]
    checks = ScriptedChecks()
    monitor = new_monitor(clock, checks, online)
    run_ticks(monitor, clock, [0])
    assert Account.get_by_id(account.id).status == "connected"
    online[0] = False
    checks.answer = lambda: (probe_fail("network", "unreachable"), probe_fail("network", "x"))
    calls_before = len(checks.calls)
    run_ticks(monitor, clock, [10, 10, 10, 60])
    assert len(checks.calls) == calls_before  # nothing is checked while offline
    assert Account.get_by_id(account.id).status == "offline"
    assert Account.get_by_id(account.id).consecutive_failures == 0
    assert Account.get_by_id(broken.id).status == "disconnected"  # still needs the rep
    online[0] = True
    checks.answer = lambda: (probe_ok(), probe_ok())
    run_ticks(monitor, clock, [0])  # back online: everything is checked at once
    assert Account.get_by_id(account.id).status == "connected"
    assert {"rep@ex.test", "broken@ex.test"} <= set(checks.calls[calls_before:])


def test_rejected_password_is_confirmed_once_then_left_alone(db, clock: FakeClock) -> None:
    account = make_account("rep@ex.test", next_check_at=clock.now())
    checks = ScriptedChecks()
    checks.answer = lambda: (probe_fail("invalid_credentials", "NO [AUTHENTICATIONFAILED]"),
                             probe_fail("invalid_credentials", "535 5.7.8"))
    monitor = new_monitor(clock, checks)
    run_ticks(monitor, clock, [0] + [30] * 48)  # a whole day of ticks
    assert checks.calls == ["rep@ex.test", "rep@ex.test"]
    fresh = Account.get_by_id(account.id)
    assert (fresh.status, fresh.reason, fresh.next_check_at) == \
        ("disconnected", "invalid_credentials", None)
    assert Check.select().count() == 1
    # The rep asks for a check (Test Connection): it runs, once.
    asyncio.run(monitor.check_account(account.id, "manual"))
    assert len(checks.calls) == 3


def test_concurrency_is_bounded(db, clock: FakeClock) -> None:
    for i in range(12):
        make_account(f"r{i}@ex.test", next_check_at=clock.now())
    running = [0]
    peak = [0]

    import threading
    lock = threading.Lock()
    release = threading.Event()

    def slow_check(account: Account, password: str | None, timeout: float) -> Any:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(0.05)
        with lock:
            running[0] -= 1
        return probe_ok(), probe_ok()

    monitor = Monitor(clock=clock, check_fn=slow_check, max_concurrency=3, jitter=0)
    asyncio.run(monitor.sweep())
    assert peak[0] == 3
    assert Account.select().where(Account.status == "connected").count() == 12


def test_a_wake_from_sleep_checks_everything_at_once(db, clock: FakeClock) -> None:
    for i in range(3):
        make_account(f"r{i}@ex.test", next_check_at=clock.now() + timedelta(hours=1))
    checks = ScriptedChecks()
    monitor = new_monitor(clock, checks)

    async def go() -> tuple[bool, bool]:
        on_time = monitor.note_gap(monitor.tick_seconds * 1.1)
        after_sleep = monitor.note_gap(3 * 3600)
        await asyncio.gather(*monitor._tasks)
        return on_time, after_sleep

    assert asyncio.run(go()) == (False, True)
    assert sorted(checks.calls) == ["r0@ex.test", "r1@ex.test", "r2@ex.test"]
    assert {c.trigger for c in Check.select()} == {"wake"}


def test_a_test_stored_by_the_wizard_lands_after_the_check_in_flight(db, clock: FakeClock
                                                                     ) -> None:
    """The wizard's passing test goes through the monitor: a scheduled check that was already
    running (with the old password) is recorded first, and none starts while the test is
    stored, so the old answer can never overwrite the new one."""
    account = make_account("rep@ex.test")
    release = threading.Event()
    order: list[str] = []

    def slow_check(_account: Account, _password: str | None, _timeout: float) -> Any:
        release.wait(10)
        order.append("check")
        return probe_fail("server_unavailable", "* BYE [UNAVAILABLE]"), probe_ok()

    monitor = Monitor(clock=clock, check_fn=slow_check, jitter=0)

    async def go() -> None:
        running = asyncio.ensure_future(monitor.check_account(account.id, "schedule"))
        await asyncio.sleep(0)  # the check starts and waits for its probe
        assert account.id in monitor.in_flight

        def write() -> str:
            order.append("write")
            assert account.id in monitor.in_flight  # no check of it can start meanwhile
            return "stored"

        storing = asyncio.ensure_future(monitor.store_test(account.id, write))
        await asyncio.sleep(0)
        assert order == []  # the test waits for the check in flight
        release.set()
        assert await storing == "stored"
        assert await running is not None
        assert await monitor.check_account(account.id, "manual") is not None  # free again
        await monitor.stop()

    asyncio.run(go())
    assert order == ["check", "write", "check"]


def test_the_blocking_sweep_follows_the_rules_of_the_sweep(db, clock: FakeClock) -> None:
    """`check`'s sweep (a plain pool of threads, no event loop): bounded concurrency, the one
    confirming re-check of a refused sign-in, a keyring fault blames no mailbox, and a
    mailbox stopped while it was being checked keeps no result."""
    from mailmonitor.services.auth.secrets import SecretStoreError

    for i in range(8):
        make_account(f"ok{i}@ex.test")
    refused = make_account("refused@ex.test")
    keyless = make_account("keyless@ex.test")
    stopping = make_account("stopping@ex.test")
    lock, running, peak = threading.Lock(), [0], [0]
    calls: list[str] = []

    def check(account: Account, password: str | None, timeout: float) -> Any:
        with lock:
            calls.append(account.email)
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        threading.Event().wait(0.02)
        with lock:
            running[0] -= 1
        if account.email == "refused@ex.test":
            return (probe_fail("invalid_credentials", "NO [AUTHENTICATIONFAILED]"),
                    probe_fail("invalid_credentials", "535 5.7.8"))
        if account.email == "keyless@ex.test":
            raise SecretStoreError("The keyring could not be read: KeyringLocked")
        if account.email == "stopping@ex.test":  # the rep stops it meanwhile
            Account.update(status="stopped").where(Account.id == stopping.id).execute()
        return probe_ok(), probe_ok()

    monitor = Monitor(clock=clock, check_fn=check, max_concurrency=3, jitter=0)
    said: list[Alert] = []
    keyring_problem = monitor.keyring_problem

    def keyring_problem_then_reconcile(account_id: int, message: str) -> None:
        keyring_problem(account_id, message)
        said.extend(conditions(clock.now(), "keyring_unavailable"))  # as the loop would

    monitor.keyring_problem = keyring_problem_then_reconcile  # type: ignore[method-assign]
    try:
        checks = monitor.sweep_blocking(trigger="cli")
    finally:
        monitor.executor.shutdown(wait=True)
    assert peak[0] == 3
    assert calls.count("refused@ex.test") == 2 and len(calls) == 12  # one confirmation
    by_email = {Account.get_by_id(c.account_id).email: c for c in checks}
    assert sorted(by_email) == sorted([f"ok{i}@ex.test" for i in range(8)] + ["refused@ex.test"])
    assert by_email["refused@ex.test"].trigger == "cli+confirm"
    assert (Account.get_by_id(refused.id).status, Account.get_by_id(refused.id).reason) == (
        "disconnected", "invalid_credentials")
    assert Account.get_by_id(keyless.id).status == "connected"  # not blamed
    # The keyring's fault is said (a later check that read its secret may resolve it again).
    [keyring] = said
    assert keyring.severity == "critical"
    assert keyring.message.startswith("The keyring could not be read: KeyringLocked")
    assert Account.get_by_id(stopping.id).status == "stopped"
    assert Check.select().where(Check.account == stopping).count() == 0


def test_the_blocking_sweep_records_its_answers_in_batches(db, clock: FakeClock,
                                                             monkeypatch) -> None:
    """`check`'s sweep writes the answers that arrived together in one transaction
    (`record_checks`), every one of them, a status change with its campaign rules."""
    from mailmonitor.models import Lead
    from mailmonitor.services.monitoring import monitor as monitor_module
    from tests.factories import make_campaign, make_leads

    accounts = [make_account(f"ok{i}@ex.test") for i in range(40)]
    refused = make_account("refused@ex.test")
    campaign = make_campaign("C", [refused])
    make_leads(campaign, refused, 2)
    batches: list[int] = []
    record_checks = monitor_module.record_checks

    def counting(checks: Any) -> Any:
        batches.append(len(checks))
        return record_checks(checks)

    monkeypatch.setattr(monitor_module, "record_checks", counting)
    monkeypatch.setattr(monitor_module, "BATCH", 8)

    def check(account: Account, password: str | None, timeout: float) -> Any:
        if account.email == "refused@ex.test":
            return (probe_fail("invalid_credentials", "NO [AUTHENTICATIONFAILED]"), probe_ok())
        return probe_ok(), probe_ok()

    monitor = Monitor(clock=clock, check_fn=check, max_concurrency=4, jitter=0)
    try:
        checks = monitor.sweep_blocking(trigger="cli")
    finally:
        monitor.executor.shutdown(wait=True)
    assert sorted(c.account_id for c in checks) == sorted(a.id for a in [*accounts, refused])
    assert Check.select().count() == 41 == sum(batches)
    assert max(batches) > 1 and len(batches) < 41
    assert Account.get_by_id(refused.id).status == "disconnected"
    assert {lead.state for lead in Lead.select().where(Lead.mailbox == refused)} == {"halted"}
    assert {a.status for a in Account.select().where(Account.id != refused.id)} == {"connected"}


def test_the_blocking_sweep_prepares_what_follows_while_its_last_probes_run(
        db, clock: FakeClock, caplog) -> None:
    """`tail` runs once, on the sweep's thread, when every mailbox left is being checked (none
    waits for a thread); a tail that fails is logged and the sweep records every answer."""
    accounts = [make_account(f"t{i}@ex.test") for i in range(12)]
    started: list[str] = []
    seen: list[tuple[int, str]] = []
    lock = threading.Lock()

    def check(account: Account, password: str | None, timeout: float) -> Any:
        with lock:
            started.append(account.email)
        return probe_ok(), probe_ok()

    def tail() -> None:
        with lock:
            seen.append((len(started), threading.current_thread().name))
        raise RuntimeError("an import failed")

    monitor = Monitor(clock=clock, check_fn=check, max_concurrency=4, jitter=0)
    try:
        checks = monitor.sweep_blocking(trigger="cli", tail=tail)
    finally:
        monitor.executor.shutdown(wait=True)
    [(count, thread)] = seen  # once
    assert thread == threading.current_thread().name
    assert count >= len(accounts) - 4  # at most a pool's worth were still to start
    assert sorted(c.account_id for c in checks) == sorted(a.id for a in accounts)
    assert "preparing what follows the sweep failed" in caplog.text


def test_a_check_that_cannot_be_recorded_loses_none_of_its_batch(
        db, clock: FakeClock, monkeypatch) -> None:
    """A batch is one transaction: should one check's writes fail (here the campaign rules of
    a status change), the batch is rolled back and each check recorded on its own — the
    others are kept, the failing one is not half-written, and its error is raised."""
    from mailmonitor.services.monitoring import account_state

    first, failing, last = (make_account(f"{name}@ex.test") for name in ("a", "b", "c"))
    apply = account_state.apply_account_status

    def rules(account: Account, old_status: str | None, now: Any) -> None:
        if account.id == failing.id:
            raise RuntimeError("a campaign rule failed")
        apply(account, old_status, now)

    monkeypatch.setattr(account_state, "apply_account_status", rules)
    monitor = Monitor(clock=clock, check_fn=lambda *args: (probe_ok(), probe_ok()), jitter=0)
    refused = probe_fail("invalid_credentials", "535 5.7.8")
    rows = {a.id: a for a in Account.select()}
    answers: list[Any] = [(rows[first.id], probe_ok(), probe_ok(), "cli"),
                          (rows[failing.id], refused, probe_ok(), "cli"),
                          (rows[last.id], refused, probe_ok(), "cli")]
    try:
        monitor._record_batch(answers)
    except RuntimeError as exc:
        assert str(exc) == "a campaign rule failed"
    else:
        raise AssertionError("the error was not raised")
    finally:
        monitor.executor.shutdown(wait=True)
    recorded = {c.account_id: c.status for c in Check.select()}
    assert recorded == {first.id: "connected", last.id: "disconnected"}
    assert Account.get_by_id(failing.id).status == "connected"  # nothing half-written
    assert Account.get_by_id(last.id).status == "disconnected"
    assert Account.get_by_id(first.id).checked_at == clock.now()
