"""Warnings while a mailbox still works (sign-in lifetimes, password rotation) and the timing
of the warning before leads are stopped — rules without network, on an injected clock."""

from __future__ import annotations

from datetime import timedelta

from mailmonitor.clock import FakeClock
from mailmonitor.models import Alert, Lead, set_setting
from mailmonitor.services.alerts import warnings
from mailmonitor.services.auth import secrets
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.monitoring.account_state import update_status
from tests.factories import make_account, make_campaign, make_lead, record_send, reload


def open_titles(kind: str) -> list[str]:
    return [a.title for a in Alert.select().where((Alert.kind == kind)
                                                  & Alert.resolved_at.is_null())]


def test_a_google_sign_in_in_testing_status_is_announced_a_day_before_its_7_days(
        db: object, clock: FakeClock) -> None:
    set_setting("google_app_testing", True)
    account = make_account("g@gmail.test", kind="gmail", auth_method="oauth2",
                           secret_set_at=clock.now())
    warnings.raise_proactive_warnings(clock.advance(days=5, hours=23))
    assert open_titles("sign_in_expiring") == []
    warnings.raise_proactive_warnings(clock.advance(hours=2))
    [title] = open_titles("sign_in_expiring")
    assert title.startswith("The sign-in of g@gmail.test ends at")
    assert "Testing" in Alert.get(Alert.kind == "sign_in_expiring").message
    # Signing in again (a new refresh token) starts the 7 days anew.
    secrets.set_secret("g@gmail.test", "refresh_token", "1//new-token")
    assert reload(account).secret_set_at is not None
    account = reload(account)
    warnings.raise_proactive_warnings(account.secret_set_at + timedelta(hours=1))
    assert open_titles("sign_in_expiring") == []


def test_a_microsoft_sign_in_unused_for_almost_90_days_is_announced(
        db: object, clock: FakeClock) -> None:
    make_account("m@outlook.test", kind="microsoft", auth_method="oauth2",
                 secret_set_at=clock.now(), checked_at=clock.now())
    warnings.raise_proactive_warnings(clock.advance(days=88))
    assert open_titles("sign_in_expiring") == []
    warnings.raise_proactive_warnings(clock.advance(days=1, hours=1))
    assert len(open_titles("sign_in_expiring")) == 1


def test_a_password_unchanged_for_the_rotation_period_is_announced_until_changed(
        db: object, clock: FakeClock) -> None:
    account = make_account("p@ex.test", secret_set_at=clock.now())
    warnings.raise_proactive_warnings(clock.advance(days=100))
    assert open_titles("password_rotation") == []  # the rep set no rotation period
    set_setting("password_rotation_days", 90)
    warnings.raise_proactive_warnings(clock.now())
    [title] = open_titles("password_rotation")
    assert "p@ex.test is due for a change" in title
    secrets.set_secret("p@ex.test", "password", "same")
    first = reload(account).secret_set_at
    secrets.set_secret("p@ex.test", "password", "same")  # typed again: not a change
    assert reload(account).secret_set_at == first
    warnings.raise_proactive_warnings(first + timedelta(minutes=1))
    assert open_titles("password_rotation") == []


def test_warned_on_time_the_stop_comes_at_the_deadline_and_not_before(
        db: object, clock: FakeClock) -> None:
    account = make_account("a@ex.test")
    campaign = make_campaign("C", [account])
    lead = make_lead(campaign, "l@leads.example", account, cursor=1)
    record_send(lead, account, clock.now(), step=0)
    start = clock.now()
    update_status(account, "disconnected", "token_expired", "", start)
    lifecycle.run_housekeeping(start + timedelta(days=8) - timedelta(minutes=1))
    assert open_titles("leads_stopping") == []
    lifecycle.run_housekeeping(start + timedelta(days=8))
    [title] = open_titles("leads_stopping")
    assert title.startswith("1 leads of a@ex.test will be stopped at")
    lifecycle.run_housekeeping(start + timedelta(days=9) - timedelta(seconds=1))
    assert reload(lead).state == "halted"
    lifecycle.run_housekeeping(start + timedelta(days=9))
    assert reload(lead).state == "campaign_stopped"
    assert open_titles("leads_stopping") == []  # done: the warning gave way to "stopped"


def test_a_mailbox_with_no_contacted_lead_needs_no_warning(db: object, clock: FakeClock
                                                         ) -> None:
    account = make_account("a@ex.test")
    other = make_account("b@ex.test")
    campaign = make_campaign("C", [account, other])
    lead = make_lead(campaign, "new@leads.example", account)
    update_status(account, "disconnected", "token_expired", "", clock.now())
    lifecycle.run_housekeeping(clock.advance(days=9))
    assert open_titles("leads_stopping") == []
    assert reload(lead).mailbox_id == other.id  # re-allocated; nothing was at risk


def test_reconnecting_ends_the_warning(db: object, clock: FakeClock) -> None:
    account = make_account("a@ex.test")
    campaign = make_campaign("C", [account])
    lead = make_lead(campaign, "l@leads.example", account, cursor=1)
    record_send(lead, account, clock.now(), step=0)
    update_status(account, "disconnected", "token_expired", "", clock.now())
    lifecycle.run_housekeeping(clock.advance(days=8, hours=1))
    assert len(open_titles("leads_stopping")) == 1
    lifecycle.reconnected(reload(account), clock.now())
    assert open_titles("leads_stopping") == []
    assert reload(account).stop_warned_at is None
    lifecycle.run_housekeeping(clock.advance(days=5))
    assert Lead.get_by_id(lead.id).state == "active"


def test_the_stop_warning_is_also_a_desktop_notification(db: object, clock: FakeClock) -> None:
    from mailmonitor.services.alerts.notifications import new_notices

    account = make_account("a@ex.test")
    campaign = make_campaign("C", [account])
    lead = make_lead(campaign, "l@leads.example", account, cursor=1)
    record_send(lead, account, clock.now(), step=0)
    update_status(account, "disconnected", "token_expired", "", clock.now())
    lifecycle.run_housekeeping(clock.advance(days=8))
    assert "leads_stopping" in {n.kind for n in new_notices()}
