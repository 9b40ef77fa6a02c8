"""Spec §4 and §6 end to end: campaigns sent through a real Dovecot submission service to the
SMTP sink, replies and bounces read back over IMAP. The clock is injected and moved by the test;
nothing sleeps except Dovecot's one-second password-file refresh."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Campaign, Lead, SendRecord
from mailmonitor.services.auth import secrets
from mailmonitor.services.campaigns.lifecycle import reconnected
from mailmonitor.services.campaigns.reallocation import reallocate
from mailmonitor.services.campaigns.setup import assign_and_insert, create_campaign
from mailmonitor.services.common.validation import parse_window
from mailmonitor.services.monitoring.probes import Credentials
from mailmonitor.services.sending.engine import SendingEngine
from mailmonitor.services.sending.mailbox import find_message_ids, open_imap, sent_folder
from mailmonitor.services.sending.replies import poll_replies
from tests import mail_samples as samples
from tests.factories import reload
from tests.integration.mailboxes import STEPS, by_lead, deliveries, dovecot_account
from tests.servers.dovecot import Dovecot
from tests.servers.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

MONDAY_EARLY = datetime(2026, 11, 23, 6, 0)  # 07:00 in Berlin: before the window opens
BERLIN = ZoneInfo("Europe/Berlin")


def new_campaign(name: str, accounts: list[Account], leads: int, now: datetime,
                 window: str = "always", steps: list[dict[str, object]] | None = None
                 ) -> Campaign:
    campaign = create_campaign(name, [a.email for a in accounts], steps or STEPS,
                               parse_window(window), now)
    assign_and_insert(campaign, [(f"{name.lower()}{i}@leads.example",
                                  {"first_name": f"Lead{i}"}) for i in range(leads)], now)
    return campaign


def engine(clock: FakeClock) -> SendingEngine:
    return SendingEngine(clock, timeout=10, rng=random.Random(5))


def leads_of(account: Account) -> list[str]:
    return [lead.email for lead in Lead.select().where(Lead.mailbox == account)]


def test_three_steps_to_50_leads_from_3_mailboxes_within_window_and_limits(
        db: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    clock = FakeClock(MONDAY_EARLY)
    boxes = [dovecot_account(dovecot, dovecot.new_user(), daily_limit=12) for _ in range(3)]
    campaign = new_campaign("Q4", boxes, 50, clock.now(),
                            window="mon-fri 09:00-17:00 Europe/Berlin")
    sending = engine(clock)
    while clock.now() < MONDAY_EARLY + timedelta(days=21):
        sending.run_until_idle()
        if Lead.select().where(Lead.state != "completed").count() == 0:
            break
        clock.advance(minutes=30)
    assert {lead.state for lead in Lead.select()} == {"completed"}

    # Every step of every lead arrived exactly once.
    messages = smtp_sink.messages()
    counts = deliveries(messages)
    assert len(messages) == 150 and set(counts.values()) == {1}
    assert len({m.message_id for m in messages}) == 150

    # Sent only inside the window, never over a mailbox's daily limit.
    for record in SendRecord.select():
        local = record.created_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(BERLIN)
        assert local.weekday() < 5 and 9 <= local.hour < 17, local
    per_day = Counter((r.account_id, r.created_at.date()) for r in SendRecord.select())
    assert max(per_day.values()) == 12

    # Rotation: each lead hears from its one mailbox; the mailboxes share the work evenly.
    senders = Counter(m.mail_from for m in messages)
    assert sorted(senders.values()) == [48, 51, 51]
    for box in boxes:
        for address in leads_of(box):
            assert {m.mail_from for m in messages if m.rcpt_tos[0] == address} == {box.email}

    # Threading: step 2 answers step 1, step 3 answers both; subjects as the steps say.
    for address, steps in by_lead(messages).items():
        first, second, third = steps[1], steps[2], steps[3]
        name = Lead.get(Lead.email == address).fields["first_name"]
        assert first["Subject"] == f"Hello {name}" and first["In-Reply-To"] is None
        assert second["Subject"] == f"Re: Hello {name}"
        assert second["In-Reply-To"] == first["Message-ID"]
        assert second["References"] == first["Message-ID"]
        assert third["Subject"] == f"Last note for {name}"
        assert third["In-Reply-To"] == second["Message-ID"]
        assert third["References"].split() == [first["Message-ID"], second["Message-ID"]]

    # What the rep sees, and the copies kept in Sent (Dovecot does not file submissions).
    lead = Lead.select().first()
    assert (lead.cursor, lead.messages_sent, lead.state) == (3, 3, "completed")
    box = boxes[0]
    client = open_imap(box, Credentials(password=dovecot.password(box.email)), 10)
    try:
        folder = sent_folder(client)
        assert folder == "Sent"
        ids = [r.message_id for r in SendRecord.select().where(SendRecord.account == box)]
        assert find_message_ids(client, folder, ids) == set(ids)
    finally:
        client.logout()
    assert reload(campaign).status == "active"


def test_a_password_changed_on_the_server_halts_that_mailbox_until_reconnected(
        db: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    clock = FakeClock(MONDAY_EARLY)
    users = [dovecot.new_user() for _ in range(3)]
    boxes = [dovecot_account(dovecot, user) for user in users]
    new_campaign("Halt", boxes, 30, clock.now())
    sending = engine(clock)
    assert sending.run_until_idle() == 30

    broken = boxes[0]
    dovecot.set_password(broken.email, "changed-on-the-server")
    clock.advance(days=1)
    sending.run_until_idle()
    stored = reload(broken)
    assert (stored.status, stored.reason) == ("disconnected", "invalid_credentials")
    halted = leads_of(broken)
    assert {(lead.state, lead.cursor) for lead in Lead.select().where(Lead.mailbox == broken)} \
        == {("halted", 1)}
    others = Lead.select().where(Lead.mailbox != broken)
    assert {(lead.state, lead.cursor) for lead in others} == {("active", 2)}
    clock.advance(days=2)
    sending.run_until_idle()
    assert {lead.state for lead in Lead.select().where(Lead.mailbox != broken)} == {"completed"}
    assert {lead.cursor for lead in Lead.select().where(Lead.mailbox == broken)} == {1}

    # The rep stores the new password (one-click reconnect): the halted leads continue.
    secrets.set_secret(broken.email, "password", "changed-on-the-server")
    reconnected(reload(broken), clock.now())
    assert {lead.state for lead in Lead.select().where(Lead.mailbox == broken)} == {"active"}
    sending.run_until_idle()
    clock.advance(days=2)
    sending.run_until_idle()
    assert {lead.state for lead in Lead.select()} == {"completed"}

    counts = deliveries(smtp_sink.messages())
    assert len(counts) == 90 and set(counts.values()) == {1}  # none skipped, none doubled
    threads = by_lead(smtp_sink.messages())
    for address in halted:
        steps = threads[address]
        assert steps[2]["In-Reply-To"] == steps[1]["Message-ID"]
        assert steps[3]["In-Reply-To"] == steps[2]["Message-ID"]


def test_reallocated_leads_get_their_next_steps_from_the_new_mailbox(
        db: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    clock = FakeClock(MONDAY_EARLY)
    old, new = (dovecot_account(dovecot, dovecot.new_user()) for _ in range(2))
    campaign = new_campaign("Move", [old, new], 10, clock.now())
    sending = engine(clock)
    assert sending.run_until_idle() == 10
    moved = leads_of(old)
    dovecot.set_password(old.email, "nobody-knows-it")
    clock.advance(days=1)
    sending.run_until_idle()
    assert reload(old).status == "disconnected"

    plan = reallocate(reload(campaign), clock.now(), include_contacted=True)
    assert plan.total == len(moved) == 5
    sending.run_until_idle()
    clock.advance(days=2)
    sending.run_until_idle()

    counts = deliveries(smtp_sink.messages())
    assert len(counts) == 30 and set(counts.values()) == {1}
    threads = by_lead(smtp_sink.messages())
    for address in moved:
        first, second, third = (threads[address][n] for n in (1, 2, 3))
        assert old.email in first["From"]
        assert new.email in second["From"] and new.email in third["From"]
        name = Lead.get(Lead.email == address).fields["first_name"]
        assert second["Subject"] == f"Hello {name}"  # a new thread from the new address
        assert second["In-Reply-To"] is None
        assert third["In-Reply-To"] == second["Message-ID"]


def test_replies_stop_a_lead_out_of_office_does_not_a_bounce_bounces(
        db: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    clock = FakeClock(MONDAY_EARLY)
    box = dovecot_account(dovecot, dovecot.new_user())
    new_campaign("Replies", [box], 5, clock.now())
    sending = engine(clock)
    assert sending.run_until_idle() == 5
    first = {m.rcpt_tos[0]: m for m in smtp_sink.messages()}
    ids = {address: m.message_id for address, m in first.items()}
    assert all(ids.values())

    def deliver(raw: bytes) -> None:
        dovecot.deliver(box.email, raw)

    deliver(samples.reply("replies0@leads.example", box.email, ids["replies0@leads.example"]))
    deliver(samples.out_of_office("replies1@leads.example", box.email,
                                  ids["replies1@leads.example"]))
    deliver(samples.delivery_status(first["replies2@leads.example"].raw,
                                    "replies2@leads.example", box.email))
    deliver(samples.delivery_status(None, "replies3@leads.example", box.email, action="delayed",
                                    status="4.4.1", original_id=ids["replies3@leads.example"]))
    deliver(samples.reply("stranger@else.example", box.email, None))

    report = poll_replies(clock.now(), credentials_from(dovecot), timeout=10)
    assert (report.replied, report.auto_replies, report.bounced, report.seen) == (1, 1, 1, 5)
    states = {lead.email: lead.state for lead in Lead.select()}
    assert states == {"replies0@leads.example": "replied", "replies1@leads.example": "active",
                      "replies2@leads.example": "bounced", "replies3@leads.example": "active",
                      "replies4@leads.example": "active"}
    assert poll_replies(clock.now(), credentials_from(dovecot), timeout=10).seen == 0

    clock.advance(days=1)
    smtp_sink.clear()
    assert sending.run_until_idle() == 3
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages()) == [
        "replies1@leads.example", "replies3@leads.example", "replies4@leads.example"]

    # A reply without threading headers, matched by the lead's address.
    deliver(samples.reply("replies4@leads.example", box.email, None, subject="question"))
    assert poll_replies(clock.now(), credentials_from(dovecot), timeout=10).replied == 1
    clock.advance(days=2)
    smtp_sink.clear()
    sending.run_until_idle()
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages()) == [
        "replies1@leads.example", "replies3@leads.example"]


def credentials_from(dovecot: Dovecot):  # type: ignore[no-untyped-def]
    def credentials(account: Account, password: str | None, timeout: float) -> Credentials:
        return Credentials(password=dovecot.password(account.email))
    return credentials
