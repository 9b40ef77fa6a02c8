"""The SMTP side of sending against a scripted server (aiosmtpd on loopback): the real smtplib
conversation, password and XOAUTH2 sign-in, and what each answer does — a recipient refused for
good, a temporary refusal, a rejected sign-in, a connection that dies after the end of data."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Lead, SendRecord
from mailmonitor.services.monitoring.probes import Credentials
from mailmonitor.services.sending.engine import SendingEngine
from tests.factories import make_account, make_campaign, make_lead, reload

pytestmark = [
    pytest.mark.integration,
    # AUTH without TLS on purpose: a loopback test server, no certificates needed.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

NOW = datetime(2026, 11, 23, 9, 0)
PASSWORD = "pässwörd-1"  # non-ASCII on purpose: AUTH PLAIN is UTF-8 (RFC 4616)
TOKEN = "ya29.test-access-token"


@dataclass
class Script:
    received: list[Envelope] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    rcpt_answers: dict[str, str] = field(default_factory=dict)
    data_answers: dict[str, str] = field(default_factory=dict)
    drop_after_data: set[str] = field(default_factory=set)
    silent_after_data: set[str] = field(default_factory=set)  # takes it, never answers


class ScriptedHandler:
    def __init__(self, script: Script) -> None:
        self.script = script

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        answer = self.script.rcpt_answers.get(address)
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        rcpt = envelope.rcpt_tos[0]
        if rcpt in self.script.drop_after_data:
            self.script.received.append(envelope)  # accepted, but the answer never arrives
            assert server.transport is not None
            server.transport.abort()
            await asyncio.sleep(0.1)
            return "250 never seen"
        if rcpt in self.script.silent_after_data:
            self.script.received.append(envelope)
            await asyncio.sleep(30)  # far past the client's timeout; ended by the client
            return "250 too late"
        answer = self.script.data_answers.get(rcpt)
        if answer:
            return answer
        self.script.received.append(envelope)
        return "250 2.0.0 Ok: queued"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        payload = base64.b64decode(args[1]).decode()
        user = payload.split("\x01")[0].removeprefix("user=")
        if f"auth=Bearer {TOKEN}" in payload:
            self.script.logins.append(f"xoauth2:{user}")
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Username and Password not accepted")


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, Script]]:
    script = Script()

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                      data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == PASSWORD.encode()
        if ok:
            script.logins.append(f"{mechanism.lower()}:{data.login.decode()}")
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 5.7.8

    controller = Controller(ScriptedHandler(script), hostname="127.0.0.1", port=0,
                            auth_require_tls=False, authenticator=authenticator,
                            auth_required=True)
    controller.port = _free_port()
    controller.start()
    yield controller, script
    controller.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup_campaign(controller: Controller, **fields: Any) -> Account:
    account = make_account("rep@sales.example", smtp_host="127.0.0.1", smtp_port=controller.port,
                           smtp_security="plain", min_gap_seconds=0, **fields)
    campaign = make_campaign("C", [account], steps=2)
    for name in ("ada", "bo", "cy"):
        make_lead(campaign, f"{name}@x.example", account, fields={"first_name": name})
    return account


def engine_with(clock: FakeClock, creds: Credentials) -> SendingEngine:
    return SendingEngine(clock, credentials=lambda a, p, t: creds, timeout=5,
                         save_copy=lambda a: False, rng=random.Random(1),
                         lookup=lambda account, ids: None)


def state(email: str) -> tuple[str, int]:
    lead = Lead.get(Lead.email == email)
    return lead.state, lead.cursor


def test_password_sign_in_one_connection_and_a_recipient_refused_for_good(
        db: Path, smtp_server: tuple[Controller, Script]) -> None:
    controller, script = smtp_server
    setup_campaign(controller)
    script.rcpt_answers["bo@x.example"] = "550 5.1.1 <bo@x.example>: Recipient address rejected"
    clock = FakeClock(NOW)
    assert engine_with(clock, Credentials(password=PASSWORD)).run_until_idle() == 2
    assert script.logins == ["plain:rep@sales.example"]  # one connection for the batch
    assert sorted(e.rcpt_tos[0] for e in script.received) == ["ada@x.example", "cy@x.example"]
    assert state("bo@x.example") == ("bounced", 0)
    assert state("ada@x.example") == state("cy@x.example") == ("active", 1)
    record = SendRecord.select().join(Lead).where(Lead.email == "bo@x.example").get()
    assert record.state == "failed" and "5.1.1" in (record.error or "")


def test_xoauth2_for_oauth_accounts(db: Path, smtp_server: tuple[Controller, Script]) -> None:
    controller, script = smtp_server
    setup_campaign(controller, auth_method="oauth2", kind="gmail")
    clock = FakeClock(NOW)
    assert engine_with(clock, Credentials(access_token=TOKEN)).run_until_idle() == 3
    assert script.logins == ["xoauth2:rep@sales.example"]


def test_a_rejected_sign_in_disconnects_the_mailbox(db: Path,
                                                    smtp_server: tuple[Controller, Script]
                                                    ) -> None:
    controller, _script = smtp_server
    account = setup_campaign(controller)
    clock = FakeClock(NOW)
    assert engine_with(clock, Credentials(password="old password")).run_until_idle() == 0
    stored = reload(account)
    assert (stored.status, stored.reason) == ("disconnected", "invalid_credentials")
    assert "535" in stored.detail and "old password" not in stored.detail
    assert {state(f"{n}@x.example") for n in ("ada", "bo", "cy")} == {("halted", 0)}


def test_a_token_refused_is_token_expired(db: Path,
                                          smtp_server: tuple[Controller, Script]) -> None:
    controller, _script = smtp_server
    account = setup_campaign(controller, auth_method="oauth2", kind="gmail")
    engine_with(FakeClock(NOW), Credentials(access_token="dead-token")).run_until_idle()
    assert (reload(account).status, reload(account).reason) == ("disconnected", "token_expired")


def test_a_temporary_refusal_is_retried_later(db: Path,
                                              smtp_server: tuple[Controller, Script]) -> None:
    controller, script = smtp_server
    account = setup_campaign(controller)
    script.data_answers["ada@x.example"] = "451 4.3.0 Temporary lookup failure"
    clock = FakeClock(NOW)
    sending = engine_with(clock, Credentials(password=PASSWORD))
    sending.run_until_idle()
    assert state("ada@x.example") == ("pending", 0)
    assert reload(account).status == "connected"
    del script.data_answers["ada@x.example"]
    clock.advance(minutes=20)
    sending.run_until_idle()
    assert sorted(e.rcpt_tos[0] for e in script.received) == [
        "ada@x.example", "bo@x.example", "cy@x.example"]


def test_a_connection_lost_after_the_end_of_data_is_never_resent_blindly(
        db: Path, smtp_server: tuple[Controller, Script]) -> None:
    controller, script = smtp_server
    setup_campaign(controller)
    script.drop_after_data.add("ada@x.example")
    clock = FakeClock(NOW)
    sending = engine_with(clock, Credentials(password=PASSWORD))  # lookup: server unreachable
    report = sending.run_once()
    assert report.batches[0].ambiguous == 1
    record = SendRecord.select().join(Lead).where(Lead.email == "ada@x.example").get()
    assert record.state == "sending" and record.handed_over_at is not None
    clock.advance(minutes=20)
    sending.run_until_idle()
    assert [e.rcpt_tos[0] for e in script.received].count("ada@x.example") == 1
    assert state("ada@x.example") == ("pending", 0)  # waits until the server can be asked


def test_a_daily_sending_limit_is_its_own_status_until_it_resumes(
        db: Path, smtp_server: tuple[Controller, Script]) -> None:
    from datetime import UTC, timedelta

    from mailmonitor.models import Campaign
    from mailmonitor.services.alerts.warnings import rep_time
    from mailmonitor.services.campaigns.lifecycle import run_housekeeping
    from mailmonitor.services.monitoring.account_state import record_check
    from mailmonitor.services.monitoring.sending_limits import status_words
    from tests.attention_support import conditions
    from tests.factories import probe_ok

    controller, script = smtp_server
    account = setup_campaign(controller)
    script.data_answers["ada@x.example"] = (
        "550 5.4.5 Daily user sending limit exceeded. For more information on Gmail sending "
        "limits go to https://support.google.com/a/answer/166852")
    clock = FakeClock(NOW)
    engine = engine_with(clock, Credentials(password=PASSWORD))
    assert engine.run_until_idle() == 0
    held = reload(account)
    resume = NOW + timedelta(hours=24)
    local = resume.replace(tzinfo=UTC).astimezone().strftime("%H:%M")
    assert (held.status, held.reason, held.send_limit_until) == ("warning", "sending_limit",
                                                                 resume)
    assert status_words(held, "x") == f"Sending limit reached — resumes at {local}"
    [limit] = conditions(clock.now())
    assert (limit.kind, limit.severity, limit.mailboxes) == (
        "sending_limit", "warning", [account.email])
    assert limit.title == f"{account.email} reached its provider's sending limit"
    assert limit.message.startswith(f"It sends again at {rep_time(resume)}; its leads keep "
                                    "their place")
    assert Campaign.get().status == "active"  # a limit is no broken mailbox: nothing paused
    assert {state(e)[0] for e in ("ada@x.example", "bo@x.example")} == {"pending"}
    # Its sign-in still works: a passing check during the hold does not end it early.
    record_check(reload(account), probe_ok(), probe_ok(), clock.advance(hours=3))
    assert reload(account).reason == "sending_limit"
    clock.set(resume - timedelta(minutes=1))
    run_housekeeping(clock.now())
    assert engine.run_until_idle() == 0 and reload(account).status == "warning"
    del script.data_answers["ada@x.example"]
    clock.set(resume)
    run_housekeeping(clock.now())
    assert (reload(account).status, reload(account).send_limit_until) == ("connected", None)
    assert conditions(clock.now()) == []
    assert engine.run_until_idle() == 3


def test_a_server_silent_after_the_whole_message_is_worded_as_what_happened(
        db: Path, smtp_server: tuple[Controller, Script]) -> None:
    controller, script = smtp_server
    account = setup_campaign(controller)
    script.silent_after_data.add("ada@x.example")
    clock = FakeClock(NOW)
    sending = SendingEngine(clock, credentials=lambda a, p, t: Credentials(password=PASSWORD),
                            timeout=0.5, save_copy=lambda a: False, rng=random.Random(1),
                            lookup=lambda account, ids: set())  # the server keeps no copy
    sending.run_once()
    record = SendRecord.select().join(Lead).where(Lead.email == "ada@x.example").get()
    assert record.state == "sending" and record.handed_over_at is not None
    assert record.error == ("The server received the whole message but did not confirm it "
                            "within 0.5 s")
    clock.advance(minutes=2)
    sending.run_until_idle()
    assert SendRecord.get_by_id(record.id).state == "unknown"
    from tests.attention_support import conditions

    [alert] = conditions(clock.now())
    assert alert.kind == "send_unknown"
    assert alert.title == f"Emails from {account.email} may or may not have been sent"
    assert alert.message.startswith("The server received the whole message but did not confirm "
                                    "it within 0.5 s, and this server keeps no copy to check")
    assert "mailmonitor was stopped" not in alert.message
    assert [e.rcpt_tos[0] for e in script.received].count("ada@x.example") == 1
