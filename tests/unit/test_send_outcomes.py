"""Spec §6 sending outcomes and crash safety, with a scripted SMTP stand-in: what each server
answer does to the record, the lead and the mailbox, and how interrupted sends are settled."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Lead, SendRecord
from mailmonitor.services.sending.engine import SendingEngine
from mailmonitor.services.sending.reconcile import reconcile_pending
from mailmonitor.services.sending.sender import (
    ACCOUNT,
    BLOCKED,
    MESSAGE,
    RECIPIENT,
    SENDER,
    TRANSIENT,
    SendError,
    dot_stuffed,
    permanent_kind,
)
from mailmonitor.services.sending.sendlog import MAX_ATTEMPTS
from tests.attention_support import conditions
from tests.factories import make_account, make_campaign, make_lead, reload
from tests.fake_smtp import Crash, FakeServer, fake_credentials

pytestmark = pytest.mark.both_databases  # model and campaign rules: SQLite and PostgreSQL

NOW = datetime(2026, 11, 23, 9, 0)


@pytest.fixture
def setup(db: Path) -> tuple[FakeClock, FakeServer, Account, SendingEngine]:
    clock = FakeClock(NOW)
    server = FakeServer()
    account = make_account("rep@sales.example", min_gap_seconds=0)
    campaign = make_campaign("C", [account], steps=2)
    for name in ("ada", "bo", "cy"):
        make_lead(campaign, f"{name}@x.example", account, fields={"first_name": name})
    engine = SendingEngine(clock, credentials=fake_credentials, transport_factory=server.factory,
                           save_copy=lambda a: False, rng=random.Random(1),
                           lookup=lambda account, ids: set())
    return clock, server, account, engine


def lead(email: str) -> Lead:
    return Lead.get(Lead.email == email)


def records(email: str) -> list[tuple[int, str]]:
    return [(r.step, r.state) for r in SendRecord.select().join(Lead)
            .where(Lead.email == email).order_by(SendRecord.id)]


# --- what the server says -------------------------------------------------------------------

def test_a_sent_email_is_recorded_before_and_after_with_the_cursor_moved(setup: tuple) -> None:
    _clock, server, account, engine = setup
    states_seen: list[tuple[str, bool]] = []
    original = server.factory

    def spying_factory(*args: object) -> object:
        transport = original(*args)  # type: ignore[arg-type]
        send = transport.send

        def spy(mail_from: str, rcpt: str, data: bytes, on_handover: object) -> str:
            record = SendRecord.get(SendRecord.state == "sending")
            states_seen.append((record.state, record.handed_over_at is None))

            def handover() -> None:
                on_handover()  # type: ignore[operator]
                states_seen.append(("handed", SendRecord.get_by_id(record.id)
                                    .handed_over_at is not None))
            return send(mail_from, rcpt, data, handover)

        transport.send = spy
        return transport

    engine.sender.transport_factory = spying_factory
    assert engine.run_until_idle() == 3
    assert states_seen[:2] == [("sending", True), ("handed", True)]
    ada = lead("ada@x.example")
    record = SendRecord.get(SendRecord.lead == ada)
    assert (record.state, record.sent_at, record.step) == ("sent", NOW, 0)
    assert (ada.cursor, ada.messages_sent, ada.last_message_id) == (1, 1, record.message_id)
    assert server.by_rcpt("ada@x.example")[0]["Message-ID"] == record.message_id
    assert reload(account).last_sent_at == NOW


def test_rejected_sign_in_disconnects_the_mailbox_at_once_and_halts_its_leads(
        setup: tuple) -> None:
    clock, server, account, engine = setup
    server.open_error[account.email] = SendError(
        ACCOUNT, "auth", "535 5.7.8 Username and Password not accepted", 535,
        "invalid_credentials")
    assert engine.run_until_idle() == 0
    stored = reload(account)
    assert (stored.status, stored.reason) == ("disconnected", "invalid_credentials")
    assert {(lead.state, lead.cursor) for lead in Lead.select()} == {("halted", 0)}
    assert SendRecord.select().count() == 0
    [card] = conditions(clock.now())
    assert (card.kind, card.mailboxes) == ("mailbox_broken", [account.email])
    assert card.title == f"{account.email} is disconnected: Invalid Credentials"


def test_temporary_trouble_defers_the_lead_and_the_mailbox_backs_off(setup: tuple) -> None:
    clock, server, account, engine = setup
    server.script["ada@x.example"] = [SendError(TRANSIENT, "rcpt", "451 4.3.0 try later", 451,
                                                alive=True)]
    report = engine.run_once()
    assert report.sent == 0
    assert records("ada@x.example") == [(0, "failed")]
    assert lead("ada@x.example").next_due_at == NOW + timedelta(minutes=15)
    assert reload(account).status == "connected"  # a retry, not a verdict on the account
    clock.advance(seconds=59)
    assert engine.run_once().sent == 0  # backing off
    clock.advance(seconds=2)
    assert engine.run_until_idle() == 2  # the others; ada waits for her retry time
    clock.advance(minutes=15)
    assert engine.run_until_idle() == 1
    assert records("ada@x.example") == [(0, "failed"), (0, "sent")]


def test_a_recipient_refused_for_good_bounces_that_lead_only(setup: tuple) -> None:
    _clock, server, account, engine = setup
    server.script["bo@x.example"] = [SendError(RECIPIENT, "rcpt", "550 5.1.1 no such user", 550,
                                               alive=True)]
    assert engine.run_until_idle() == 2
    assert lead("bo@x.example").state == "bounced"
    assert {lead("ada@x.example").state, lead("cy@x.example").state} == {"active"}
    assert reload(account).status == "connected"


def test_a_message_refused_for_good_is_flagged_for_the_rep(setup: tuple) -> None:
    _clock, server, _account, engine = setup
    server.script["cy@x.example"] = [SendError(MESSAGE, "end_of_data",
                                               "554 5.6.0 Message content rejected", 554,
                                               alive=True)]
    assert engine.run_until_idle() == 2
    cy = lead("cy@x.example")
    assert cy.state == "pending" and cy.flag is not None and "content rejected" in cy.flag


def test_a_step_that_keeps_failing_is_flagged_instead_of_retried_for_ever(setup: tuple) -> None:
    clock, server, _account, engine = setup
    server.script["ada@x.example"] = [SendError(TRANSIENT, "data", "451 4.7.1 later", 451,
                                                alive=True) for _ in range(10)]
    for _ in range(MAX_ATTEMPTS + 2):
        engine.run_until_idle()
        clock.advance(hours=2)
    assert records("ada@x.example") == [(0, "failed")] * MAX_ATTEMPTS
    assert lead("ada@x.example").flag is not None


@pytest.mark.parametrize(("phase", "code", "text", "kind"), [
    ("rcpt", 550, "550 5.1.1 <x@y>: Recipient address rejected: User unknown", RECIPIENT),
    ("rcpt", 550, "550 Requested action not taken: mailbox unavailable", RECIPIENT),
    ("rcpt", 550, "550 5.2.1 The email account that you tried to reach is disabled", RECIPIENT),
    ("rcpt", 554, "554 5.7.1 Relay access denied", MESSAGE),
    ("mail", 550, "550 5.7.1 Sender address rejected", SENDER),
    ("end_of_data", 550, "550 5.4.5 Daily user sending quota exceeded", SENDER),
    ("end_of_data", 554, "554 5.6.0 Message content rejected", MESSAGE),
    ("end_of_data", 554, "554 5.7.1 Message rejected as spam", BLOCKED),
    ("rcpt", 550, "550 5.7.1 Service unavailable; client host blocked using Spamhaus", BLOCKED),
    ("end_of_data", 550, "550 5.7.26 Unauthenticated email is not accepted", BLOCKED),
    ("mail", 550, "550 5.7.606 Access denied, banned sending IP", BLOCKED),
])
def test_permanent_answers_are_about_the_mailbox_the_address_or_the_message(
        phase: str, code: int, text: str, kind: str) -> None:
    assert permanent_kind(phase, code, text) == kind


def test_data_is_dot_stuffed_and_ends_with_crlf() -> None:
    assert dot_stuffed(b"a\r\n.hidden\n..two\r\nend") == b"a\r\n..hidden\r\n...two\r\nend\r\n"


# --- crash safety ---------------------------------------------------------------------------

def crash_on(server: FakeServer, engine: SendingEngine, rcpt: str, how: str) -> None:
    server.script[rcpt] = [how]
    with pytest.raises(Crash):
        engine.run_once()


def test_killed_before_the_hand_over_is_proven_unsent_and_sent_again(setup: tuple) -> None:
    _clock, server, _account, engine = setup
    crash_on(server, engine, "cy@x.example", "crash_before_handover")
    assert records("cy@x.example") == [(0, "sending")]
    assert SendRecord.get(SendRecord.state == "sending").handed_over_at is None
    assert engine.run_until_idle() == 1  # the restart settles it first, then sends it again
    assert records("cy@x.example") == [(0, "failed"), (0, "sent")]
    assert len(server.by_rcpt("cy@x.example")) == 1
    assert lead("cy@x.example").cursor == 1


def test_killed_after_acceptance_is_found_on_the_server_and_counted_once(setup: tuple) -> None:
    _clock, server, _account, engine = setup
    crash_on(server, engine, "ada@x.example", "crash_after_accept")
    assert records("ada@x.example") == [(0, "sending")]
    delivered = {m["Message-ID"] for m in server.by_rcpt("ada@x.example")}
    engine.lookup = lambda account, ids: {i for i in ids if i in delivered}
    report = engine.run_once()
    assert report.reconciled is not None and report.reconciled.sent == 1
    assert records("ada@x.example") == [(0, "sent")]
    assert lead("ada@x.example").cursor == 1 and lead("ada@x.example").messages_sent == 1
    assert len(server.by_rcpt("ada@x.example")) == 1  # never sent twice


def test_a_provider_that_files_sends_proves_a_missing_copy_was_not_accepted(setup: tuple
                                                                             ) -> None:
    clock, server, account, engine = setup
    Account.update(kind="gmail").where(Account.id == account.id).execute()
    crash_on(server, engine, "ada@x.example", "crash_after_handover")
    report = reconcile_pending(clock.now(), lambda a, ids: set(), timedelta(minutes=10))
    assert (report.waiting, records("ada@x.example")) == (1, [(0, "sending")])  # settling
    clock.advance(minutes=11)
    assert engine.run_until_idle() == 3
    assert records("ada@x.example") == [(0, "failed"), (0, "sent")]
    assert len(server.by_rcpt("ada@x.example")) == 1


def test_without_a_copy_to_check_the_send_is_unknown_counted_and_the_rep_told(setup: tuple
                                                                               ) -> None:
    clock, server, account, engine = setup
    crash_on(server, engine, "ada@x.example", "crash_after_accept")
    assert engine.run_until_idle() == 2  # bo and cy; ada is not sent again
    assert records("ada@x.example") == [(0, "unknown")]
    ada = lead("ada@x.example")
    assert (ada.cursor, ada.state) == (1, "active")  # the sequence goes on
    [alert] = conditions(clock.now())
    assert alert.kind == "send_unknown"
    assert alert.title == f"Emails from {account.email} may or may not have been sent"
    assert "It is counted as sent" in alert.message
    assert "ada@x.example (step 1)" in alert.message
    assert len(server.by_rcpt("ada@x.example")) == 1
    clock.advance(days=3)
    engine.run_until_idle()
    follow_up = server.by_rcpt("ada@x.example")[-1]
    assert follow_up["In-Reply-To"] == SendRecord.get(SendRecord.state == "unknown").message_id


def test_an_unreachable_server_leaves_the_send_waiting_and_the_lead_untouched(setup: tuple
                                                                              ) -> None:
    _clock, server, _account, engine = setup
    crash_on(server, engine, "ada@x.example", "crash_after_accept")
    engine.lookup = lambda account, ids: None
    assert engine.run_until_idle() == 2
    assert records("ada@x.example") == [(0, "sending")]
    assert lead("ada@x.example").cursor == 0
    assert len(server.by_rcpt("ada@x.example")) == 1


def test_a_connection_lost_after_the_hand_over_is_settled_like_a_crash(setup: tuple) -> None:
    clock, server, _account, engine = setup
    server.script["ada@x.example"] = ["lost"]
    delivered: set[str] = set()
    engine.lookup = lambda account, ids: {i for i in ids if i in delivered}
    report = engine.run_once()
    assert report.batches[0].ambiguous == 1
    assert records("ada@x.example") == [(0, "sending")]
    delivered.update(m["Message-ID"] for m in server.by_rcpt("ada@x.example"))
    clock.advance(minutes=2)
    engine.run_until_idle()
    assert records("ada@x.example") == [(0, "sent")]
    assert len(server.by_rcpt("ada@x.example")) == 1
