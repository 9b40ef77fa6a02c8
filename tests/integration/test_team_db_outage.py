"""Issue 21, part 1: a team database that goes away in the middle of a campaign.

Two `run --headless` copies send one campaign from six mailboxes (two only copy 1 can serve,
four both can) on a private PostgreSQL. After a quarter of the emails, the server is stopped
with `pg_ctl stop -m immediate` (every backend killed, as in a crash or a failover) and started
again. Both copies notice, say so once in their log, hold sending, reconnect by themselves and
resume within 30 s; every email reaches the sink exactly once."""

from __future__ import annotations

import re
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import peewee as pw
import pytest

from mailmonitor.models import close_db, db, get_setting, open_db, set_setting
from tests.kill_harness import mail_servers
from tests.servers.certs import TestPKI
from tests.servers.postgres import PostgresServer
from tests.team_kill_harness import TeamKillRunner

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

LEADS, STEPS = 300, 2


@pytest.mark.parametrize("down_seconds", [0, 12], ids=["restart", "down-12s"])
def test_database_restart_mid_campaign_resumes_and_delivers_every_email_once(
        test_pki: TestPKI, down_seconds: float) -> None:
    """`restart`: `pg_ctl restart -m immediate`; `down-12s`: 12 s without a server, longer
    than the copies' leases (5 s here): they lapse and are taken again when it is back."""
    started = time.monotonic()
    with PostgresServer(test_pki, durable=True) as postgres, \
            tempfile.TemporaryDirectory(prefix="mm-dbout-") as tmp, \
            mail_servers(test_pki) as (dovecot, sink):
        url = postgres.create_database("outage")
        runner = TeamKillRunner(dovecot, sink, Path(tmp), url, lease_seconds=5)
        try:
            runner.setup(only_first=2, shared=4, leads=LEADS, steps=STEPS)
            runner.run_until_delivered(LEADS * STEPS // 4)
            postgres.restart(down_seconds)  # returns once it accepts connections again
            resumed_after = runner.seconds_to_next_delivery(wait=60)
            print(f"\nfirst delivery {resumed_after:.1f} s after the server was back")
            runner.finish(wait=180)
        finally:
            runner.stop_all()
        result = runner.result(started)
        logs = {copy: runner.log_text(copy) for copy in (1, 2)}
        stderr = {copy: runner.stderr_text(copy) for copy in (1, 2)}

    assert resumed_after < 30, f"sending resumed {resumed_after:.1f} s after the server"
    assert result.duplicates == [], "an email was delivered twice"
    assert result.missing == [], "an email was never delivered"
    assert sum(result.delivered.values()) == result.emails_expected == LEADS * STEPS
    assert result.record_states["sending"] == 0 and result.record_states["unknown"] == 0
    assert result.integrity == []
    assert result.exit_codes == [0, 0]
    for copy in (1, 2):
        log = logs[copy]
        # Said once, not once a tick: one "unreachable" and one "reachable again" line (a copy
        # that only met an old connection once the server was back has nothing to say).
        outages = len(re.findall(r"team database unreachable", log))
        assert outages == len(re.findall(r"team database reachable again", log)), log[-3000:]
        assert outages == (1 if down_seconds else outages) and outages <= 1, log[-3000:]
        assert log.count("connection already closed") <= 2, log[-3000:]
        assert "Traceback" not in log, log[-3000:]
        assert stderr[copy].strip() == "", stderr[copy]


@pytest.fixture
def own_postgres(test_pki: TestPKI) -> Iterator[PostgresServer]:
    """A server of this test's own (it is crashed; the session's server is shared)."""
    with PostgresServer(test_pki, durable=True) as server:
        yield server


def test_a_copy_that_cannot_reach_its_database_gives_up_with_one_line(
        test_pki: TestPKI, own_postgres: PostgresServer) -> None:
    """Past the limit (here 3 s: MAILMONITOR_DATABASE_GIVE_UP) a headless copy exits 1 with one
    line on stderr, for its service manager to start it again."""
    url = own_postgres.create_database("giveup")
    with tempfile.TemporaryDirectory(prefix="mm-giveup-") as tmp, \
            mail_servers(test_pki) as (dovecot, sink):
        runner = TeamKillRunner(dovecot, sink, Path(tmp), url, lease_seconds=3)
        runner.env[1]["MAILMONITOR_DATABASE_GIVE_UP"] = "3"
        try:
            runner.setup(only_first=1, shared=0, leads=2, steps=1)
            process = runner.start(1)
            deadline = time.monotonic() + 60
            while len(sink.messages()) < 2:
                assert process.poll() is None, runner.stderr_text(1)
                assert time.monotonic() < deadline, "the copy sent nothing"
                time.sleep(0.05)
            own_postgres.crash()
            crashed = time.monotonic()
            code = process.wait(timeout=60)
            took = time.monotonic() - crashed
        finally:
            runner.stop_all()
        stderr = runner.stderr_text(1)
        log = runner.log_text(1)
    print(f"\nexit {code} {took:.1f} s after the crash: {stderr.strip()}")
    assert code == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert re.fullmatch(r"mailmonitor: the team database has been unreachable since "
                        r"\d\d:\d\d \(\d+ seconds; last error: .+\): stopping so that the "
                        r"service manager starts mailmonitor again", lines[0]), lines[0]
    assert 3 <= took < 20
    assert log.count("team database unreachable") == 1
    assert "Traceback" not in log


def test_a_commit_whose_connection_the_server_dropped_fails_instead_of_landing_elsewhere(
        own_postgres: PostgresServer) -> None:
    """Once any thread found the server gone, every connection opened before is replaced at
    the start of the next unit of work — never at COMMIT: a COMMIT sent on a new connection
    "succeeds" (nothing to commit there) while the real transaction was lost, and an email
    handed over on that word would be sent again (found by the restart test above)."""
    open_db(own_postgres.create_database("commit"))
    first, idle = ThreadPoolExecutor(1), ThreadPoolExecutor(1)
    try:
        set_setting("notify_cursor", 1)
        for worker in (first, idle):  # both threads hold a connection from before
            assert worker.submit(lambda: db.execute_sql("SELECT 1").fetchone()).result() == (1,)
        with pytest.raises(pw.DatabaseError), db.atomic():
            db.execute_sql("UPDATE setting SET value = '2' WHERE key = 'notify_cursor'")
            own_postgres.restart()
            # Another thread meets the dead server first (its statement is not retried).
            with pytest.raises(pw.OperationalError):
                first.submit(lambda: db.execute_sql("SELECT 1")).result()
        assert get_setting("notify_cursor") == 1  # the lost transaction did not land
        # A thread that was idle meanwhile starts on a new connection, without an error first.
        assert idle.submit(lambda: db.execute_sql("SELECT 1").fetchone()).result() == (1,)
        assert first.submit(lambda: db.execute_sql("SELECT 1").fetchone()).result() == (1,)
    finally:
        first.shutdown()
        idle.shutdown()
        close_db()


def test_a_connect_that_hangs_holds_no_other_thread(postgres_database: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """peewee opens every thread's connection under one lock: a connect that hangs (the
    server going away mid-handshake, a cut network: up to connect_timeout) held every other
    thread's reconnect behind it, the window's event loop's too."""
    open_db(postgres_database)
    database = db.obj
    real = type(database)._connect
    gate = threading.Event()

    def hanging(self: object) -> object:
        if threading.current_thread().name == "hung":
            gate.wait(10)
        return real(self)

    monkeypatch.setattr(type(database), "_connect", hanging)
    hung = threading.Thread(target=lambda: database.execute_sql("SELECT 1"), name="hung")
    try:
        hung.start()
        time.sleep(0.2)  # it is in its connect now
        started = time.monotonic()
        with ThreadPoolExecutor(1) as other:
            assert other.submit(lambda: database.execute_sql("SELECT 1").fetchone()
                                ).result(timeout=5) == (1,)
        assert time.monotonic() - started < 1
    finally:
        gate.set()
        hung.join(timeout=10)
        close_db()
