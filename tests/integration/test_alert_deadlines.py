"""Issue 22: an alert delivery never stalls and never counts what was not confirmed.

Real receivers on loopback misbehave after reading the whole request: one answers a byte every
0.25 s (a valid answer, if anyone waited two minutes), one cuts its headers off mid-word, an
SMTP relay greets a byte at a time. The deadline is injected (a second or two), so each test
takes about as long as its deadline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mailmonitor.clock import FakeClock
from mailmonitor.logsetup import setup_logging
from mailmonitor.models import OutboxMessage
from mailmonitor.services.alerts import digest, outbox
from mailmonitor.services.alerts.channels import DeliveryError
from mailmonitor.services.alerts.manage import ChannelSpec, add_channel
from mailmonitor.services.alerts.reconciler import reconcile
from mailmonitor.services.monitoring.account_state import update_status
from tests.attention_support import conditions
from tests.factories import make_account
from tests.servers.bad_http import BadHttpReceiver
from tests.servers.scripted import Script, ScriptedServer
from tests.servers.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration

SECRET_PATH = "/services/T0SECRET1/B0SECRET2/xyzSECRET3"


@pytest.fixture
def drip() -> Iterator[BadHttpReceiver]:
    with BadHttpReceiver("drip", interval=0.25) as server:
        yield server


@pytest.fixture
def cut() -> Iterator[BadHttpReceiver]:
    with BadHttpReceiver("cut") as server:
        yield server


def one_alert(clock: FakeClock) -> None:
    """A disconnection, folded into one digest per channel."""
    account = make_account("broken@ex.test")
    update_status(account, "disconnected", "invalid_credentials", "535 5.7.8", clock.now())
    reconcile(clock.now())  # as the background loop does
    digest.collect_round(clock.now())


def test_a_receiver_answering_a_byte_at_a_time_is_cut_at_the_total_deadline(
        db: object, drip: BadHttpReceiver, clock: FakeClock) -> None:
    add_channel(ChannelSpec("Ops", "webhook", drip.url()), clock.now())
    one_alert(clock)
    started = time.monotonic()
    assert outbox.deliver_due(clock, timeout=1.5) == 0
    took = time.monotonic() - started
    # Each byte came well within any per-read timeout; the whole answer did not within 1.5 s.
    assert 1.5 <= took < 2.5, took
    assert drip.complete_requests() == 1 and 3 <= drip.answer_bytes_sent < 15
    message = OutboxMessage.get()
    # The whole request went out: it may have arrived, so it is never sent again on a guess.
    assert message.state == "unknown"
    assert "no complete answer within 1.5 s" in message.last_error
    assert [c.kind for c in conditions(clock.now(), "channel_failing")] == ["channel_failing"]


def test_notify_test_against_a_slow_receiver_answers_within_the_deadline(
        db: object, drip: BadHttpReceiver, clock: FakeClock) -> None:
    channel = add_channel(ChannelSpec("Ops", "webhook", drip.url()), clock.now())
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="no complete answer within 1 s"):
        outbox.send_test(channel, clock, timeout=1.0)
    assert time.monotonic() - started < 2.0


def test_one_slow_channel_holds_up_no_other(db: object, drip: BadHttpReceiver,
                                            clock: FakeClock) -> None:
    """Two lanes as the background work runs them: the quick receiver's alert arrives while
    the slow one's is still waiting for its answer."""
    with WebhookReceiver() as quick:
        slow = add_channel(ChannelSpec("Slow", "webhook", drip.url()), clock.now())
        fast = add_channel(ChannelSpec("Fast", "webhook", quick.url()), clock.now())
        one_alert(clock)
        assert outbox.due_channels(clock.now()) == [slow.id, fast.id]
        lanes = [threading.Thread(target=outbox.deliver_channel_due,
                                  args=(c.id, clock, 3.0)) for c in (slow, fast)]
        started = time.monotonic()
        for lane in lanes:
            lane.start()
        quick.wait_for(1, timeout=2.0)
        assert time.monotonic() - started < 1.0
        assert lanes[0].is_alive()  # the slow one is still waiting for its answer
        for lane in lanes:
            lane.join(10)
    states = {m.channel_id: m.state for m in OutboxMessage.select()}
    assert states == {slow.id: "unknown", fast.id: "sent"}


def test_a_stop_cuts_a_delivery_in_flight_at_once(db: object, drip: BadHttpReceiver,
                                                  clock: FakeClock) -> None:
    add_channel(ChannelSpec("Ops", "webhook", drip.url()), clock.now())
    one_alert(clock)
    stop = threading.Event()
    lane = threading.Thread(target=outbox.deliver_due, args=(clock, 20.0, stop))
    lane.start()
    drip.wait_for_request()
    stopped = time.monotonic()
    stop.set()
    lane.join(5)
    assert not lane.is_alive() and time.monotonic() - stopped < 0.5
    message = OutboxMessage.get()
    assert message.state == "unknown"  # handled as any delivery cut off after the hand-over
    assert "stopping" in message.last_error


def test_an_answer_cut_off_in_its_headers_is_not_a_delivery(
        db: object, data_dir: Path, cut: BadHttpReceiver, clock: FakeClock) -> None:
    log_file = setup_logging(data_dir, logging.DEBUG)  # libraries' debug lines too
    try:
        add_channel(ChannelSpec("Ops", "webhook", cut.url(SECRET_PATH)), clock.now())
        one_alert(clock)
        assert outbox.deliver_due(clock, timeout=5) == 0
        assert cut.complete_requests() == 1
        message = OutboxMessage.get()
        assert message.state == "unknown"  # it reached the receiver; nothing confirmed it
        assert "ended inside its headers" in message.last_error
        assert [c.kind for c in conditions(clock.now(), "channel_failing")] == ["channel_failing"]
    finally:
        logging.getLogger().setLevel(logging.INFO)
    text = log_file.read_text()
    assert "SECRET" not in text
    assert f"http://127.0.0.1:{cut.port}/…" in text


def test_no_library_writes_a_webhook_path_into_the_log(
        data_dir: Path, cut: BadHttpReceiver) -> None:
    """A plain requests call (not the app's) takes the cut-off answer for a 200, and urllib3
    warns about the headers naming the URL: the log keeps its scheme and host only, whoever
    logs it."""
    log_file = setup_logging(data_dir)
    with requests.post(cut.url(SECRET_PATH), data=b"{}", timeout=5) as answer:
        assert answer.status_code == 200  # what counted it as delivered before
    logging.getLogger("psycopg2").error(
        "connection to postgresql://mm:hunter2-db@127.0.0.1:5432/mm failed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_file.read_text()
    assert "SECRET" not in text and "hunter2-db" not in text
    assert f"(url=http://127.0.0.1:{cut.port}/…)" in text
    assert "postgresql://127.0.0.1:5432/…" in text


def test_an_email_relay_that_greets_a_byte_at_a_time_is_cut_at_the_deadline(
        db: object, clock: FakeClock) -> None:
    script = Script("smtp", trickle={"greeting": 0.25})
    with ScriptedServer(script) as relay:
        add_channel(ChannelSpec("Mail", "email", "rep@alerts.test", relay={
            "host": "127.0.0.1", "port": relay.port, "security": "plain", "username": "",
            "from": "alerts@ex.test"}), clock.now())
        one_alert(clock)
        started = time.monotonic()
        assert outbox.deliver_due(clock, timeout=1.5) == 0
        assert 1.5 <= time.monotonic() - started < 2.5
    message = OutboxMessage.get()
    # Nothing of the message went out: provably not delivered, so it is tried again later.
    assert message.state == "pending" and message.next_attempt_at is not None
    assert "no complete answer within 1.5 s" in message.last_error
