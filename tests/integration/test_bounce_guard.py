"""The bounce guard end to end: a campaign sent through the real Dovecot submission service,
delivery status notifications (RFC 3464) seeded into the mailbox's INBOX, read back over IMAP.
Hard bounces (5.x.x) count towards the rate; soft ones (4.x.x) do not; over 5 % of the last
sends the mailbox stops with "Paused: high bounce rate" and an alert naming the addresses,
a passing connection check does not lift it, and Resume sending does."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Alert, Bounce, Lead
from mailmonitor.services.campaigns.setup import assign_and_insert, create_campaign
from mailmonitor.services.common.validation import parse_window
from mailmonitor.services.deliverability import bounce_guard, holds
from mailmonitor.services.monitoring.account_state import record_check
from mailmonitor.services.monitoring.checker import run_check
from mailmonitor.services.sending.engine import SendingEngine
from mailmonitor.services.sending.replies import poll_replies
from tests import mail_samples as samples
from tests.factories import reload
from tests.integration.mailboxes import STEPS, dovecot_account
from tests.integration.test_sending import credentials_from
from tests.servers.dovecot import Dovecot
from tests.servers.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 10, 0)


def sent_campaign(dovecot: Dovecot, smtp_sink: SmtpSink, clock: FakeClock, leads: int
                  ) -> tuple[Account, SendingEngine, dict[str, bytes]]:
    box = dovecot_account(dovecot, dovecot.new_user())
    campaign = create_campaign("Bounces", [box.email], STEPS, parse_window("always"),
                               clock.now())
    assign_and_insert(campaign, [(f"b{i}@leads.example", {"first_name": f"B{i}"})
                                 for i in range(leads)], clock.now())
    engine = SendingEngine(clock, timeout=10, rng=random.Random(3))
    assert engine.run_until_idle() == leads
    raws = {m.rcpt_tos[0]: m.raw for m in smtp_sink.messages()}
    return reload(box), engine, raws


def test_hard_bounces_over_the_threshold_pause_the_mailbox_soft_ones_do_not(
        db: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    clock = FakeClock(NOW)
    box, engine, raws = sent_campaign(dovecot, smtp_sink, clock, 40)
    # 2 hard bounces of 40 (5 %) and 3 soft ones: not over the threshold.
    for i in (1, 2):
        dovecot.deliver(box.email, samples.delivery_status(
            raws[f"b{i}@leads.example"], f"b{i}@leads.example", box.email, status="5.1.1"))
    for i in (3, 4, 5):
        dovecot.deliver(box.email, samples.delivery_status(
            raws[f"b{i}@leads.example"], f"b{i}@leads.example", box.email, action="delayed",
            status="4.2.2"))
    report = poll_replies(clock.now(), credentials_from(dovecot), timeout=10)
    assert report.bounced == 2
    rate = bounce_guard.bounce_rate(box, clock.now())
    assert (rate.sends, rate.hard, rate.soft) == (40, 2, 3)
    assert sorted(rate.hard_addresses) == ["b1@leads.example", "b2@leads.example"]
    assert {(b.email, b.kind, b.status) for b in Bounce.select()} >= {
        ("b1@leads.example", "hard", "5.1.1"), ("b3@leads.example", "soft", "4.2.2")}
    assert bounce_guard.evaluate_all(clock.now()) == []
    assert reload(box).status == "connected"
    assert Lead.get(Lead.email == "b3@leads.example").state == "active"  # soft: goes on

    # A third hard bounce: 7.5 % > 5 %.
    dovecot.deliver(box.email, samples.delivery_status(
        raws["b6@leads.example"], "b6@leads.example", box.email, status="5.1.2"))
    poll_replies(clock.now(), credentials_from(dovecot), timeout=10)
    assert bounce_guard.evaluate_all(clock.now()) == [box.email]
    held = reload(box)
    assert (held.status, held.reason) == ("disconnected", "high_bounce_rate")
    alert = Alert.get((Alert.account == held) & Alert.resolved_at.is_null()
                      & (Alert.kind == "account_disconnected"))
    assert "Paused: high bounce rate" in alert.title and "stopped sending" in alert.title
    for address in ("b1@leads.example", "b2@leads.example", "b6@leads.example"):
        assert address in alert.message
    assert "b3@leads.example" not in alert.message  # soft bounces are not listed as bounced
    # Its leads wait at their step; nothing more goes out.
    clock.advance(days=1)
    smtp_sink.clear()
    assert engine.run_until_idle() == 0 and smtp_sink.messages() == []
    assert Lead.select().where(Lead.state == "halted").count() == 40 - 3

    # Its INBOX is still read while it is paused (a late bounce still bounces its lead).
    dovecot.deliver(box.email, samples.delivery_status(
        raws["b7@leads.example"], "b7@leads.example", box.email, status="5.1.1"))
    assert poll_replies(clock.now(), credentials_from(dovecot), timeout=10).bounced == 1
    assert Lead.get(Lead.email == "b7@leads.example").state == "bounced"

    # A connection check that passes does not lift the pause.
    imap, smtp = run_check(held, dovecot.password(held.email), timeout=10)
    assert imap.ok and smtp.ok
    record_check(held, imap, smtp, clock.now())
    assert (reload(box).status, reload(box).reason) == ("disconnected", "high_bounce_rate")

    # The rep resumes: the leads continue where they were.
    holds.resume_sending(reload(box), clock.now())
    assert reload(box).status == "connected"
    assert Alert.get_by_id(alert.id).resolved_at is not None
    assert engine.run_until_idle() == 36
    assert Lead.get(Lead.email == "b6@leads.example").state == "bounced"
    # The bounces before the resume were dealt with: they do not pause it again.
    assert bounce_guard.evaluate_all(clock.now()) == []
    assert bounce_guard.bounce_rate(box, clock.now()).hard == 0
