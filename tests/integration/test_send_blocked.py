"""Send outcomes from real sends (issue 14): a scripted SMTP server (aiosmtpd on loopback) that
lets the mailbox sign in but refuses its mail as spam or blocked. The mailbox gets a status and
an alert although its logins pass, its leads keep their step, and Resume sending continues."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from mailmonitor.clock import FakeClock
from mailmonitor.models import Alert, Lead, SendRecord
from mailmonitor.services.alerts.attention import derive
from mailmonitor.services.alerts.facts import read_state
from mailmonitor.services.deliverability import holds
from mailmonitor.services.monitoring.probes import Credentials
from tests.attention_support import conditions
from tests.factories import reload
from tests.integration.test_sender_smtp import (
    NOW,
    PASSWORD,
    Script,
    engine_with,
    setup_campaign,
    smtp_server,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]
__all__ = ["smtp_server"]  # the scripted server fixture


@pytest.mark.parametrize("answer", [
    "554 5.7.1 Message rejected as spam",
    "550 5.7.1 Service unavailable, Client host [127.0.0.1] blocked using Spamhaus",
])
def test_mail_refused_as_spam_or_blocked_stops_the_mailbox_with_an_alert(
        db: Path, smtp_server: tuple[Controller, Script], answer: str) -> None:
    controller, script = smtp_server
    account = setup_campaign(controller)
    script.data_answers["ada@x.example"] = answer
    clock = FakeClock(NOW)
    engine = engine_with(clock, Credentials(password=PASSWORD))
    engine.run_until_idle()
    stored = reload(account)
    assert (stored.status, stored.reason) == ("disconnected", "sending_blocked")
    [alert] = conditions(clock.now())
    assert (alert.kind, alert.action) == ("mailbox_broken", "resume_sending")
    assert alert.title == f"{stored.email} stopped sending: Sending Blocked"
    # The server's answer is the card's Details.
    assert answer.split(" ", 2)[2] in derive(read_state(clock.now()))[0].detail
    # Not the lead's fault: not flagged, not bounced, at its step, and nothing else went out.
    ada = Lead.get(Lead.email == "ada@x.example")
    assert (ada.state, ada.cursor, ada.flag) == ("halted", 0, None)
    sent_before = SendRecord.select().where(SendRecord.state == "sent").count()
    clock.advance(hours=2)
    assert engine.run_until_idle() == 0

    # The rep fixed it and resumes: ada gets her email after all.
    del script.data_answers["ada@x.example"]
    holds.resume_sending(stored, clock.now())
    assert engine.run_until_idle() >= 1
    assert Lead.get(Lead.email == "ada@x.example").cursor == 1
    assert SendRecord.select().where(SendRecord.state == "sent").count() > sent_before
    assert conditions(clock.now()) == []
    assert Alert.get_by_id(alert.id).resolved_at is not None
