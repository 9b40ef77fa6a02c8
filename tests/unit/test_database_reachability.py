"""Issue 21, part 1, without a server: which errors mean "the team database is out of reach",
and what a copy's DatabaseLink does about them, on a fake clock (no sleeping)."""

from __future__ import annotations

import logging
from datetime import timedelta

import peewee as pw
import psycopg2
import psycopg2.errors
import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.events import bus
from mailmonitor.models.database import is_connection_lost
from mailmonitor.services.team.reachability import (
    REACHABILITY_CHANGED,
    DatabaseLink,
    Outage,
    give_up_after_from_settings,
)


def wrapped(error: Exception) -> pw.DatabaseError:
    """As peewee re-raises a driver error: its own class, the original first in args."""
    return pw.OperationalError(error, *error.args)


@pytest.mark.parametrize(("error", "lost"), [
    (psycopg2.InterfaceError("connection already closed"), True),
    (psycopg2.OperationalError("server closed the connection unexpectedly"), True),
    (psycopg2.OperationalError("SSL SYSCALL error: EOF detected"), True),
    (psycopg2.OperationalError('connection to server at "127.0.0.1", port 5 failed: '
                               "Connection refused"), True),
    (psycopg2.errors.AdminShutdown("terminating connection due to administrator command"),
     True),
    (psycopg2.errors.QueryCanceled("canceling statement due to statement timeout"), False),
    (psycopg2.errors.DeadlockDetected("deadlock detected"), False),
    (psycopg2.errors.UniqueViolation("duplicate key"), False),
    (psycopg2.errors.ReadOnlySqlTransaction("read-only transaction"), False),
])
def test_which_errors_mean_the_server_is_out_of_reach(error: Exception, lost: bool) -> None:
    assert is_connection_lost(error) is lost
    assert is_connection_lost(wrapped(error)) is lost


def test_sqlite_errors_never_count() -> None:
    assert not is_connection_lost(pw.OperationalError("database is locked"))
    assert not is_connection_lost(pw.OperationalError("disk I/O error"))


class Server:
    def __init__(self) -> None:
        self.up = False
        self.asked = 0

    def probe(self) -> None:
        self.asked += 1
        if not self.up:
            raise psycopg2.OperationalError("Connection refused")


GONE = wrapped(psycopg2.OperationalError("server closed the connection unexpectedly"))


def test_an_outage_is_said_once_probed_with_backoff_and_ends_when_the_server_answers(
        caplog: pytest.LogCaptureFixture) -> None:
    clock, server = FakeClock(), Server()
    link = DatabaseLink(clock, server.probe, give_up_after=timedelta(minutes=10))
    seen: list[Outage | None] = []
    bus.subscribe(REACHABILITY_CHANGED, seen.append)
    try:
        caplog.set_level(logging.INFO)
        start = clock.now()
        for _ in range(5):  # every loop of the copy meets it: one outage
            assert link.lost(GONE)
        assert not link.reachable and link.probe_due()  # asked at once
        assert not link.probe()
        assert link.outage == Outage(start, "server closed the connection unexpectedly")
        asked_at = []
        while clock.now() - start < timedelta(seconds=60):
            clock.advance(seconds=0.25)
            if link.probe_due():
                asked_at.append(round((clock.now() - start).total_seconds(), 2))
                assert not link.probe()
        # 0.5, 1, 2, 4, 8 s after each failed probe, then every 10 s.
        assert asked_at[:7] == [0.5, 1.5, 3.5, 7.5, 15.5, 25.5, 35.5]
        assert not link.gave_up()
        server.up = True
        clock.advance(seconds=10)
        assert link.probe() and link.reachable and link.outage is None
        assert link.outages == 1
        messages = [r.getMessage() for r in caplog.records
                    if r.name.endswith("reachability") and r.levelno >= logging.INFO]
        assert len(messages) == 2
        assert messages[0].startswith("team database unreachable (server closed the "
                                      "connection unexpectedly): sending and leases held")
        assert messages[1].startswith("team database reachable again after ")
        assert seen == [Outage(start, "server closed the connection unexpectedly"), None]
    finally:
        bus.unsubscribe(REACHABILITY_CHANGED, seen.append)


def test_a_stale_connection_after_a_quick_restart_is_not_an_outage(
        caplog: pytest.LogCaptureFixture) -> None:
    """The server restarted before anyone noticed: the first statement on an old connection
    fails, the link asks, the server answers — nothing to say, nothing held any more."""
    clock, server = FakeClock(), Server()
    server.up = True
    link = DatabaseLink(clock, server.probe)
    caplog.set_level(logging.INFO)
    assert link.lost(GONE) and not link.reachable  # held while in doubt
    assert link.probe() and link.reachable
    assert link.outages == 0 and not caplog.records


def test_other_errors_are_left_to_the_caller() -> None:
    link = DatabaseLink(FakeClock(), Server().probe)
    assert not link.lost(pw.IntegrityError("duplicate key"))
    assert not link.lost(ValueError("a bug"))
    assert link.reachable


def test_past_the_limit_the_copy_gives_up_and_says_why_in_one_line() -> None:
    clock, server = FakeClock(), Server()
    link = DatabaseLink(clock, server.probe, give_up_after=timedelta(minutes=10))
    link.lost(GONE)
    link.probe()
    clock.advance(minutes=9, seconds=59)
    assert not link.gave_up()
    clock.advance(seconds=1)
    assert link.gave_up()
    line = link.give_up_line()
    assert "\n" not in line
    assert line.startswith("the team database has been unreachable since ")
    assert "(10 minutes; last error: server closed the connection unexpectedly)" in line


def test_a_window_never_gives_up() -> None:
    clock = FakeClock()
    link = DatabaseLink(clock, Server().probe, give_up_after=None)
    link.lost(GONE)
    link.probe()
    clock.advance(days=2)
    assert not link.gave_up() and link.outage is not None
    assert link.outage.text.startswith("Team database unreachable since ")
    assert link.outage.text.endswith(" — sending held")


def test_the_limit_comes_from_the_environment_or_the_setting(
        monkeypatch: pytest.MonkeyPatch, db: object) -> None:
    from mailmonitor.models import set_setting

    assert give_up_after_from_settings() == timedelta(minutes=10)
    set_setting("team_database_give_up_minutes", 3)
    assert give_up_after_from_settings() == timedelta(minutes=3)
    monkeypatch.setenv("MAILMONITOR_DATABASE_GIVE_UP", "45")
    assert give_up_after_from_settings() == timedelta(seconds=45)
