"""Notifications: coalesced and rate-limited, with an injectable clock (no Qt)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from mailmonitor.clock import FakeClock
from mailmonitor.models import Alert, set_setting
from mailmonitor.services.alerts import notifications
from mailmonitor.services.alerts.notifications import Notice, NotificationPolicy, coalesce
from mailmonitor.services.alerts.reconciler import reconcile
from mailmonitor.services.monitoring import maintenance
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.services.sending.engine import record_send_problem
from tests.factories import make_account, make_campaign, make_leads


def disconnected(alert_id: int, account_id: int, email: str) -> Notice:
    return Notice(alert_id, "mailbox_broken",
                  f"{email} is disconnected: Invalid Credentials", account_id)


def test_one_alert_is_shown_with_its_own_title(clock: FakeClock) -> None:
    policy = NotificationPolicy(clock)
    policy.offer([disconnected(1, 7, "ava@x.example")])
    shown = policy.take()
    assert shown is not None
    assert shown.title == "ava@x.example is disconnected: Invalid Credentials"
    assert shown.account_id == 7  # a click opens ava's reconnect wizard
    assert "reconnect" in shown.message.lower()


def test_several_alerts_become_one_notification(clock: FakeClock) -> None:
    policy = NotificationPolicy(clock)
    policy.offer([disconnected(1, 7, "ava@x.example"), disconnected(2, 8, "ben@x.example"),
                  Notice(3, "campaign_paused", "Campaign “Q4” paused", None, 4)])
    shown = policy.take()
    assert shown is not None
    assert shown.title == "2 mailbox problems · 1 campaign paused"
    assert shown.account_id is None  # several things: a click opens the alerts list
    assert shown.alert_ids == (1, 2, 3)
    assert policy.take() is None


def test_one_mailbox_and_the_campaign_it_paused_open_that_mailboxs_wizard(
        clock: FakeClock) -> None:
    policy = NotificationPolicy(clock)
    policy.offer([disconnected(1, 7, "ava@x.example"),
                  Notice(2, "campaign_paused", "Campaign “Q4” paused", None, 4)])
    shown = policy.take()
    assert shown is not None and shown.account_id == 7


def test_rate_limit_holds_later_alerts_and_folds_them(clock: FakeClock) -> None:
    policy = NotificationPolicy(clock, min_gap=timedelta(minutes=2))
    policy.offer([disconnected(1, 7, "ava@x.example")])
    assert policy.take() is not None
    clock.advance(seconds=30)
    policy.offer([disconnected(2, 8, "ben@x.example")])
    clock.advance(seconds=10)
    policy.offer([disconnected(3, 9, "cleo@x.example")])
    assert policy.take() is None  # rate-limited
    assert policy.next_due() == clock.now() - timedelta(seconds=40) + timedelta(minutes=2)
    clock.advance(minutes=2)
    shown = policy.take()
    assert shown is not None and shown.title == "2 mailbox problems"
    assert "ben@x.example" in shown.message and "cleo@x.example" in shown.message


def test_an_alert_is_never_announced_twice(clock: FakeClock) -> None:
    policy = NotificationPolicy(clock, min_gap=timedelta(0))
    notice = disconnected(1, 7, "ava@x.example")
    policy.offer([notice])
    assert policy.take() is not None
    policy.offer([notice])
    assert policy.take() is None


def test_resolved_alerts_are_withdrawn_before_their_turn(clock: FakeClock) -> None:
    policy = NotificationPolicy(clock)
    policy.offer([disconnected(1, 7, "ava@x.example")])
    policy.take()
    policy.offer([disconnected(2, 8, "ben@x.example")])
    policy.withdraw(still_open=[])
    clock.advance(minutes=5)
    assert policy.take() is None


def test_notes_do_not_notify(clock: FakeClock) -> None:
    policy = NotificationPolicy(clock)
    policy.offer([Notice(1, "password_rotation", "The password of ava is due for a change", 7)])
    assert policy.take() is None


def test_long_lists_are_shortened() -> None:
    notices = [disconnected(i, i, f"rep{i}@x.example") for i in range(1, 8)]
    shown = coalesce(notices, max_lines=3)
    assert shown.title == "7 mailbox problems"
    assert shown.message.splitlines()[-1] == "…and 4 more"


def test_new_notices_come_from_open_unnotified_alerts(db: Path, clock: FakeClock) -> None:
    ava = make_account("ava@x.example")
    campaign = make_campaign("Solo", [ava])
    make_leads(campaign, ava, 3)
    update_status(ava, "disconnected", "invalid_credentials", "535", clock.now())
    reconcile(clock.now())
    # The campaign it paused is on the mailbox's card (issue 25): one notice, not two.
    [notice] = notifications.new_notices()
    assert (notice.kind, notice.account_id) == ("mailbox_broken", ava.id)
    notifications.mark_notified([notice.alert_id])
    assert notifications.new_notices() == []
    assert Alert.select().where(Alert.notified).count() == 1
    assert notifications.notifications_enabled()
    set_setting("notifications", False)
    assert not notifications.notifications_enabled()


def test_a_notification_carries_the_shape_of_its_most_severe_alert(db: Path,
                                                                   clock: FakeClock) -> None:
    ava = make_account("ava@x.example")
    campaign = make_campaign("Q4", [ava])
    make_leads(campaign, ava, 2)
    make_account("ben@x.example", password_rotation_days=30,
                 secret_set_at=clock.now() - timedelta(days=40))
    update_status(ava, "disconnected", "invalid_credentials", "535", clock.now())
    reconcile(clock.now())
    ids = [a.id for a in Alert.select()]
    assert notifications.status_of_notification(ids) == "disconnected"
    info = [a.id for a in Alert.select().where(Alert.severity == "info")]
    assert [a.kind for a in Alert.select().where(Alert.id.in_(info))] == ["password_rotation"]
    assert notifications.status_of_notification(info) == "connected"


def test_things_the_rep_must_check_after_a_crash_or_a_broken_template_notify(
        clock: FakeClock) -> None:
    policy = NotificationPolicy(clock)
    policy.offer([Notice(1, "send_unknown", "1 email may or may not have been sent", 7),
                  Notice(2, "leads_flagged", "1 lead needs a template field", None, 4)])
    shown = policy.take()
    assert shown is not None
    assert shown.title == "1 mailbox with emails to check · 1 campaign with leads to fix"


def test_a_card_that_gets_worse_notifies_again(db: Path, clock: FakeClock) -> None:
    ava = make_account("ava@x.example")
    record_send_problem(ava.id, "refused", "451 4.7.1 try again later", clock.now())
    reconcile(clock.now())
    [refused] = notifications.new_notices()
    assert refused.kind == "send_problem"
    notifications.mark_notified([refused.alert_id])
    clock.advance(minutes=5)
    record_send_problem(ava.id, "error", "KeyError: 'first_name'", clock.now())
    reconcile(clock.now())
    [worse] = notifications.new_notices()
    assert worse.alert_id == refused.alert_id  # the same card, critical now
    assert worse.title == "Sending from ava@x.example stopped after an unexpected error"


def test_a_card_naming_several_mailboxes_opens_the_alerts_list(db: Path,
                                                               clock: FakeClock) -> None:
    for name in ("ava", "ben"):
        account = make_account(f"{name}@x.example")
        update_status(account, "disconnected", "invalid_credentials", "535", clock.now())
    reconcile(clock.now())
    [notice] = notifications.new_notices()
    assert notice.title == "2 mailboxes on imap.example.com are disconnected: Invalid Credentials"
    assert notice.account_id is None  # not one mailbox's wizard: the card names two
    policy = NotificationPolicy(clock)
    policy.offer([notice])
    shown = policy.take()
    assert shown is not None and shown.account_id is None


def test_a_muted_card_never_pops_up(db: Path, clock: FakeClock) -> None:
    ava = make_account("ava@x.example")
    maintenance.add_window(["ava@x.example"], None, False, "2h", clock.now(),
                           note="moving servers")
    update_status(ava, "disconnected", "invalid_credentials", "535", clock.now())
    reconcile(clock.now())
    assert [a.muted for a in Alert.select()] == [True]
    assert notifications.new_notices() == []
