"""Issue 22: internationalized addresses. An IDN domain is accepted (kept in Unicode, which is
what the rep reads) and travels as punycode; a non-ASCII local part goes out only through a
server that announces SMTPUTF8 and is refused with that reason by any other. Real servers:
Dovecot's submission (no SMTPUTF8) relaying to the aiosmtpd sink, and aiosmtpd with AUTH as a
provider that does announce it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Lead, OutboxMessage
from mailmonitor.services.alerts import outbox
from mailmonitor.services.alerts.manage import ChannelSpec, add_channel
from mailmonitor.services.auth import secrets
from mailmonitor.services.campaigns.setup import create_campaign, import_leads
from mailmonitor.services.common.validation import InvalidInput, normalize_email
from mailmonitor.services.monitoring.checker import run_check
from mailmonitor.services.sending.engine import SendingEngine
from tests.factories import make_account, reload
from tests.integration.mailboxes import dovecot_account
from tests.servers.dovecot import Dovecot
from tests.servers.smtp_sink import SmtpSink

pytestmark = [
    pytest.mark.integration,
    # AUTH without TLS on purpose: a loopback test server, no certificates needed.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

STEPS = [{"subject": "Hallo {{first_name}}", "body": "Grüße [step 1]", "delay_days": 0}]


@pytest.fixture
def utf8_provider() -> Iterator[SmtpSink]:
    """A submission server that asks for AUTH and announces SMTPUTF8."""
    with SmtpSink(users={"jürgen@bücher.de": "pässwort", "rep@example.com": "pw"}) as server:
        yield server


def engine(clock: FakeClock) -> SendingEngine:
    sending = SendingEngine(clock, timeout=10, rng=random.Random(5))
    sending.sender.save_copy = lambda account: False
    return sending


def leads_csv(folder: Path, *addresses: str) -> Path:
    path = folder / "leads.csv"
    path.write_text("email,first_name\n" + "".join(f"{a},Lead\n" for a in addresses),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize(("typed", "kept"), [
    ("jürgen@bücher.de", "jürgen@bücher.de"),
    ("Info@XN--BCHER-KVA.DE", "Info@bücher.de"),  # punycode typed: the rep reads Unicode
    ("rep@例え.テスト", "rep@例え.テスト"),
    ("straße@straße.de", "straße@straße.de"),  # IDNA 2008: ß stays ß (2003 made it "ss")
])
def test_internationalized_addresses_are_accepted_and_kept_readable(typed: str,
                                                                    kept: str) -> None:
    assert normalize_email(typed) == kept


@pytest.mark.parametrize("bad", ["jü rgen@bücher.de", "a@bü cher.de", "a@-bücher.de",
                                 "a@bücher..de", '"q"@bücher.de', "a\x00b@x.de"])
def test_malformed_international_addresses_are_still_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match="is not a valid email address"):
        normalize_email(bad)


def test_through_dovecot_an_idn_domain_goes_as_punycode_and_a_utf8_local_part_is_refused(
        db: Path, data_dir: Path, dovecot: Dovecot, smtp_sink: SmtpSink,
        clock: FakeClock) -> None:
    box = dovecot_account(dovecot, dovecot.new_user())
    campaign = create_campaign("IDN", [box.email], STEPS, None, clock.now())
    import_leads(campaign, leads_csv(data_dir, "Info@XN--BCHER-KVA.DE", "jürgen@bücher.de"),
                 clock.now())
    assert {lead.email for lead in Lead.select()} == {"Info@bücher.de", "jürgen@bücher.de"}
    engine(clock).run_until_idle()

    received = smtp_sink.messages()
    assert [m.rcpt_tos for m in received] == [("Info@xn--bcher-kva.de",)]
    assert received[0].parsed()["To"] == "Info@xn--bcher-kva.de"
    refused = Lead.get(Lead.email == "jürgen@bücher.de")
    assert refused.cursor == 0 and refused.messages_sent == 0
    assert f"{dovecot.host} does not accept addresses with non-ASCII characters before the @ " \
           "such as jürgen@bücher.de (it does not announce SMTPUTF8)" in refused.flag
    assert reload(box).status == "connected"  # the mailbox is fine; one address is not


def test_through_a_server_that_announces_smtputf8_both_go_out(
        db: Path, data_dir: Path, utf8_provider: SmtpSink, clock: FakeClock) -> None:
    box = make_account("jürgen@bücher.de", smtp_host="127.0.0.1", smtp_port=utf8_provider.port,
                       smtp_security="plain", min_gap_seconds=0)
    secrets.set_secret(box.email, "password", "pässwort")
    campaign = create_campaign("UTF8", [box.email], STEPS, None, clock.now())
    import_leads(campaign, leads_csv(data_dir, "zoë@bücher.de", "info@example.com"),
                 clock.now())
    assert engine(clock).run_until_idle() == 2

    received = {m.rcpt_tos[0]: m for m in utf8_provider.messages()}
    assert set(received) == {"zoë@xn--bcher-kva.de", "info@example.com"}
    for message in received.values():
        assert message.mail_from == "jürgen@xn--bcher-kva.de"
    assert "To: zoë@xn--bcher-kva.de".encode() in received["zoë@xn--bcher-kva.de"].raw
    assert {lead.messages_sent for lead in Lead.select()} == {1}


def test_a_mailbox_with_a_utf8_address_on_a_server_without_smtputf8_fails_its_check(
        db: Path, dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    box = dovecot_account(dovecot, user, username=user.email)  # it signs in as itself
    box.email = "jürgen@bücher.de"
    _, smtp = run_check(box, user.password, 10)
    assert not smtp.ok and smtp.reason == "request_invalid"
    assert "does not accept addresses with non-ASCII characters before the @ such as " \
           "jürgen@bücher.de (it does not announce SMTPUTF8)" in smtp.detail


def test_an_alert_email_to_a_utf8_address_needs_a_relay_that_announces_smtputf8(
        db: Path, dovecot: Dovecot, smtp_sink: SmtpSink, clock: FakeClock) -> None:
    for name, port in (("Through sink", smtp_sink.port), ("Through Dovecot",
                                                          dovecot.submission_port)):
        add_channel(ChannelSpec(name, "email", "jürgen@bücher.de", relay={
            "host": "127.0.0.1", "port": port, "security": "plain",
            "from": "alerts@bücher.de"}), clock.now())
    make_account("broken@ex.test", status="disconnected", reason="invalid_credentials")
    from mailmonitor.services.alerts import digest
    from mailmonitor.services.alerts.reconciler import reconcile
    from mailmonitor.services.monitoring.account_state import update_status

    update_status(make_account("b2@ex.test"), "disconnected", "invalid_credentials", "535",
                  clock.now())
    reconcile(clock.now())  # as the background loop does
    digest.collect_round(clock.now())
    outbox.deliver_due(clock, timeout=10)
    states = {m.channel.name: (m.state, m.last_error) for m in OutboxMessage.select()}
    assert states["Through sink"][0] == "sent"
    assert states["Through Dovecot"][0] == "failed"  # refused for good, with the reason
    assert "does not announce SMTPUTF8" in states["Through Dovecot"][1]
    (message,) = [m for m in smtp_sink.messages() if m.rcpt_tos == ("jürgen@xn--bcher-kva.de",)]
    assert message.mail_from == "alerts@xn--bcher-kva.de"
