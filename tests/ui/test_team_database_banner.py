"""Issue 21: while the team database is out of reach the window says so in one banner line
("Team database unreachable since 14:02 — sending held"), and the line goes when it is back.
The outage is walked through as reachability's own unit tests do: a DatabaseLink on the fake
clock, whose probe fails until the "server" is up again; the link is the process's link
(reachability.register), as the running copy's is."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC

import peewee as pw
import psycopg2
import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Alert
from mailmonitor.services.team import reachability
from mailmonitor.services.team.reachability import DatabaseLink
from mailmonitor.ui.main_window import MainWindow

pytestmark = pytest.mark.ui

LOST = psycopg2.OperationalError("server closed the connection unexpectedly")
GONE = pw.OperationalError(LOST, *LOST.args)  # as peewee re-raises it


class Server:
    def __init__(self) -> None:
        self.up = False

    def probe(self) -> None:
        if not self.up:
            raise psycopg2.OperationalError("Connection refused")


@pytest.fixture
def link(clock: FakeClock) -> Iterator[tuple[DatabaseLink, Server]]:
    server = Server()
    found = DatabaseLink(clock, server.probe, give_up_after=None)  # a window never gives up
    reachability.register(found)
    yield found, server
    reachability.register(None)


def test_the_banner_says_since_when_the_team_database_is_unreachable_and_goes_when_back(
        make_window: Callable[..., MainWindow], clock: FakeClock,
        settle: Callable[[], None], link: tuple[DatabaseLink, Server]) -> None:
    database, server = link
    window = make_window()
    window.show()
    settle()
    banner = window.team_database
    assert banner.isHidden()

    started = clock.now()
    assert database.lost(GONE)  # every loop meets it; the link asks the server at once
    settle()
    assert banner.isHidden()  # only in doubt: a stale connection would end there, silently
    assert not database.probe()  # the server does not answer: unreachable (the event fires)
    settle()
    assert not banner.isHidden()  # (the welcome page may cover the content)
    since = started.replace(tzinfo=UTC).astimezone().strftime("%H:%M")  # the rep's clock
    line = banner.text.text()
    assert f"Team database unreachable since {since} — sending held" in line
    assert banner._buttons == []  # nothing to do: it reconnects by itself
    assert Alert.select().count() == 0  # never an alert

    server.up = True
    clock.advance(seconds=10)
    assert database.probe()  # back (the event fires again)
    settle()
    assert banner.isHidden()
    assert Alert.select().count() == 0


def test_the_slow_look_finds_an_outage_whose_event_was_missed(
        make_window: Callable[..., MainWindow], clock: FakeClock,
        settle: Callable[[], None], link: tuple[DatabaseLink, Server]) -> None:
    database, _server = link
    window = make_window()
    settle()
    window.ctx.bridge.close()  # no events reach the window any more
    database.lost(GONE)
    database.probe()
    settle()
    assert window.team_database.isHidden()
    window._reachability_timer.timeout.emit()
    assert not window.team_database.isHidden()
    assert "sending held" in window.team_database.text.text()
