"""One bad campaign or mailbox never stops the others (issue 12 part 2): values stored before
input was bounded cannot overflow the sending loop, and an unexpected error pauses only the
campaign (or mailbox) it happened in, and the attention model says so."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Alert, Campaign, Lead, SendRecord, Step
from mailmonitor.models.campaign import PAUSE_ERROR
from mailmonitor.services.campaigns import rules
from mailmonitor.services.sending import scheduler, sender
from mailmonitor.services.sending.engine import SendingEngine
from mailmonitor.services.sending.sender import TRANSIENT, SendError
from tests.attention_support import conditions
from tests.factories import make_account, make_campaign, make_lead, reload
from tests.fake_smtp import FakeServer, fake_credentials

NOW = datetime(2026, 11, 23, 9, 0)


@pytest.fixture
def two_campaigns(db: Path) -> dict[str, Any]:
    clock = FakeClock(NOW)
    server = FakeServer()
    one = make_account("one@sales.example", min_gap_seconds=0)
    two = make_account("two@sales.example", min_gap_seconds=0)
    bad = make_campaign("Bad", [one], steps=2)
    good = make_campaign("Good", [one, two], steps=2)
    for name in ("ada", "bo"):
        make_lead(bad, f"{name}@bad.example", one, fields={"first_name": name})
    make_lead(good, "cy@good.example", one, fields={"first_name": "cy"})
    make_lead(good, "di@good.example", two, fields={"first_name": "di"})
    engine = SendingEngine(clock, credentials=fake_credentials, transport_factory=server.factory,
                           save_copy=lambda a: False, rng=random.Random(1),
                           lookup=lambda account, ids: None)
    return {"clock": clock, "server": server, "engine": engine, "bad": bad, "good": good,
            "one": one, "two": two}


def sent_to(server: FakeServer) -> list[str]:
    return sorted(d.rcpt for d in server.delivered)


@pytest.mark.parametrize("stored", [1e7, float("inf"), 1e300])
def test_a_delay_stored_before_input_was_bounded_cannot_stop_sending(
        two_campaigns: dict[str, Any], stored: float) -> None:
    t = two_campaigns
    Step.update(delay_days=stored).where((Step.campaign == t["bad"]) & (Step.position == 1)
                                         ).execute()
    assert t["engine"].run_until_idle() == 4  # every first step, both campaigns
    ada = Lead.get(Lead.email == "ada@bad.example")
    assert ada.next_due_at == NOW + timedelta(days=3650)  # the longest delay, not an overflow
    assert SendRecord.select().where(SendRecord.state == "sending").count() == 0
    t["clock"].advance(days=2)
    assert t["engine"].run_until_idle() == 2  # the good campaign's follow-ups go on
    assert reload(t["bad"]).status == "active"


def test_a_gap_stored_before_input_was_bounded_is_read_as_a_day(two_campaigns: dict[str, Any]
                                                               ) -> None:
    t = two_campaigns
    one = t["one"]
    one.min_gap_seconds = 10**12
    one.save()
    t["engine"].run_until_idle()
    ready = t["engine"].scheduler.ready_at(reload(one), NOW)
    assert ready is not None and NOW + timedelta(days=1) <= ready <= NOW + timedelta(days=1.1)


def test_an_unexpected_error_in_one_campaign_pauses_only_it(
        two_campaigns: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    t = two_campaigns
    real_compose = sender.compose

    def compose(lead: Lead, step: Step, *args: Any, **kwargs: Any) -> Any:
        if step.campaign_id == t["bad"].id:
            raise OverflowError("date value out of range")
        return real_compose(lead, step, *args, **kwargs)

    monkeypatch.setattr(sender, "compose", compose)
    assert t["engine"].run_until_idle() == 2
    assert sent_to(t["server"]) == ["cy@good.example", "di@good.example"]
    bad = reload(t["bad"])
    assert (bad.status, bad.pause_reason) == ("paused", PAUSE_ERROR)
    [alert] = conditions(t["clock"].now())
    assert (alert.kind, alert.severity, alert.campaigns, alert.action) == (
        "campaign_error", "critical", ["Bad"], "resume_campaign")
    assert alert.title == "Campaign “Bad” paused after an unexpected error"
    assert "OverflowError: date value out of range" in alert.message
    assert "the other campaigns keep sending" in alert.message
    assert reload(t["one"]).status == "connected"  # not the mailbox's fault
    assert {lead.cursor for lead in Lead.select().where(Lead.campaign == bad)} == {0}

    monkeypatch.setattr(sender, "compose", real_compose)  # fixed: the rep resumes it
    assert rules.resume_campaign(bad, t["clock"].now())
    assert conditions(t["clock"].now()) == []
    assert Alert.get_by_id(alert.id).resolved_at is not None
    assert t["engine"].run_until_idle() == 2
    assert "ada@bad.example" in sent_to(t["server"])


def test_an_error_after_the_server_accepted_is_reconciled_later_and_pauses_only_that_campaign(
        two_campaigns: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The original report: OverflowError in advance_lead after the 250, record left
    `sending`, then every round (and a restart) failed for every campaign."""
    t = two_campaigns
    real_advance = scheduler.advance_lead
    broken = {t["bad"].id}

    def advance(lead_id: int, *args: Any) -> bool:
        if Lead.get_by_id(lead_id).campaign_id in broken:
            raise OverflowError("date value out of range")
        return real_advance(lead_id, *args)

    monkeypatch.setattr("mailmonitor.services.sending.sendlog.advance_lead", advance)
    t["engine"].run_until_idle()
    assert "cy@good.example" in sent_to(t["server"]) and "di@good.example" in sent_to(t["server"])
    assert reload(t["bad"]).status == "paused"
    stuck = SendRecord.get(SendRecord.state == "sending")
    assert stuck.handed_over_at is not None  # delivered; never sent again
    # later rounds: reconcile fails on it (kept waiting), the good campaign still sends
    t["engine"].lookup = lambda account, ids: set(ids)
    t["clock"].advance(days=2)
    assert t["engine"].run_until_idle() == 2
    assert reload(t["good"]).status == "active"
    assert SendRecord.get_by_id(stuck.id).state == "sending"
    broken.clear()  # fixed: the next reconcile settles it exactly once
    t["clock"].advance(minutes=2)
    t["engine"].run_once()
    assert SendRecord.get_by_id(stuck.id).state == "sent"
    assert Lead.get_by_id(stuck.lead_id).cursor == 1
    assert len([d for d in t["server"].delivered if d.rcpt == Lead.get_by_id(stuck.lead_id).email
                ]) == 1


def test_a_crashing_batch_backs_off_that_mailbox_only(two_campaigns: dict[str, Any]) -> None:
    t = two_campaigns
    real_factory = t["server"].factory

    def factory(account: Any, creds: Any, timeout: float) -> Any:
        if account.email == "one@sales.example":
            raise RuntimeError("library state nobody expected")
        return real_factory(account, creds, timeout)

    t["engine"].transport_factory = factory
    t["engine"].sender.transport_factory = factory
    report = t["engine"].run_once()
    assert report.sent == 1 and sent_to(t["server"]) == ["di@good.example"]
    [alert] = conditions(t["clock"].now())
    assert (alert.kind, alert.severity, alert.mailboxes) == (
        "send_problem", "critical", ["one@sales.example"])
    assert alert.title == "Sending from one@sales.example stopped after an unexpected error"
    assert "RuntimeError: library state nobody expected" in alert.message
    assert reload(t["one"]).status == "connected"
    assert t["engine"].backoff[t["one"].id] == NOW + timedelta(hours=1)
    t["engine"].sender.transport_factory = real_factory
    t["clock"].advance(hours=1, minutes=1)
    assert t["engine"].run_until_idle() == 3
    assert conditions(t["clock"].now()) == []
    assert Alert.get_by_id(alert.id).resolved_at is not None


def test_a_damaged_sending_window_pauses_that_campaign_only(two_campaigns: dict[str, Any]
                                                           ) -> None:
    t = two_campaigns
    Campaign.update(window={"days": [0, 1, 2, 3, 4, 5, 6], "start": "nine", "end": "17:00",
                            "tz": "UTC"}).where(Campaign.id == t["bad"].id).execute()
    assert t["engine"].run_until_idle() == 2
    assert reload(t["bad"]).pause_reason == PAUSE_ERROR
    [alert] = conditions(t["clock"].now(), "campaign_error")
    assert "sending window" in alert.message


def test_a_restart_whose_settling_fails_keeps_running(db: Path, monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    from mailmonitor.services.desktop.background import BackgroundWork

    clock = FakeClock(NOW)
    account = make_account("one@sales.example")
    campaign = make_campaign("C", [account])
    lead = make_lead(campaign, "ada@x.example", account)
    SendRecord.create(lead=lead, campaign=campaign, account=account, step=0, message_id="<m@x>",
                      handed_over_at=NOW)

    class IdleMonitor:
        async def run(self) -> None:
            await asyncio.sleep(3600)

        async def stop(self) -> None:
            return None

    work = BackgroundWork(clock, monitor=IdleMonitor())

    def failing_reconcile(*_busy: object) -> None:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(work.engine, "reconcile", failing_reconcile)

    async def main() -> int:
        asyncio.get_running_loop().call_later(0.05, work.request_stop)
        return await work.run()

    assert asyncio.run(main()) == 0
    assert work.fatal_error is None


def test_a_send_the_server_never_confirmed_says_so(two_campaigns: dict[str, Any]) -> None:
    t = two_campaigns
    t["server"].script["ada@bad.example"] = [SendError(
        sender.LOST, "end_of_data",
        "The server received the whole message but did not confirm it within 20 s")]
    t["server"].script["ada@bad.example"][0].phase = "end_of_data"
    t["engine"].lookup = lambda account, ids: set()  # a server that keeps no copy to check
    t["engine"].run_until_idle()
    t["clock"].advance(minutes=2)
    t["engine"].run_until_idle()
    [alert] = conditions(t["clock"].now(), "send_unknown")
    assert (alert.mailboxes, alert.action) == (["one@sales.example"], "check_sent")
    assert alert.message.startswith("The server received the whole message but did not confirm "
                                    "it within 20 s, and this server keeps no copy to check")
    assert "was stopped" not in alert.message


def test_transient_errors_are_not_unexpected(two_campaigns: dict[str, Any]) -> None:
    t = two_campaigns
    t["server"].script["ada@bad.example"] = [SendError(TRANSIENT, "rcpt", "451 try later", 451)]
    t["engine"].run_once()
    assert reload(t["bad"]).status == "active"
    assert conditions(t["clock"].now()) == []


def test_a_campaign_paused_after_an_error_does_not_say_by_you(two_campaigns: dict[str, Any]
                                                             ) -> None:
    from mailmonitor.services.reconnect.flow import CampaignChoice

    rules.pause_after_error(two_campaigns["bad"].id, "RuntimeError: x", NOW)
    bad = reload(two_campaigns["bad"])
    choice = CampaignChoice(bad.id, bad.name, bad.status, bad.pause_reason, 0)
    assert choice.status_text == "Paused after an error (see Alerts)"
