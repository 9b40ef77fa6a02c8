"""Spec §6 replies and bounces: what an incoming message is taken for, and what it does to the
lead. The IMAP side is covered by tests/integration/test_sending.py."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from mailmonitor.models import Account, Campaign, Lead
from mailmonitor.services.sending.replies import (
    AUTO_REPLY,
    BOUNCE,
    REPLY,
    apply_message,
    bounced_message_ids,
    classify_message,
    delivery_failed,
    parse,
)
from tests import mail_samples as samples
from tests.factories import make_account, make_campaign, make_lead, record_send, reload

NOW = datetime(2026, 11, 24, 10, 0)
REP = "rep@sales.example"


@pytest.mark.parametrize("style", ["auto-submitted", "precedence", "x-autoreply", "subject"])
def test_automatic_replies_are_recognised(style: str) -> None:
    message = parse(samples.out_of_office("ada@x.example", REP, "<1@sales.example>", style))
    assert classify_message(message) == AUTO_REPLY


def test_a_person_answering_is_a_reply_and_a_read_receipt_is_not() -> None:
    assert classify_message(parse(samples.reply("ada@x.example", REP, "<1@s.example>"))) == REPLY
    receipt = parse(samples.read_receipt("ada@x.example", REP, "<1@s.example>"))
    assert classify_message(receipt) == AUTO_REPLY


def test_a_dsn_names_the_original_message_and_a_delay_is_not_a_failure() -> None:
    raw = samples.delivery_status(None, "ada@x.example", REP, original_id="<1@sales.example>")
    message = parse(raw)
    assert classify_message(message) == BOUNCE
    assert delivery_failed(message)
    assert bounced_message_ids(message, raw) == ["<1@sales.example>"]
    delayed = parse(samples.delivery_status(None, "ada@x.example", REP, action="delayed",
                                            status="4.4.1", original_id="<1@sales.example>"))
    assert classify_message(delayed) == BOUNCE and not delivery_failed(delayed)


def test_an_old_style_bounce_quoting_the_message_id_counts() -> None:
    raw = samples.plain_bounce("<1@sales.example>", "ada@x.example", REP)
    message = parse(raw)
    assert classify_message(message) == BOUNCE and delivery_failed(message)
    assert "<1@sales.example>" in bounced_message_ids(message, raw)


@pytest.fixture
def sent(db: Path) -> tuple[Account, Campaign, dict[str, Lead], dict[str, str]]:
    account = make_account(REP)
    campaign = make_campaign("C", [account], steps=3)
    leads, ids = {}, {}
    for name in ("ada", "bo", "cy", "di"):
        lead = make_lead(campaign, f"{name}@x.example", account, cursor=1)
        leads[name] = lead
        ids[name] = record_send(lead, account, NOW, step=0).message_id
    return account, campaign, leads, ids


def test_replies_stop_the_lead_auto_replies_do_not_bounces_bounce(sent: tuple) -> None:
    account, _campaign, leads, ids = sent
    messages = [
        samples.reply("ada@x.example", REP, ids["ada"]),
        samples.out_of_office("bo@x.example", REP, ids["bo"]),
        samples.delivery_status(None, "cy@x.example", REP, original_id=ids["cy"]),
        samples.delivery_status(None, "di@x.example", REP, action="delayed", status="4.4.1",
                                original_id=ids["di"]),
    ]
    outcomes = [apply_message(account, parse(raw), raw, NOW) for raw in messages]
    assert outcomes == [REPLY, AUTO_REPLY, BOUNCE, None]
    states = {name: reload(lead).state for name, lead in leads.items()}
    assert states == {"ada": "replied", "bo": "active", "cy": "bounced", "di": "active"}
    assert reload(leads["ada"]).next_due_at is None


def test_a_reply_without_threading_headers_is_matched_by_the_leads_address(sent: tuple
                                                                            ) -> None:
    account, _campaign, leads, _ids = sent
    raw = samples.reply("Bo@X.example", REP, None, subject="your email")
    assert apply_message(account, parse(raw), raw, NOW) == REPLY
    assert reload(leads["bo"]).state == "replied"


def test_mail_from_strangers_or_from_the_mailbox_itself_changes_nothing(sent: tuple) -> None:
    account, _campaign, _leads, ids = sent
    stranger = samples.reply("someone@else.example", REP, None)
    own = samples.reply(REP, REP, ids["ada"])
    assert apply_message(account, parse(stranger), stranger, NOW) is None
    assert apply_message(account, parse(own), own, NOW) is None
    assert {lead.state for lead in Lead.select()} == {"active"}


def test_a_finished_lead_that_answers_later_shows_it_replied(sent: tuple) -> None:
    account, _campaign, leads, ids = sent
    Lead.update(state="completed").where(Lead.id == leads["ada"].id).execute()
    raw = samples.reply("ada@x.example", REP, ids["ada"])
    apply_message(account, parse(raw), raw, NOW)
    assert reload(leads["ada"]).state == "replied"
