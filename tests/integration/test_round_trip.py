"""The round-trip test against a real Dovecot whose submission relays to a sink that delivers
back into Dovecot (tests/servers/delivering_sink.py): the test email lands in the INBOX, in
Junk (found by its SPECIAL-USE \\Junk flag) when a spam rule files it there, or nowhere; the
timings, the deletion afterwards, the check in the history and the command line's JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mailmonitor.models import Account, Alert, Check, close_db
from mailmonitor.services.monitoring.probes import Credentials
from mailmonitor.services.placement import round_trip
from tests.integration.mailboxes import dovecot_account
from tests.servers.certs import TestPKI
from tests.servers.delivering_sink import DeliveringSink
from tests.servers.dovecot import Dovecot, MailUser

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 10, 0)


@pytest.fixture(scope="module")
def delivering(test_pki: TestPKI) -> Iterator[tuple[Dovecot, DeliveringSink]]:
    with DeliveringSink() as sink, Dovecot(test_pki, relay_port=sink.port) as server:
        sink.dovecot = server
        yield server, sink


@pytest.fixture
def mail(delivering: tuple[Dovecot, DeliveringSink]) -> tuple[Dovecot, DeliveringSink, MailUser]:
    server, sink = delivering
    sink.deliver_all()
    sink.clear()
    return server, sink, server.new_user()


class FakeTime:
    """Waiting without sleeping: each sleep moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def folder_count(server: Dovecot, user: MailUser, folder: str) -> int:
    with server.imap() as client:
        client.login(user.email, user.password)
        count = int(client.select_folder(folder)[b"EXISTS"])
        client.logout()
    return count


def test_the_test_email_lands_in_the_inbox_and_is_deleted_after(db: Path, mail: tuple) -> None:
    server, sink, user = mail
    account = dovecot_account(server, user)
    result = round_trip.run_round_trip(account, Credentials(password=user.password), NOW,
                                       timeout=10, io_timeout=10)
    assert (result.outcome, result.folder, result.deleted, result.error) == (
        "inbox", "INBOX", True, None)
    assert result.send_ms is not None and result.arrival_ms is not None
    assert 0 <= result.arrival_ms <= result.total_ms < 10_000
    assert sink.routed == [(user.email, "INBOX")]
    raw = sink.messages()[0].raw
    assert f"{round_trip.TAG_HEADER}: {result.tag}".encode() in raw
    assert folder_count(server, user, "INBOX") == 0  # deleted after the test

    check = round_trip.record_round_trip(account, result, NOW)
    stored = Check.get_by_id(check.id)
    assert (stored.trigger, stored.status, stored.round_trip["outcome"]) == (
        "round_trip", "connected", "inbox")
    assert "arrived in the Inbox" in stored.detail
    assert Account.get_by_id(account.id).status == "connected"


def test_filed_in_junk_by_a_spam_rule_is_spam_with_an_alert(db: Path, mail: tuple) -> None:
    server, sink, user = mail
    sink.spam_words(b"automatic test from mailmonitor")
    account = dovecot_account(server, user)
    result = round_trip.run_round_trip(account, Credentials(password=user.password), NOW,
                                       timeout=10, io_timeout=10)
    assert (result.outcome, result.folder, result.deleted) == ("spam", "Junk", True)
    assert folder_count(server, user, "Junk") == 0
    round_trip.record_round_trip(account, result, NOW)
    alert = Alert.get((Alert.account == account) & (Alert.kind == "round_trip_failed"))
    assert "Arrived in Spam" in alert.title and "SPF, DKIM and DMARC" in alert.message
    # The next test that reaches the Inbox resolves it.
    sink.deliver_all()
    again = round_trip.run_round_trip(account, Credentials(password=user.password), NOW,
                                      timeout=10, io_timeout=10)
    round_trip.record_round_trip(account, again, NOW)
    assert Alert.get_by_id(alert.id).resolved_at is not None


def test_a_sink_that_drops_it_gives_not_arrived_after_the_timeout(db: Path, mail: tuple) -> None:
    server, sink, user = mail
    sink.drop_all()
    account = dovecot_account(server, user)
    fake = FakeTime()
    result = round_trip.run_round_trip(account, Credentials(password=user.password), NOW,
                                       timeout=30, io_timeout=10, sleep=fake.sleep,
                                       monotonic=fake.monotonic, poll_seconds=5)
    assert (result.outcome, result.folder, result.arrival_ms) == ("not_arrived", None, None)
    assert sum(fake.sleeps) == 30 and len(fake.sleeps) == 6  # polled every 5 s, no real wait
    assert result.total_ms == 30_000
    assert "did not arrive" in result.summary()


def test_a_refused_sign_in_is_not_sent_with_the_server_answer(db: Path, mail: tuple) -> None:
    server, _sink, user = mail
    account = dovecot_account(server, user)
    result = round_trip.run_round_trip(account, Credentials(password="wrong"), NOW,
                                       timeout=10, io_timeout=10)
    assert result.outcome == "not_sent" and result.error and "535" in result.error
    check = round_trip.record_round_trip(account, result, NOW)
    assert check.status == "disconnected" and "could not be sent" in check.detail


def test_check_round_trip_on_the_command_line(
        mail: tuple, data_dir: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    server, sink, user = mail
    other = server.new_user()
    for who in (user, other):
        code, _, err = cli("accounts", "add", "--email", who.email,
                           "--imap-host", server.host, "--imap-port", str(server.imap_port),
                           "--imap-security", "starttls", "--smtp-host", server.host,
                           "--smtp-port", str(server.submission_port), "--smtp-security",
                           "starttls", "--ca-file", str(server.pki.ca_cert), "--password-stdin",
                           stdin=who.password + "\n")
        assert code == 0, err
    sink.route = lambda rcpt, raw: "Junk" if rcpt == other.email else "INBOX"
    code, out, err = cli("check", "--json", "--round-trip", "--round-trip-timeout", "5")
    assert code == 1, err  # connected, but one mailbox's mail goes to spam
    rows = {row["email"]: row for row in json.loads(out)}
    assert rows[user.email]["status"] == "connected"
    assert rows[user.email]["round_trip"]["outcome"] == "inbox"
    assert rows[other.email]["round_trip"]["outcome"] == "spam"
    assert rows[other.email]["round_trip"]["folder"] == "Junk"
    assert rows[user.email]["imap"]["ok"] and rows[user.email]["smtp"]["ok"]
    code, out, _ = cli("check", user.email, "--round-trip")
    assert code == 0 and "round trip: Arrived in the Inbox after" in out
    code, _, err = cli("check", "--round-trip-timeout", "5")
    assert code == 3 and "needs --round-trip" in err
    code, _, err = cli("check", "--round-trip", "--round-trip-to", "nobody@else.example")
    assert code == 3 and "no account nobody@else.example" in err

    # To another of the rep's mailboxes: found over that mailbox's IMAP.
    sink.clear()
    code, out, err = cli("check", "--json", user.email, "--round-trip",
                         "--round-trip-to", other.email.upper())
    rows = {row["email"]: row for row in json.loads(out)}
    assert rows[user.email]["round_trip"]["recipient"] == other.email
    assert rows[user.email]["round_trip"]["outcome"] == "spam"  # other's provider files it so
    assert sink.messages()[0].rcpt_tos == (other.email,)
    close_db()


def test_the_background_runs_the_daily_round_trip_and_dns_check(db: Path, mail: tuple) -> None:
    import asyncio

    from mailmonitor.clock import FakeClock
    from mailmonitor.models import DomainAuth, set_setting
    from mailmonitor.services.desktop.background import BackgroundWork
    from mailmonitor.services.placement import daily
    from tests.servers.dns_server import DnsServer

    server, _sink, user = mail
    account = dovecot_account(server, user)
    clock = FakeClock(NOW)
    assert daily.round_trips_due(clock.now()) == []  # off by default
    set_setting("round_trip_daily", True)
    set_setting("round_trip_timeout_seconds", 10)
    assert [a.id for a in daily.round_trips_due(clock.now())] == [account.id]
    with DnsServer({"example.test": [("TXT", "v=spf1 a:127.0.0.1 -all")]}) as dns:
        set_setting("dns_resolver", dns.address)
        work = BackgroundWork(clock)
        try:
            asyncio.run(work.deliverability_round())
        finally:
            work.executor.shutdown(wait=True)
    trip = round_trip.last_round_trip(account)
    assert trip is not None and trip.round_trip["outcome"] == "inbox"
    assert DomainAuth.get(DomainAuth.domain == "example.test").checked_at == NOW
    assert daily.round_trips_due(clock.now()) == []  # done for today
    clock.advance(hours=25)
    assert [a.id for a in daily.round_trips_due(clock.now())] == [account.id]
