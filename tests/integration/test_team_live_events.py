"""Issue 15: the live updates between copies carry each event once. One process (a
`run --headless` has both an announce-only publisher from the command line and its own
listening one) publishes every change once and never sends back what it heard — two
instances that guarded only themselves echoed each event between them forever, which cost
the sender most of its CPU."""

from __future__ import annotations

import json
import select
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mailmonitor import events
from mailmonitor.models import db as database
from mailmonitor.services.team.live import CHANNEL, LiveEvents, listen_connection

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)


@pytest.fixture
def channel(db: str) -> Iterator[Any]:
    """A raw LISTEN connection: what the other copies would hear."""
    conn = listen_connection(database.obj)
    yield conn
    conn.close()


def heard_until(conn: Any, marker: int, timeout: float = 10.0) -> list[tuple[str, list[Any]]]:
    """Every notification until one for account `marker` arrives."""
    heard: list[tuple[str, list[Any]]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([conn], [], [], 0.2)[0]:
            conn.poll()
            while conn.notifies:
                message = json.loads(conn.notifies.pop(0).payload)
                heard.append((message["o"], message["a"]))
                if message["a"] == [marker]:
                    return heard
    raise AssertionError(f"no notification for {marker} within {timeout} s: {heard}")


def test_one_process_publishes_each_event_once_and_echoes_nothing(channel: Any) -> None:
    announce_only = LiveEvents("cli-announce").start(listen=False)  # as the CLI starts it
    work = LiveEvents("background-work").start()  # as BackgroundWork starts it afterwards
    try:
        assert work.listening.wait(10)
        events.bus.emit(events.ACCOUNT_CHANGED, 1)
        events.bus.emit(events.ACCOUNT_CHANGED, 2)
        first = heard_until(channel, 2)
        events.bus.emit(events.ACCOUNT_CHANGED, 3)  # a full round trip later: any echo is in
        rest = heard_until(channel, 3)
        assert [args for _, args in first + rest] == [[1], [2], [3]]
        assert {origin for origin, _ in first + rest} == {"background-work"}
        assert work.received == 0  # its own process's notifications are not re-emitted
    finally:
        work.stop()
        announce_only.stop()


def test_an_event_heard_from_another_copy_is_re_emitted_locally_and_not_sent_back(
        channel: Any) -> None:
    seen: list[Any] = []
    events.bus.subscribe(events.CAMPAIGN_CHANGED, seen.append)
    LiveEvents("cli-announce").start(listen=False)
    work = LiveEvents("this-copy").start()
    try:
        assert work.listening.wait(10)
        payload = json.dumps({"o": "another-copy", "e": events.CAMPAIGN_CHANGED, "a": [7]})
        database.obj.execute_sql("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seen == [7] and work.received == 1
        events.bus.emit(events.CAMPAIGN_CHANGED, 8)  # this copy's own change goes out once
        heard = heard_until(channel, 8)
        assert [(o, a) for o, a in heard] == [("another-copy", [7]), ("this-copy", [8])]
    finally:
        events.bus.unsubscribe(events.CAMPAIGN_CHANGED, seen.append)
        work.stop()
