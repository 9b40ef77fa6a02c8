"""RFC 3464 reports read with the standard `email` package: hard (5.x.x) and soft (4.x.x)
bounces told apart, the rate over a mailbox's recent sends, the minimum before it pauses."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from mailmonitor.models import Bounce, SendRecord, set_setting
from mailmonitor.services.deliverability import bounce_guard
from mailmonitor.services.sending.replies import parse
from tests import mail_samples as samples
from tests.factories import make_account, make_campaign, make_lead

NOW = datetime(2026, 11, 23, 9, 0)


def test_a_failed_report_is_a_hard_bounce_and_a_delay_a_soft_one() -> None:
    hard = parse(samples.delivery_status(None, "Gone@X.example", "rep@sales.example",
                                         status="5.1.1", original_id="<a@sales.example>"))
    soft = parse(samples.delivery_status(None, "full@x.example", "rep@sales.example",
                                         action="delayed", status="4.2.2",
                                         original_id="<b@sales.example>"))
    [h] = bounce_guard.parse_dsn(hard)
    [s] = bounce_guard.parse_dsn(soft)
    assert (h.recipient, h.action, h.status, h.kind) == ("gone@x.example", "failed", "5.1.1",
                                                         "hard")
    assert "Recipient address rejected" in h.diagnostic
    assert (s.recipient, s.action, s.status, s.kind) == ("full@x.example", "delayed", "4.2.2",
                                                         "soft")


def test_failed_with_a_temporary_status_is_soft_and_smtp_codes_are_read_too() -> None:
    gave_up = parse(samples.delivery_status(None, "a@x.example", "rep@sales.example",
                                            status="4.4.7", original_id="<c@sales.example>"))
    assert bounce_guard.parse_dsn(gave_up)[0].kind == "soft"
    assert bounce_guard.kind_of_status("550 5.1.1 no such user") == "hard"
    assert bounce_guard.kind_of_status("452 4.2.2 mailbox full") == "soft"
    assert bounce_guard.kind_of_status("550 Requested action not taken") == "hard"
    assert bounce_guard.parse_dsn(parse(samples.reply("a@x.example", "r@s.example", None))) == []


def seed(sends: int, hard: int, soft: int = 0, when: datetime = NOW) -> tuple[object, list[int]]:
    account = make_account("rep@sales.example")
    campaign = make_campaign("C", [account], steps=1)
    ids = []
    for i in range(sends):
        lead = make_lead(campaign, f"l{i}@x.example", account)
        record = SendRecord.create(lead=lead, campaign=campaign, account=account, step=0,
                                   message_id=f"<m{i}@sales.example>", state="sent",
                                   created_at=when - timedelta(minutes=sends - i), sent_at=when)
        ids.append(record.id)
        kind = "hard" if i < hard else "soft" if i < hard + soft else None
        if kind:
            Bounce.create(account=account, send=record, lead=lead, email=lead.email, kind=kind,
                          status="5.1.1" if kind == "hard" else "4.2.2", received_at=when)
    return account, ids


def test_the_rate_counts_hard_bounces_of_the_last_50_sends_of_7_days(db: Path) -> None:
    account, _ = seed(60, hard=3, soft=4)
    rate = bounce_guard.bounce_rate(account, NOW)
    # The first 10 sends (with the 3 hard bounces) are older than the last 50.
    assert (rate.sends, rate.hard, rate.soft) == (50, 0, 0)


def test_over_five_percent_with_three_hard_bounces_pauses(db: Path) -> None:
    account, ids = seed(50, hard=0)
    for i, send_id in enumerate(ids[-3:]):
        record = SendRecord.get_by_id(send_id)
        Bounce.create(account=account, send=record, lead=record.lead_id, email=f"x{i}@x.example",
                      kind="hard", status="5.1.1", received_at=NOW)
    rate = bounce_guard.bounce_rate(account, NOW)
    assert (rate.hard, round(rate.percent, 1)) == (3, 6.0)
    assert bounce_guard.over_threshold(rate)
    assert "x0@x.example" in bounce_guard.pause_detail(rate)
    set_setting("bounce_threshold_percent", 10.0)
    assert not bounce_guard.over_threshold(rate)


def test_two_bounces_of_three_sends_is_chance_not_a_rate(db: Path) -> None:
    account, _ = seed(3, hard=2)
    rate = bounce_guard.bounce_rate(account, NOW)
    assert rate.percent > 50 and not bounce_guard.over_threshold(rate)


def test_sends_older_than_the_window_do_not_count(db: Path) -> None:
    account, _ = seed(10, hard=5, when=NOW - timedelta(days=8))
    assert bounce_guard.bounce_rate(account, NOW).sends == 0
    assert bounce_guard.evaluate(account, NOW) is False  # type: ignore[arg-type]


def test_after_a_poll_only_mailboxes_with_new_bounces_are_looked_at(db: Path) -> None:
    account, _ = seed(50, hard=4, when=NOW - timedelta(hours=1))
    assert bounce_guard.pauses_needed(NOW, received_since=NOW) == []  # nothing new
    [(account_id, words)] = bounce_guard.pauses_needed(NOW)
    assert account_id == account.id and "4 of the last 50 emails bounced" in words  # type: ignore[attr-defined]
    assert bounce_guard.apply_pauses([(account_id, words)], NOW) == ["rep@sales.example"]
    assert bounce_guard.pauses_needed(NOW) == []  # held already
