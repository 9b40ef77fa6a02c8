"""Alert channels end to end in one process: a real HTTP receiver on loopback, Dovecot's
submission relaying to the aiosmtpd sink, a real SQLite file, an injected clock.

The rules run as the app runs them (status changes, housekeeping, the attention model's
reconcile, one digest per round, the outbox delivering what is due); only time is moved by hand.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Lead, NotifyChannel, OutboxMessage
from mailmonitor.services.alerts import digest, outbox
from mailmonitor.services.alerts.http_post import safe_url
from mailmonitor.services.alerts.manage import ChannelSpec, add_channel
from mailmonitor.services.alerts.reconciler import reconcile
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.monitoring.account_state import update_status
from tests.attention_support import conditions
from tests.factories import make_account, make_campaign, make_lead, record_send, reload
from tests.integration.mailboxes import dovecot_account
from tests.servers.dovecot import Dovecot
from tests.servers.smtp_sink import ReceivedMessage, SmtpSink
from tests.servers.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration

REP = "rep@alerts.test"


@pytest.fixture
def receiver() -> WebhookReceiver:
    with WebhookReceiver() as server:
        yield server  # type: ignore[misc]


def run_round(clock: FakeClock) -> int:
    """What the app does every round: time-based rules, the reconcile of what needs the rep,
    the digest, the outbox (and the reconcile that follows what the delivery changed)."""
    lifecycle.run_housekeeping(clock.now())
    reconcile(clock.now())
    digest.collect_round(clock.now())
    delivered = outbox.deliver_due(clock, timeout=5)
    reconcile(clock.now())
    return delivered


def collect(clock: FakeClock) -> None:
    """A status changed: the loop reconciles, and the next round takes the changes."""
    reconcile(clock.now())
    digest.collect_round(clock.now())


def alert_emails(sink: SmtpSink) -> list[ReceivedMessage]:
    return [m for m in sink.messages() if REP in m.rcpt_tos]


def world(db: object, dovecot: Dovecot, clock: FakeClock) -> tuple[Account, Account]:
    """A broken-to-be mailbox with three contacted leads, and a good one to send alerts from."""
    broken = make_account("broken@ex.test")
    good = dovecot_account(dovecot, dovecot.new_user())
    campaign = make_campaign("Spring", [broken])
    for n in range(3):
        lead = make_lead(campaign, f"lead{n}@leads.example", broken, cursor=1)
        record_send(lead, broken, clock.now() - timedelta(days=1), step=0)
    return broken, good


def test_a_disconnection_reminded_daily_reaches_both_channels_once_each(
        db: object, dovecot: Dovecot, smtp_sink: SmtpSink, receiver: WebhookReceiver,
        clock: FakeClock) -> None:
    broken, good = world(db, dovecot, clock)
    add_channel(ChannelSpec("Slack", "slack", receiver.url("/slack")), clock.now())
    add_channel(ChannelSpec("Ops", "webhook", receiver.url("/json"), secret="s3cret"),
                clock.now())
    add_channel(ChannelSpec("Me", "email", REP, from_email=good.email), clock.now())

    start = clock.now()
    update_status(reload(broken), "disconnected", "invalid_credentials", "535 5.7.8", start)
    assert run_round(clock) == 3  # one digest per channel
    for days in range(1, 9):  # the app runs throughout; reminded once a day (reminder_hours)
        clock.set(start + timedelta(days=days))
        run_round(clock)
        clock.advance(minutes=1)
        assert run_round(clock) == 0  # nothing twice
    clock.set(start + timedelta(days=9, minutes=5))
    run_round(clock)

    json_calls = receiver.accepted("/json")
    events = [[(e["event"], e["change"]) for e in call.json()["events"]] for call in json_calls]
    # Issue 25: the campaign it paused is on the mailbox's card; reminded every day it stays
    # broken; at day 8 the stop warning takes the mailbox over (no reminder on top); at day 9
    # the stop is told, and the mailbox's card coming back is not news.
    assert events == [[("disconnected", "opened")]] + [[("reminder", "reminder")]] * 7 + [
        [("leads_stopping", "opened")], [("leads_stopping", "resolved")]]
    assert all(call.signature_ok("s3cret") for call in json_calls)
    first = json_calls[0].json()["events"][0]
    assert (first["account"], first["reason"], first["label"], first["campaigns"]) == (
        "broken@ex.test", "invalid_credentials", "Invalid Credentials", ["Spring"])
    assert first["deadline"] == (start + timedelta(days=9)).isoformat() + "Z"
    assert "“Spring” is paused: no mailbox can send" in first["message"]
    reminder = json_calls[1].json()["events"][0]
    assert reminder["title"] == "Still needs you: broken@ex.test is disconnected: " \
                                "Invalid Credentials"
    warning = json_calls[8].json()["events"][0]
    assert warning["title"].startswith("Leads of broken@ex.test will be stopped at")
    assert warning["deadline"] == (start + timedelta(days=9)).isoformat() + "Z"
    done = json_calls[9].json()["events"][0]
    assert done["title"] == "Leads of broken@ex.test were stopped"
    assert "Stopped" in done["message"]
    assert len({c.headers["x-mailmonitor-delivery"] for c in json_calls}) == 10

    slack = receiver.accepted("/slack")
    assert len(slack) == 10 and all(set(c.json()) == {"text", "blocks"} for c in slack)
    assert slack[0].json()["blocks"][0]["type"] == "header"
    section = slack[0].json()["blocks"][1]["text"]["text"]
    assert "broken@ex.test is disconnected: Invalid Credentials" in section
    assert "_What to do:_ The server rejected the username or password." in section

    emails = alert_emails(smtp_sink)
    assert len(emails) == 10
    assert len({m.message_id for m in emails}) == 10
    assert {m.mail_from for m in emails} == {good.email}  # never the broken mailbox
    assert "will be stopped at" in emails[8].parsed().as_string()
    assert {lead.state for lead in Lead.select()} == {"campaign_stopped"}
    assert len(receiver.requests()) == 20  # no retries were needed, nothing went twice


def test_a_webhook_that_answers_500_twice_then_200_gets_the_message_once(
        db: object, receiver: WebhookReceiver, clock: FakeClock) -> None:
    receiver.script([500, 500, 200])
    channel = add_channel(ChannelSpec("Ops", "webhook", receiver.url()), clock.now())
    account = make_account("a@ex.test")
    update_status(account, "disconnected", "token_expired", "invalid_grant", clock.now())
    collect(clock)
    assert outbox.deliver_due(clock, timeout=5) == 0
    [failing] = conditions(clock.now(), "channel_failing")  # the window says so
    assert failing.title == f"Alerts to “Ops” ({safe_url(receiver.url())}) are not getting through"
    assert "HTTP 500" in failing.message
    assert "HTTP 500" in (reload(channel).last_error or "")
    assert outbox.deliver_due(clock, timeout=5) == 0  # not due yet: backing off
    clock.advance(seconds=30)
    assert outbox.deliver_due(clock, timeout=5) == 0
    clock.advance(minutes=1)
    assert outbox.deliver_due(clock, timeout=5) == 0  # the second wait is 2 minutes
    clock.advance(minutes=1)
    assert outbox.deliver_due(clock, timeout=5) == 1
    clock.advance(hours=2)
    assert outbox.deliver_due(clock, timeout=5) == 0
    calls = receiver.requests()
    assert [c.status for c in calls] == [500, 500, 200]
    assert len({c.headers["x-mailmonitor-delivery"] for c in calls}) == 1  # the same message
    message = OutboxMessage.get()
    assert (message.state, message.attempts) == ("sent", 3)
    assert conditions(clock.now(), "channel_failing") == []
    assert reload(failing).resolved_at is not None
    assert reload(channel).last_error is None


def test_closed_past_the_deadline_nothing_stops_until_the_warning_went_out_and_its_period_passed(
        db: object, dovecot: Dovecot, smtp_sink: SmtpSink, receiver: WebhookReceiver,
        clock: FakeClock) -> None:
    broken, _good = world(db, dovecot, clock)
    add_channel(ChannelSpec("Ops", "webhook", receiver.url()), clock.now())
    start = clock.now()
    update_status(reload(broken), "disconnected", "token_expired", "invalid_grant", start)
    run_round(clock)
    # The laptop stays closed from day 2 to day 11, two days past the 9-day deadline.
    receiver.script([503] * 3)  # and the receiver is down at first
    clock.set(start + timedelta(days=11))
    run_round(clock)
    assert {lead.state for lead in Lead.select()} == {"halted"}
    assert reload(broken).stop_warned_at == clock.now() and reload(broken).stop_notice_at is None
    for _ in range(3):  # retries while the receiver is down: still nothing stops
        clock.advance(minutes=10)
        run_round(clock)
        assert Lead.select().where(Lead.state == "campaign_stopped").count() == 0
    delivered_at = reload(broken).stop_notice_at
    assert delivered_at is not None and delivered_at > start + timedelta(days=11)
    # One message for the warning while it was retried (its deadline did not move meanwhile):
    # announced a full day after the round that wrote it.
    [warning] = receiver.accepted()[-1].json()["events"]
    assert (warning["event"], warning["change"]) == ("leads_stopping", "opened")
    assert warning["deadline"] == (start + timedelta(days=12)).isoformat() + "Z"
    # It arrived late: the stop is a full day after it arrived, and the channel hears so once.
    clock.advance(minutes=1)
    run_round(clock)
    [moved] = receiver.accepted()[-1].json()["events"]
    assert (moved["change"], moved["deadline"]) == (
        "changed", (delivered_at + timedelta(hours=24)).isoformat() + "Z")
    assert len(receiver.accepted()) == 3  # the disconnection, the warning, its new time
    clock.set(delivered_at + timedelta(hours=23, minutes=59))
    run_round(clock)
    assert Lead.select().where(Lead.state == "campaign_stopped").count() == 0
    clock.set(delivered_at + timedelta(hours=24))
    run_round(clock)
    assert Lead.select().where(Lead.state == "campaign_stopped").count() == 3
    done = receiver.accepted()[-1].json()["events"]
    assert [(e["kind"], e["change"], e["title"]) for e in done] == [
        ("leads_stopping", "resolved", "Leads of broken@ex.test were stopped")]


def test_the_grace_period_warns_at_once_and_stops_at_its_end(
        db: object, receiver: WebhookReceiver, clock: FakeClock) -> None:
    account = make_account("leaving@ex.test")
    campaign = make_campaign("Q4", [account])
    lead = make_lead(campaign, "x@leads.example", account, cursor=1)
    record_send(lead, account, clock.now() - timedelta(hours=2), step=0)
    add_channel(ChannelSpec("Ops", "webhook", receiver.url(), events=["leads_stopping"]),
                clock.now())
    lifecycle.disconnect(reload(account), clock.now())
    run_round(clock)
    [call] = receiver.accepted()
    assert "will be stopped at" in call.json()["events"][0]["title"]
    clock.advance(minutes=59)
    run_round(clock)
    assert reload(lead).state == "halted"
    clock.advance(minutes=2)
    run_round(clock)
    assert reload(lead).state == "campaign_stopped"


def test_email_alerts_never_leave_from_a_broken_mailbox_and_say_when_none_can_send(
        db: object, smtp_sink: SmtpSink, clock: FakeClock) -> None:
    only = make_account("only@ex.test")
    channel = add_channel(ChannelSpec("Me", "email", REP, from_email=only.email), clock.now())
    update_status(only, "disconnected", "invalid_credentials", "535", clock.now())
    collect(clock)
    assert outbox.deliver_due(clock, timeout=5) == 0
    assert "No connected mailbox can send" in (reload(channel).last_error or "")
    assert OutboxMessage.get().state == "pending"  # retried later (a mailbox may come back)
    assert alert_emails(smtp_sink) == []


def test_email_alerts_go_through_a_relay_when_one_is_set(
        db: object, smtp_sink: SmtpSink, clock: FakeClock) -> None:
    relay = {"host": "127.0.0.1", "port": smtp_sink.port, "security": "plain",
             "from": "alerts@team.test"}
    add_channel(ChannelSpec("Relay", "email", REP, relay=relay), clock.now())
    account = make_account("gone@ex.test")
    update_status(account, "disconnected", "token_expired", "invalid_grant", clock.now())
    collect(clock)
    assert outbox.deliver_due(clock, timeout=5) == 1
    [email] = alert_emails(smtp_sink)
    assert email.mail_from == "alerts@team.test"
    assert "gone@ex.test is disconnected: Token Expired" in email.parsed()["Subject"]
    assert OutboxMessage.get().via.startswith("relay 127.0.0.1")


def test_a_removed_channel_gets_nothing_and_a_new_one_no_old_alerts(
        db: object, receiver: WebhookReceiver, clock: FakeClock) -> None:
    account = make_account("a@ex.test")
    update_status(account, "disconnected", "token_expired", "", clock.now())
    collect(clock)  # no channel yet: taken, nobody to tell
    add_channel(ChannelSpec("Ops", "webhook", receiver.url()), clock.now())
    collect(clock)
    assert outbox.deliver_due(clock, timeout=5) == 0
    assert NotifyChannel.select().count() == 1 and receiver.requests() == []


def test_a_channel_added_later_is_not_flooded_with_older_alerts(
        db: object, receiver: WebhookReceiver, clock: FakeClock) -> None:
    old = make_account("old@ex.test", imap_host="imap.old.test")
    update_status(old, "disconnected", "token_expired", "", clock.now())
    reconcile(clock.now())  # the window shows it; no round took it yet
    clock.advance(hours=1)
    add_channel(ChannelSpec("Ops", "webhook", receiver.url()), clock.now())
    new = make_account("new@ex.test")
    update_status(new, "disconnected", "invalid_credentials", "", clock.now())
    collect(clock)
    assert outbox.deliver_due(clock, timeout=5) == 1
    [call] = receiver.accepted()
    assert [e["account"] for e in call.json()["events"]] == ["new@ex.test"]


def test_after_a_kill_only_what_provably_did_not_arrive_is_sent_again(
        db: object, receiver: WebhookReceiver, clock: FakeClock) -> None:
    add_channel(ChannelSpec("Ops", "webhook", receiver.url()), clock.now())
    for email in ("a@ex.test", "b@ex.test"):  # on two servers: two cards, two rounds
        update_status(make_account(email, imap_host=f"imap.{email}"), "disconnected",
                      "token_expired", "", clock.now())
        collect(clock)
    first, second = OutboxMessage.select().order_by(OutboxMessage.id)
    # Killed mid-request: one before its last byte, one right after it (its answer lost).
    OutboxMessage.update(state="sending").where(OutboxMessage.id == first.id).execute()
    OutboxMessage.update(state="sending", handed_over_at=clock.now()).where(
        OutboxMessage.id == second.id).execute()
    assert outbox.settle_interrupted(clock.now()) == (1, 1)
    # The window says one may not have arrived (until the channel delivers again).
    [failing] = conditions(clock.now(), "channel_failing")
    assert failing.message.startswith(f"mailmonitor stopped while sending “{second.title}” "
                                      "and cannot tell whether it arrived")
    assert outbox.deliver_due(clock, timeout=5) == 1
    assert [c.json()["events"][0]["account"] for c in receiver.accepted()] == ["a@ex.test"]
    assert reload(second).state == "unknown"  # may have arrived: never sent twice
    clock.advance(hours=2)
    assert outbox.deliver_due(clock, timeout=5) == 0
    assert len(receiver.requests()) == 1
