"""Unsubscribe end to end (issue 14): campaign emails through the real Dovecot submission
service carry List-Unsubscribe with a per-lead token; a lead's reply "unsubscribe", or the
mailto link's email, read back over IMAP, makes the lead `unsubscribed`: it gets nothing more,
and a later import into any campaign refuses the address (the suppression list)."""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Lead, Suppression, set_setting
from mailmonitor.services.campaigns.setup import assign_and_insert, create_campaign
from mailmonitor.services.common.validation import parse_window
from mailmonitor.services.sending.engine import SendingEngine
from mailmonitor.services.sending.replies import poll_replies
from tests import mail_samples as samples
from tests.integration.mailboxes import STEPS, dovecot_account
from tests.integration.test_sending import credentials_from
from tests.servers.dovecot import Dovecot
from tests.servers.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 10, 0)


def started(dovecot: Dovecot, smtp_sink: SmtpSink, clock: FakeClock, leads: int = 3
            ) -> tuple[object, SendingEngine, dict[str, object]]:
    box = dovecot_account(dovecot, dovecot.new_user())
    campaign = create_campaign("Outreach", [box.email], STEPS, parse_window("always"),
                               clock.now())
    assign_and_insert(campaign, [(f"u{i}@leads.example", {"first_name": f"U{i}"})
                                 for i in range(leads)], clock.now())
    engine = SendingEngine(clock, timeout=10, rng=random.Random(2))
    assert engine.run_until_idle() == leads
    return box, engine, {m.rcpt_tos[0]: m.parsed() for m in smtp_sink.messages()}


def test_a_lead_that_replies_unsubscribe_gets_nothing_more_and_is_refused_by_a_later_import(
        db: Path, dovecot: Dovecot, smtp_sink: SmtpSink, data_dir: Path,
        cli: Callable[..., tuple[int, str, str]]) -> None:
    clock = FakeClock(NOW)
    box, engine, sent = started(dovecot, smtp_sink, clock)
    first = sent["u0@leads.example"]
    assert str(first["List-Unsubscribe"]).startswith(f"<mailto:{box.email}?subject=")  # type: ignore[attr-defined,index]
    dovecot.deliver(box.email, samples.reply(  # type: ignore[attr-defined]
        "u0@leads.example", box.email, first["Message-ID"],  # type: ignore[index]
        text="Unsubscribe please.\n\nOn Mon, you wrote:\n> Hi U0"))
    # A normal reply that quotes the word is just a reply.
    dovecot.deliver(box.email, samples.reply(  # type: ignore[attr-defined]
        "u1@leads.example", box.email, sent["u1@leads.example"]["Message-ID"],  # type: ignore[index]
        text="Interested, call me.\n\n> to unsubscribe reply unsubscribe"))
    report = poll_replies(clock.now(), credentials_from(dovecot), timeout=10)
    assert (report.unsubscribed, report.replied) == (1, 1)
    states = {lead.email: lead.state for lead in Lead.select()}
    assert states == {"u0@leads.example": "unsubscribed", "u1@leads.example": "replied",
                      "u2@leads.example": "active"}
    assert Suppression.get(Suppression.email == "u0@leads.example").reason == "unsubscribed"

    # Days later: the follow-up goes to u2 only.
    clock.advance(days=2)
    smtp_sink.clear()
    engine.run_until_idle()
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages()) == ["u2@leads.example"]

    # A later import into another campaign refuses the address (through the command line).
    from mailmonitor.models import close_db

    close_db()
    steps = data_dir / "steps.json"
    steps.write_text('[{"subject": "Hi", "body": "Hello", "delay_days": 0}]')
    code, _, err = cli("campaigns", "create", "Later", "--mailbox", box.email,  # type: ignore[attr-defined]
                       "--steps", str(steps))
    assert code == 0, err
    leads = data_dir / "leads.csv"
    leads.write_text("email,first_name\nU0@Leads.example,U0\nnew@leads.example,New\n")
    code, out, err = cli("leads", "import", "Later", str(leads))
    assert code == 0, err
    assert "Imported 1 lead into" in out
    assert "1 refused: they unsubscribed (u0@leads.example)" in out
    code, out, _ = cli("leads", "list", "Later", "--json")
    assert "u0@leads.example" not in out.lower() and "new@leads.example" in out


def test_the_mailto_link_with_its_token_unsubscribes_even_from_another_address(
        db: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    clock = FakeClock(NOW)
    box, _engine, sent = started(dovecot, smtp_sink, clock, leads=2)
    header = str(sent["u1@leads.example"]["List-Unsubscribe"])  # type: ignore[index]
    mailto = urlparse(re.search(r"<(mailto:[^>]+)>", header).group(1))  # type: ignore[union-attr]
    # What a mail client sends for the link (from the lead's other address, no threading).
    message = EmailMessage()
    message["From"] = "u1.private@home.example"
    message["To"] = mailto.path
    message["Subject"] = unquote(mailto.query.removeprefix("subject="))
    message["Date"] = "Tue, 24 Nov 2026 10:00:00 +0000"
    message.set_content("This message was automatically generated by Gmail.")
    dovecot.deliver(box.email, message.as_bytes(policy=SMTP))  # type: ignore[attr-defined]
    assert poll_replies(clock.now(), credentials_from(dovecot), timeout=10).unsubscribed == 1
    assert Lead.get(Lead.email == "u1@leads.example").state == "unsubscribed"
    assert Lead.get(Lead.email == "u0@leads.example").state == "active"


def test_one_click_url_and_footer_when_configured(db: Path, dovecot: Dovecot,
                                                  smtp_sink: SmtpSink) -> None:
    set_setting("unsubscribe_url", "https://unsub.sales.example/u/{token}")
    set_setting("unsubscribe_footer", "Not interested? Reply 'unsubscribe'.")
    _box, _engine, sent = started(dovecot, smtp_sink, FakeClock(NOW), leads=1)
    message = sent["u0@leads.example"]
    header = str(message["List-Unsubscribe"])  # type: ignore[index]
    assert re.match(r"<https://unsub\.sales\.example/u/[A-Za-z0-9_-]{16}>,\s+<mailto:", header)
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"  # type: ignore[index]
    body = message.get_payload(decode=True).decode()  # type: ignore[attr-defined]
    assert body.rstrip().endswith("Not interested? Reply 'unsubscribe'.")


def test_suppress_import_and_export_on_the_command_line(
        data_dir: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    source = data_dir / "optouts.csv"
    source.write_text("email,name\nA@x.example,A\nb@x.example,B\n")
    code, out, err = cli("suppress", "import", str(source))
    assert (code, out.strip()) == (0, "Suppressed 2 addresses"), err
    bad = data_dir / "bad.csv"
    bad.write_text("email\nc@x.example\nnot-an-address\n")
    code, _, err = cli("suppress", "import", str(bad))
    assert code == 3 and "nothing imported" in err and len(err.strip().splitlines()) == 1
    target = data_dir / "out.csv"
    code, out, _ = cli("suppress", "export", str(target))
    assert code == 0 and "Exported 2 addresses" in out
    with target.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["email"], r["reason"]) for r in rows] == [("a@x.example", "imported"),
                                                         ("b@x.example", "imported")]
