"""Spec §5: the reconnect wizard's navigation and Save & Resume, without Qt."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.memory_keyring import MemoryKeyring
from mailmonitor.models import Account, Campaign, Check, Lead
from mailmonitor.services.accounts.connection_test import FlowError, failure_help
from mailmonitor.services.accounts.diagnostics import diagnostics_report
from mailmonitor.services.auth import secrets
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.services.reconnect.flow import TRANSITIONS, Page, ReconnectFlow
from mailmonitor.services.sending.settings import SendingSettings
from tests.factories import (
    lead_states,
    make_account,
    make_campaign,
    make_leads,
    probe_fail,
    probe_ok,
    record_send,
    reload,
)

NEW_PASSWORD = "n3w-Secret-pass"


def pass_the_test(flow: ReconnectFlow) -> None:
    """The new password typed, Next pressed, IMAP and SMTP both answer: Save & Resume is next."""
    flow.set_password(NEW_PASSWORD)
    flow.start_test()
    flow.finish_test(probe_ok(), probe_ok())
    assert flow.page is Page.READY


@pytest.fixture
def broken(db: Path, clock: FakeClock) -> tuple[Account, Campaign, Campaign]:
    """cleo is disconnected (invalid credentials). "Solo" sent only from her and was paused by
    mailmonitor; "Shared" also sends from ava and keeps running."""
    cleo = make_account("cleo@northwind.example", daily_limit=40, min_gap_seconds=900)
    ava = make_account("ava@northwind.example")
    solo = make_campaign("Solo", [cleo])
    shared = make_campaign("Shared", [cleo, ava])
    make_leads(solo, cleo, 6, prefix="solo", cursor=1)
    make_leads(solo, cleo, 4, prefix="solo-new")
    make_leads(shared, cleo, 3, prefix="shared")
    make_leads(shared, ava, 3, prefix="ava")
    update_status(cleo, "disconnected", "invalid_credentials",
                  "535 5.7.8 Username and Password not accepted", clock.now())
    return reload(cleo), reload(solo), reload(shared)


def test_paused_campaigns_are_offered_first_and_preselected(broken) -> None:
    cleo, solo, _shared = broken
    flow = ReconnectFlow.start(cleo.id)
    assert flow.page is Page.SELECT_CAMPAIGN
    assert [c.name for c in flow.campaigns] == ["Solo", "Shared"]
    assert flow.campaign_id == solo.id
    assert flow.campaigns[0].status_text == "Paused: no mailbox can send"
    assert flow.campaigns[0].waiting_leads == 10


def test_full_path_edit_warmup_previous_test_and_save(broken, clock: FakeClock,
                                                       memory_keyring: MemoryKeyring) -> None:
    cleo, solo, _shared = broken
    flow = ReconnectFlow.start(cleo.id)
    assert flow.edit_warmup() is Page.EDIT_WARMUP
    flow.set_settings(SendingSettings(daily_limit=25, min_gap_seconds=1200, warmup_enabled=True,
                                      warmup_start=5, warmup_step=3))
    # In the pop-up, Previous returns to the connection page (not to the campaign list).
    assert flow.previous() is Page.CONNECTION
    assert flow.can_test() == (False, "Enter the password (or a new app password) first.")
    flow.set_password(NEW_PASSWORD)
    assert flow.start_test() == NEW_PASSWORD
    assert flow.page is Page.TESTING
    outcome = flow.finish_test(probe_ok(latency_ms=21), probe_ok(latency_ms=33))
    assert outcome.ok and flow.page is Page.READY
    assert (outcome.imap_latency_ms, outcome.smtp_latency_ms) == (21, 33)

    flow.store_secret()
    result = flow.apply(clock.now())

    assert flow.page is Page.DONE
    assert result.resumed_campaign == "Solo"
    assert secrets.get_secret(cleo.email, "password") == NEW_PASSWORD
    cleo = reload(cleo)
    assert (cleo.status, cleo.reason) == ("connected", None)
    assert (cleo.daily_limit, cleo.min_gap_seconds) == (25, 1200)
    assert (cleo.warmup_start, cleo.warmup_step, cleo.warmup_started_on) == (
        5, 3, clock.now().date())
    assert reload(solo).status == "active"
    # Halted leads continue from their cursor: contacted ones are active, the others pending.
    assert lead_states(solo) == {"active": 6, "pending": 4}
    cursors = {lead.email[:5]: lead.cursor for lead in Lead.select().where(Lead.campaign == solo)}
    assert cursors == {"solo0": 1, "solo1": 1, "solo2": 1, "solo3": 1, "solo4": 1, "solo5": 1,
                       "solo-": 0}


def test_next_only_continues_on_success_and_says_what_to_do(broken) -> None:
    cleo, _solo, _shared = broken
    flow = ReconnectFlow.start(cleo.id, at=Page.CONNECTION)
    flow.set_password("wrong")
    flow.start_test()
    outcome = flow.finish_test(
        probe_fail("invalid_credentials", "NO [AUTHENTICATIONFAILED] Invalid credentials"),
        probe_fail("invalid_credentials", "535 5.7.8 rejected"))
    assert not outcome.ok
    assert flow.page is Page.CONNECTION
    assert outcome.label == "Invalid Credentials"
    help_text = " ".join(flow.failure_help())
    assert "Re-enter the password" in help_text
    assert "Copy diagnostics" in help_text
    with pytest.raises(FlowError):
        flow.store_secret()
    with pytest.raises(FlowError):
        flow.apply(FakeClock().now())
    assert reload(cleo).status == "disconnected"


def test_one_failing_side_is_a_failure(broken) -> None:
    cleo, _solo, _shared = broken
    flow = ReconnectFlow.start(cleo.id, at=Page.CONNECTION)
    flow.set_password(NEW_PASSWORD)
    flow.start_test()
    outcome = flow.finish_test(probe_ok(), probe_fail(
        "auth_method_disabled", "535 5.7.139 SmtpClientAuthentication is disabled"))
    assert not outcome.ok and outcome.reason == "auth_method_disabled"
    assert any("SMTP AUTH" in line for line in flow.failure_help())


def test_reconnect_shortcut_starts_at_the_connection_page(broken) -> None:
    cleo, solo, _shared = broken
    flow = ReconnectFlow.start(cleo.id, at=Page.CONNECTION)
    assert flow.page is Page.CONNECTION
    assert flow.campaign_id == solo.id
    assert flow.back() is Page.SELECT_CAMPAIGN
    with pytest.raises(FlowError):
        ReconnectFlow.start(cleo.id, at=Page.READY)


def test_navigation_refuses_steps_the_page_does_not_offer(broken) -> None:
    cleo, _solo, _shared = broken
    flow = ReconnectFlow.start(cleo.id)
    with pytest.raises(FlowError):
        flow.previous()  # Previous belongs to the Edit Warm-up pop-up
    with pytest.raises(FlowError):
        flow.start_test()
    assert flow.allowed() == set(TRANSITIONS[Page.SELECT_CAMPAIGN])
    assert flow.skip() is Page.CONNECTION


def test_back_from_ready_forgets_the_passed_test(broken) -> None:
    cleo, _solo, _shared = broken
    flow = ReconnectFlow.start(cleo.id, at=Page.CONNECTION)
    pass_the_test(flow)
    assert flow.back() is Page.CONNECTION
    assert flow.last_test is None


def test_invalid_warmup_settings_are_refused(broken) -> None:
    cleo, _solo, _shared = broken
    flow = ReconnectFlow.start(cleo.id)
    flow.edit_warmup()
    with pytest.raises(FlowError, match="Daily limit 100001 is too large"):
        flow.set_settings(SendingSettings(daily_limit=100_001))
    assert flow.page is Page.EDIT_WARMUP


def test_cancel_in_edit_warmup_returns_to_the_connection_page_changing_nothing(broken) -> None:
    cleo, _solo, _shared = broken
    flow = ReconnectFlow.start(cleo.id, at=Page.CONNECTION)
    before = flow.settings
    flow.edit_warmup()
    assert flow.cancel_warmup() is Page.CONNECTION
    assert flow.settings == before and not flow.settings_edited


def test_settings_are_kept_when_not_edited(broken, clock: FakeClock) -> None:
    cleo, _solo, _shared = broken
    flow = ReconnectFlow.start(cleo.id, at=Page.CONNECTION)
    pass_the_test(flow)
    flow.store_secret()
    flow.apply(clock.now())
    cleo = reload(cleo)
    assert (cleo.daily_limit, cleo.min_gap_seconds, cleo.warmup_start) == (40, 900, None)


def test_a_campaign_the_rep_paused_resumes_only_when_selected(broken, clock: FakeClock) -> None:
    cleo, _solo, shared = broken
    from mailmonitor.services.campaigns.rules import pause_campaign

    pause_campaign(shared, clock.now())
    flow = ReconnectFlow.start(cleo.id, at=Page.CONNECTION, campaign_id=shared.id)
    pass_the_test(flow)
    flow.store_secret()
    result = flow.apply(clock.now())
    assert result.resumed_campaign == "Shared"
    assert reload(shared).status == "active"
    # Solo was paused by mailmonitor: the reconnect rules resume it too (setting on).
    assert Campaign.get(Campaign.name == "Solo").status == "active"


def test_gmail_app_password_spaces_are_removed(db: Path, clock: FakeClock) -> None:
    dan = make_account("dan@gmail.com", kind="gmail", auth_method="app_password",
                       imap_host="imap.gmail.com", status="disconnected",
                       reason="app_password_required")
    flow = ReconnectFlow.start(dan.id, at=Page.CONNECTION)
    flow.set_password("abcd efgh ijkl mnop")
    assert flow.start_test() == "abcdefghijklmnop"
    help_text = " ".join(failure_help(dan, "app_password_required"))
    assert "2-Step Verification" in help_text


def test_two_step_disconnected_account_comes_back_with_fresh_settings(
        broken, clock: FakeClock) -> None:
    cleo, solo, _shared = broken
    lifecycle.disconnect(reload(cleo), clock.now())
    flow = ReconnectFlow.start(cleo.id)
    # The campaigns it left are still offered (within the grace period it gets them back).
    assert {c.name for c in flow.campaigns} == {"Solo", "Shared"}
    assert flow.settings == SendingSettings()
    flow.skip()
    pass_the_test(flow)
    flow.store_secret()
    flow.apply(clock.advance(minutes=10))
    cleo = reload(cleo)
    assert cleo.status == "connected" and cleo.detached_at is None
    assert cleo.daily_limit == SendingSettings().daily_limit
    assert reload(solo).status == "active"


def test_test_crash_stays_on_the_connection_page(broken) -> None:
    cleo, _solo, _shared = broken
    flow = ReconnectFlow.start(cleo.id, at=Page.CONNECTION)
    flow.set_password(NEW_PASSWORD)
    flow.start_test()
    outcome = flow.test_crashed("RuntimeError: boom")
    assert flow.page is Page.CONNECTION and not outcome.ok


def test_diagnostics_have_settings_and_answers_but_no_secret(broken, clock: FakeClock) -> None:
    cleo, _solo, _shared = broken
    flow = ReconnectFlow.start(cleo.id, at=Page.CONNECTION)
    flow.set_password(NEW_PASSWORD)
    flow.start_test()
    flow.finish_test(probe_fail("invalid_credentials", f"AUTH PLAIN {NEW_PASSWORD} rejected"),
                     probe_fail("invalid_credentials", "535 5.7.8 rejected"))
    from mailmonitor.services.monitoring.account_state import record_check

    record_check(reload(cleo), probe_fail("invalid_credentials", f"pass={NEW_PASSWORD}"),
                 probe_ok(), clock.now())
    report = flow.diagnostics(clock.now())
    assert "cleo@northwind.example" in report
    assert "imap.example.com:993" in report
    assert "Invalid Credentials" in report
    assert "535 5.7.8" in report
    assert NEW_PASSWORD not in report
    assert NEW_PASSWORD not in diagnostics_report(reload(cleo), clock.now())


def test_contacted_leads_keep_their_history_through_the_wizard(broken, clock: FakeClock) -> None:
    cleo, solo, _shared = broken
    lead = Lead.get(Lead.email == "solo0@leads.example")
    record_send(lead, cleo, clock.now())
    flow = ReconnectFlow.start(cleo.id)
    flow.skip()
    pass_the_test(flow)
    flow.store_secret()
    flow.apply(clock.now())
    lead = reload(lead)
    assert (lead.mailbox_id, lead.cursor, lead.state) == (cleo.id, 1, "active")
    assert reload(solo).pause_reason is None
    assert reload(solo).status == "active"


def test_save_stores_the_passing_test_as_a_check_of_the_account(broken, clock: FakeClock) -> None:
    cleo, _solo, _shared = broken
    flow = ReconnectFlow.start(cleo.id, at=Page.CONNECTION)
    flow.set_password(NEW_PASSWORD)
    flow.start_test()
    flow.finish_test(probe_ok(latency_ms=21), probe_ok(latency_ms=34))
    flow.store_secret()
    flow.apply(clock.now())
    check = Check.select().where(Check.account == cleo).order_by(Check.id.desc()).get()
    assert (check.status, check.reason, check.trigger, check.latency_ms) == (
        "connected", None, "reconnect", 34)
    assert reload(cleo).last_latency_ms == 34


def test_save_is_one_transaction(broken, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
                                 ) -> None:
    """A failure half-way through Save & Resume leaves the account, its settings, its leads and
    its campaigns exactly as they were; the rep can press Save & Resume again."""
    cleo, solo, _shared = broken
    flow = ReconnectFlow.start(cleo.id)
    flow.edit_warmup()
    flow.set_settings(SendingSettings(daily_limit=25, min_gap_seconds=60))
    flow.previous()
    pass_the_test(flow)
    checks_before = Check.select().count()

    def broken_record(*_args: object) -> None:  # after the reconnect rules and the settings
        raise RuntimeError("disk full")

    monkeypatch.setattr("mailmonitor.services.reconnect.flow.record_check", broken_record)
    with pytest.raises(RuntimeError):
        flow.apply(clock.now())
    cleo_after = reload(cleo)
    assert (cleo_after.status, cleo_after.reason) == ("disconnected", "invalid_credentials")
    assert cleo_after.daily_limit == 40
    assert Check.select().count() == checks_before
    assert reload(solo).status == "paused"
    assert lead_states(solo) == {"halted": 10}
    assert flow.page is Page.READY

    monkeypatch.undo()
    result = flow.apply(clock.now())
    assert result.resumed_campaign == "Solo"
    assert reload(cleo).daily_limit == 25


def test_a_new_password_restarts_the_reminder_at_the_reconnects_time(broken, clock: FakeClock
                                                                      ) -> None:
    """The age of the password (what the rotation reminder counts from) is written by Save &
    Resume on its own clock and in its transaction — not by the keyring write in the worker."""
    cleo, _solo, _shared = broken
    secrets.set_secret(cleo.email, "password", "old-password", note_age=False)
    flow = ReconnectFlow.start(cleo.id, at=Page.CONNECTION)
    pass_the_test(flow)
    flow.store_secret()
    assert reload(cleo).secret_set_at is None  # nothing written off the loop
    saved_at = clock.advance(days=3)
    flow.apply(saved_at)
    assert reload(cleo).secret_set_at == saved_at
    # The same password typed again is no new password: its age stays.
    again = ReconnectFlow.start(cleo.id, at=Page.CONNECTION)
    pass_the_test(again)
    again.store_secret()
    again.apply(clock.advance(days=1))
    assert reload(cleo).secret_set_at == saved_at
