"""Spec §6 composing: templates and fallbacks, flagging instead of broken emails, sender name and
signature, the Message-ID fixed in advance, follow-ups threaded to the previous messages."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Lead, Step
from mailmonitor.services.sending.composer import MissingField, compose, render
from mailmonitor.services.sending.engine import SendingEngine
from mailmonitor.services.sending.sendlog import clear_flag
from tests.attention_support import conditions
from tests.factories import make_account, make_campaign, make_lead, record_send, reload
from tests.fake_smtp import FakeServer, fake_credentials

NOW = datetime(2026, 11, 23, 9, 0)


def engine_for(clock: FakeClock, server: FakeServer) -> SendingEngine:
    return SendingEngine(clock, credentials=fake_credentials, transport_factory=server.factory,
                         save_copy=lambda account: False, rng=random.Random(1))


# --- templates ------------------------------------------------------------------------------

def test_fields_fallbacks_and_the_email_fill_a_template() -> None:
    values = {"first_name": "Ada", "company": "", "email": "ada@x.example"}
    text = "Hi {{first_name}} at {{ company | your company }} ({{email}}), {{Title|}}!"
    assert render(text, values) == "Hi Ada at your company (ada@x.example), !"


def test_a_missing_field_without_fallback_names_every_missing_field() -> None:
    with pytest.raises(MissingField) as caught:
        render("Hi {{first_name}} from {{company}} in {{city|your city}}", {"company": " "},
               "Step 1's text")
    assert caught.value.fields == ["first_name", "company"]
    assert "Step 1's text needs first_name, company" in str(caught.value)


def test_field_names_are_case_insensitive_like_csv_headers(db: Path) -> None:
    account = make_account("rep@sales.example", name="Rita Rep")
    campaign = make_campaign("C", [account], steps=1)
    lead = make_lead(campaign, "ada@x.example", account, fields={"First_Name": "Ada"})
    step = Step.get(Step.campaign == campaign)
    step.subject, step.body = "Hello {{FIRST_NAME}}", "Hi {{first_name}}"
    composed = compose(lead, step, account, NOW)
    assert composed.subject == "Hello Ada"


# --- the message ----------------------------------------------------------------------------

def test_first_email_has_sender_name_signature_and_a_message_id_of_the_sender_domain(
        db: Path) -> None:
    account = make_account("rep@sales.example", name="Rita Rep",
                           signature="Rita Rep\nSales, Example Inc.")
    campaign = make_campaign("C", [account], steps=1)
    lead = make_lead(campaign, "ada@x.example", account, fields={"first_name": "Ada"})
    step = Step.get(Step.campaign == campaign)
    composed = compose(lead, step, account, NOW)
    message = composed.message
    assert message["From"] == "Rita Rep <rep@sales.example>"
    assert message["To"] == "ada@x.example"
    assert message["Subject"] == composed.subject == "Step 1 for Ada"
    assert composed.message_id == message["Message-ID"]
    assert parseaddr(composed.message_id)[1].endswith("@sales.example")
    assert message["In-Reply-To"] is None and message["References"] is None
    assert message["Date"] == "Mon, 23 Nov 2026 09:00:00 +0000"
    body = message.get_content()
    assert body.startswith("Body 1\n")
    assert "\n-- \nRita Rep\nSales, Example Inc.\n" in body
    assert b"\n" not in composed.data.replace(b"\r\n", b"")  # CRLF only, as on the wire


def test_follow_ups_thread_to_every_earlier_message_of_that_mailbox(db: Path) -> None:
    account = make_account("rep@sales.example")
    campaign = make_campaign("C", [account], steps=3)
    lead = make_lead(campaign, "ada@x.example", account, cursor=2, first_subject="Step 1 for Ada",
                     fields={"first_name": "Ada"})
    first = record_send(lead, account, NOW - timedelta(days=4), step=0)
    second = record_send(lead, account, NOW - timedelta(days=2), step=1)
    record_send(lead, account, NOW - timedelta(days=1), step=1, state="failed")  # not a message
    step = Step.get(Step.campaign == campaign, Step.position == 2)
    step.subject = ""
    composed = compose(lead, step, account, NOW)
    assert composed.message["In-Reply-To"] == second.message_id
    assert composed.message["References"] == f"{first.message_id} {second.message_id}"
    assert composed.subject == "Re: Step 1 for Ada"


def test_a_follow_up_with_its_own_subject_keeps_it_in_the_thread(db: Path) -> None:
    account = make_account("rep@sales.example")
    campaign = make_campaign("C", [account], steps=2)
    lead = make_lead(campaign, "ada@x.example", account, cursor=1, first_subject="Step 1 for Ada",
                     fields={"first_name": "Ada"})
    earlier = record_send(lead, account, NOW - timedelta(days=2), step=0)
    step = Step.get(Step.campaign == campaign, Step.position == 1)
    composed = compose(lead, step, account, NOW)
    assert composed.subject == "Step 2 for Ada"
    assert composed.message["In-Reply-To"] == earlier.message_id


def test_a_lead_moved_to_another_mailbox_starts_a_new_thread_there(db: Path) -> None:
    old = make_account("old@sales.example")
    new = make_account("new@sales.example")
    campaign = make_campaign("C", [old, new], steps=2)
    lead = make_lead(campaign, "ada@x.example", new, cursor=1, first_subject="Step 1 for Ada",
                     fields={"first_name": "Ada"})
    record_send(lead, old, NOW - timedelta(days=2), step=0)
    step = Step.get(Step.campaign == campaign, Step.position == 1)
    step.subject = ""
    composed = compose(lead, step, new, NOW)
    assert composed.message["In-Reply-To"] is None
    assert composed.subject == "Step 1 for Ada"
    assert composed.message["From"].endswith("<new@sales.example>")


def test_values_from_a_csv_cannot_add_header_lines(db: Path) -> None:
    account = make_account("rep@sales.example")
    campaign = make_campaign("C", [account], steps=1)
    lead = make_lead(campaign, "ada@x.example", account,
                     fields={"first_name": "Ada\r\nBcc: victim@x.example"})
    composed = compose(lead, Step.get(Step.campaign == campaign), account, NOW)
    assert composed.message["Bcc"] is None
    assert composed.subject == "Step 1 for Ada Bcc: victim@x.example"


def test_non_ascii_text_is_utf8_and_html_is_optional(db: Path) -> None:
    account = make_account("rep@sales.example", name="Zoë Müller")
    campaign = make_campaign("C", [account], steps=1)
    lead = make_lead(campaign, "jo@x.example", account, fields={"first_name": "Jörg"})
    step = Step.get(Step.campaign == campaign)
    step.body = "Grüße, {{first_name}} <3\n\n. a line that starts with a dot"
    composed = compose(lead, step, account, NOW, with_html=True)
    assert composed.data.isascii()  # encoded for any SMTP server
    message = composed.message
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    assert "Grüße, Jörg <3" in plain.get_content()
    assert "Grüße, Jörg &lt;3" in html.get_content()


# --- flagging instead of sending a broken email ---------------------------------------------

def test_a_lead_missing_a_field_is_flagged_skipped_and_continues_once_fixed(db: Path) -> None:
    clock = FakeClock(NOW)
    server = FakeServer()
    account = make_account("rep@sales.example", min_gap_seconds=0)
    campaign = make_campaign("C", [account], steps=2)
    Step.update(body="Hi {{first_name}}, about {{company}}").where(
        Step.campaign == campaign).execute()
    good = make_lead(campaign, "good@x.example", account,
                     fields={"first_name": "Ada", "company": "Acme"})
    bad = make_lead(campaign, "bad@x.example", account, fields={"first_name": "Bo"})
    engine = engine_for(clock, server)
    assert engine.run_until_idle() == 1
    assert [d.rcpt for d in server.delivered] == ["good@x.example"]
    stored = reload(bad)
    assert (stored.state, stored.cursor, stored.messages_sent) == ("pending", 0, 0)
    assert stored.flag is not None and "company" in stored.flag
    [alert] = conditions(clock.now())
    assert (alert.kind, alert.campaigns, alert.action) == ("leads_flagged", ["C"], "show_leads")
    assert "bad@x.example" in alert.message
    assert engine.run_until_idle() == 0  # still skipped: never a broken email
    Lead.update(fields={"first_name": "Bo", "company": "Bolt"}).where(Lead.id == bad.id).execute()
    clear_flag(reload(bad), clock.now())
    assert conditions(clock.now()) == []
    assert engine.run_until_idle() == 1
    sent = server.by_rcpt("bad@x.example")[0]
    assert sent.get_content().startswith("Hi Bo, about Bolt")
    assert reload(good).cursor == 1
