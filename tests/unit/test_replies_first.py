"""Replies before sends (issue 11): a mailbox's INBOX is read before a follow-up goes out when
its last poll is older than the step's due time. Fake SMTP and a stand-in reader here; the real
Dovecot restart case is tests/integration/test_replies_before_sends.py."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from mailmonitor.clock import FakeClock
from mailmonitor.models import Lead, MailboxSync
from mailmonitor.services.sending.engine import SendingEngine
from tests.factories import make_account, make_campaign, make_leads
from tests.fake_smtp import FakeServer, fake_credentials


class Reader:
    """Stands in for ReplyReader.poll: "reads" the inbox by marking these leads replied, and
    notes how many emails had gone out when it was asked."""

    def __init__(self, clock: FakeClock, server: FakeServer, replied: list[int],
                 ok: bool = True) -> None:
        self.clock, self.server, self.replied, self.ok = clock, server, replied, ok
        self.calls: list[tuple[int, int]] = []

    def __call__(self, account_id: int) -> bool:
        self.calls.append((account_id, len(self.server.delivered)))
        if not self.ok:
            return False
        Lead.update(state="replied").where(Lead.id.in_(self.replied)).execute()
        sync, _ = MailboxSync.get_or_create(account=account_id, folder="INBOX")
        sync.polled_at = self.clock.now()
        sync.save()
        return True


def engine(clock: FakeClock, server: FakeServer, reader: Reader) -> SendingEngine:
    return SendingEngine(clock, credentials=fake_credentials, transport_factory=server.factory,
                         save_copy=lambda account: False, rng=random.Random(2),
                         read_replies=reader)


def test_the_inbox_is_read_before_a_follow_up_whose_due_time_is_after_the_last_poll(
        db: Path, clock: FakeClock) -> None:
    box = make_account("a@example.com", min_gap_seconds=0)
    campaign = make_campaign("C", [box], steps=3)
    due = clock.now() - timedelta(hours=5)  # became due while the app was closed
    ids = make_leads(campaign, box, 3, cursor=1, next_due_at=due)
    MailboxSync.create(account=box, folder="INBOX", polled_at=due - timedelta(hours=1))
    server = FakeServer()
    reader = Reader(clock, server, replied=[ids[0]])
    assert engine(clock, server, reader).run_once().sent == 2
    assert reader.calls == [(box.id, 0)]  # read first, before any email went out
    assert {d.rcpt for d in server.delivered} == {"lead1@leads.example", "lead2@leads.example"}
    assert Lead.get_by_id(ids[0]).state == "replied"


def test_no_extra_poll_when_the_last_one_is_newer_than_the_due_time(db: Path,
                                                                    clock: FakeClock) -> None:
    box = make_account("a@example.com", min_gap_seconds=0)
    campaign = make_campaign("C", [box], steps=3)
    make_leads(campaign, box, 2, cursor=1, next_due_at=clock.now() - timedelta(minutes=10))
    MailboxSync.create(account=box, folder="INBOX", polled_at=clock.now() - timedelta(minutes=2))
    make_leads(campaign, box, 2, prefix="new")  # first emails never wait for a poll
    server = FakeServer()
    reader = Reader(clock, server, replied=[])
    assert engine(clock, server, reader).run_once().sent == 4
    assert reader.calls == []


def test_an_unreadable_inbox_holds_follow_ups_but_not_first_emails(db: Path,
                                                                 clock: FakeClock) -> None:
    box = make_account("a@example.com", min_gap_seconds=0)
    campaign = make_campaign("C", [box], steps=3)
    make_leads(campaign, box, 2, cursor=1, next_due_at=clock.now() - timedelta(hours=1))
    make_leads(campaign, box, 1, prefix="new")
    server = FakeServer()
    reader = Reader(clock, server, replied=[], ok=False)
    sending = engine(clock, server, reader)
    assert sending.run_once().sent == 1
    assert [d.rcpt for d in server.delivered] == ["new0@leads.example"]
    assert sending.run_once().sent == 0 and len(reader.calls) == 1  # not re-asked at once
    clock.advance(minutes=1, seconds=1)
    reader.ok = True
    assert sending.run_once().sent == 2
    assert len(reader.calls) == 2
