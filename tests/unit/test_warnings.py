"""Warnings while a mailbox still works (sign-in lifetimes, password rotation) and the timing
of the warning before leads are stopped — rules without network, on an injected clock, as the
attention model tells them after the background loop reconciled."""

from __future__ import annotations

from datetime import datetime, timedelta

from mailmonitor.clock import FakeClock
from mailmonitor.models import Lead, set_setting
from mailmonitor.services.alerts.reconciler import reconcile
from mailmonitor.services.alerts.warnings import rep_time
from mailmonitor.services.auth import secrets
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.monitoring.account_state import update_status
from tests.attention_support import conditions
from tests.factories import make_account, make_campaign, make_lead, record_send, reload


def open_titles(kind: str, now: datetime) -> list[str]:
    return [a.title for a in conditions(now, kind)]


def background(now: datetime) -> None:
    """What the background loop does each minute: the time-based rules, then a reconcile."""
    lifecycle.run_housekeeping(now)
    reconcile(now)


def test_a_google_sign_in_in_testing_status_is_announced_a_day_before_its_7_days(
        db: object, clock: FakeClock) -> None:
    set_setting("google_app_testing", True)
    account = make_account("g@gmail.test", kind="gmail", auth_method="oauth2",
                           secret_set_at=clock.now())
    start = clock.now()
    assert open_titles("sign_in_expiring", clock.advance(days=5, hours=23)) == []
    [card] = conditions(clock.advance(hours=2), "sign_in_expiring")
    ends = start + timedelta(days=7)
    assert card.title == f"The sign-in of g@gmail.test ends at {rep_time(ends)}"
    assert (card.deadline, card.action, card.severity) == (ends, "reconnect", "warning")
    assert "Testing" in card.message
    # Signing in again (a new refresh token) starts the 7 days anew.
    secrets.set_secret("g@gmail.test", "refresh_token", "1//new-token")
    assert reload(account).secret_set_at is not None
    account = reload(account)
    assert open_titles("sign_in_expiring", account.secret_set_at + timedelta(hours=1)) == []


def test_a_microsoft_sign_in_unused_for_almost_90_days_is_announced(
        db: object, clock: FakeClock) -> None:
    make_account("m@outlook.test", kind="microsoft", auth_method="oauth2",
                 secret_set_at=clock.now(), checked_at=clock.now())
    assert open_titles("sign_in_expiring", clock.advance(days=88)) == []
    assert len(open_titles("sign_in_expiring", clock.advance(days=1, hours=1))) == 1


def test_a_password_unchanged_for_the_rotation_period_is_announced_until_changed(
        db: object, clock: FakeClock) -> None:
    account = make_account("p@ex.test", secret_set_at=clock.now())
    # the rep set no rotation period
    assert open_titles("password_rotation", clock.advance(days=100)) == []
    set_setting("password_rotation_days", 90)
    [title] = open_titles("password_rotation", clock.now())
    assert "p@ex.test is due for a change" in title
    secrets.set_secret("p@ex.test", "password", "same")
    first = reload(account).secret_set_at
    secrets.set_secret("p@ex.test", "password", "same")  # typed again: not a change
    assert reload(account).secret_set_at == first
    assert open_titles("password_rotation", first + timedelta(minutes=1)) == []


def test_warned_on_time_the_stop_comes_at_the_deadline_and_not_before(
        db: object, clock: FakeClock) -> None:
    account = make_account("a@ex.test")
    campaign = make_campaign("C", [account])
    lead = make_lead(campaign, "l@leads.example", account, cursor=1)
    record_send(lead, account, clock.now(), step=0)
    start = clock.now()
    update_status(account, "disconnected", "token_expired", "", start)
    background(start + timedelta(days=8) - timedelta(minutes=1))
    assert open_titles("leads_stopping", start + timedelta(days=8) - timedelta(minutes=1)) == []
    background(start + timedelta(days=8))
    deadline = start + timedelta(days=9)
    [card] = conditions(start + timedelta(days=8), "leads_stopping")
    assert card.title == \
        f"Leads of a@ex.test will be stopped at {rep_time(deadline)} unless you reconnect"
    assert card.deadline == deadline
    assert card.message.startswith("1 lead already received email from this mailbox "
                                   "(Token Expired), so its follow-ups can only come from it.")
    background(start + timedelta(days=9) - timedelta(seconds=1))
    assert reload(lead).state == "halted"
    background(start + timedelta(days=9))
    assert reload(lead).state == "campaign_stopped"
    # done: the warning gave way to "stopped", which the channels hear once
    assert open_titles("leads_stopping", start + timedelta(days=9)) == []
    [done] = [c for c in card.changes if c.change == "resolved"]
    assert (done.title, done.event) == ("Leads of a@ex.test were stopped", "leads_stopping")


def test_a_mailbox_with_no_contacted_lead_needs_no_warning(db: object, clock: FakeClock
                                                         ) -> None:
    account = make_account("a@ex.test")
    other = make_account("b@ex.test")
    campaign = make_campaign("C", [account, other])
    lead = make_lead(campaign, "new@leads.example", account)
    update_status(account, "disconnected", "token_expired", "", clock.now())
    background(clock.advance(days=9))
    assert open_titles("leads_stopping", clock.now()) == []
    assert reload(lead).mailbox_id == other.id  # re-allocated; nothing was at risk


def test_reconnecting_ends_the_warning(db: object, clock: FakeClock) -> None:
    account = make_account("a@ex.test")
    campaign = make_campaign("C", [account])
    lead = make_lead(campaign, "l@leads.example", account, cursor=1)
    record_send(lead, account, clock.now(), step=0)
    update_status(account, "disconnected", "token_expired", "", clock.now())
    background(clock.advance(days=8, hours=1))
    assert len(open_titles("leads_stopping", clock.now())) == 1
    lifecycle.reconnected(reload(account), clock.now())
    assert conditions(clock.now()) == []
    assert reload(account).stop_warned_at is None
    background(clock.advance(days=5))
    assert Lead.get_by_id(lead.id).state == "active"


def test_the_stop_warning_is_also_a_desktop_notification(db: object, clock: FakeClock) -> None:
    from mailmonitor.services.alerts.notifications import new_notices

    account = make_account("a@ex.test")
    campaign = make_campaign("C", [account])
    lead = make_lead(campaign, "l@leads.example", account, cursor=1)
    record_send(lead, account, clock.now(), step=0)
    update_status(account, "disconnected", "token_expired", "", clock.now())
    background(clock.advance(days=8))
    assert "leads_stopping" in {n.kind for n in new_notices()}
