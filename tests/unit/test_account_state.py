"""Recording checks (spec §2): what is stored, the status, and what the rep is told of it (the
attention model, reconciled as the background loop does after a check)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.events import ACCOUNT_CHANGED, bus
from mailmonitor.models import Account, Alert, AlertChange, Campaign, Check, Lead, set_setting
from mailmonitor.services.monitoring.account_state import (
    record_check,
    record_checks,
    update_status,
)
from tests.attention_support import changes, conditions, kinds
from tests.factories import (
    FakeProbe,
    make_account,
    make_campaign,
    make_leads,
    probe_fail,
    probe_offline,
    probe_ok,
    reload,
)

EXPIRY = datetime(2027, 1, 1)
pytestmark = pytest.mark.both_databases  # model and campaign rules: SQLite and PostgreSQL


class TestRecordCheck:
    def test_success_persists_a_check_and_connects_a_new_account(
            self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com", status="checking")
        check = record_check(account, probe_ok(latency_ms=30), probe_ok(latency_ms=80),
                             clock.now(), trigger="manual")
        stored = Check.get_by_id(check.id)
        assert stored.account_id == account.id
        assert (stored.status, stored.reason, stored.trigger) == ("connected", None, "manual")
        assert stored.checked_at == clock.now()
        assert stored.latency_ms == 80
        assert stored.imap["ok"] is True and stored.smtp["latency_ms"] == 80
        acc = reload(account)
        assert (acc.status, acc.reason) == ("connected", None)
        assert acc.checked_at == acc.status_since == clock.now()
        assert acc.last_latency_ms == 80
        assert acc.consecutive_failures == 0
        assert acc.next_check_at == clock.now() + timedelta(seconds=acc.check_interval_seconds)
        assert conditions(clock.now()) == []

    def test_failure_stores_the_worse_side_with_its_detail(
            self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        detail = "535 5.7.8 Username and Password not accepted"
        record_check(account, probe_ok(),
                     probe_fail("invalid_credentials", detail), clock.now())
        check = Check.get(Check.account == account)
        assert (check.status, check.reason, check.detail) == (
            "disconnected", "invalid_credentials", detail)
        assert check.smtp["error"] == detail
        acc = reload(account)
        assert (acc.status, acc.reason, acc.detail) == (
            "disconnected", "invalid_credentials", detail)
        assert acc.next_check_at is None
        assert acc.disconnected_since == clock.now()

    def test_every_check_is_kept_as_history(self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        for _ in range(3):
            record_check(account, probe_ok(), probe_ok(), clock.now())
            clock.advance(minutes=5)
        record_check(account, probe_fail("timeout"), probe_ok(), clock.now())
        assert [c.status for c in Check.select().order_by(Check.id)] == [
            "connected", "connected", "connected", "warning"]

    def test_transient_failures_escalate_through_record_check(
            self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        first = clock.now()
        statuses = []
        for _ in range(5):
            record_check(account, probe_fail("network"), probe_fail("network"), clock.now())
            acc = reload(account)
            statuses.append((acc.status, acc.reason))
            assert acc.transient_since == first
            clock.set(acc.next_check_at)
        assert statuses == [("warning", "network")] * 4 + [
            ("disconnected", "no_service_connection")]
        assert len(conditions(clock.now(), "mailbox_broken")) == 1
        assert reload(account).disconnected_since == first + timedelta(minutes=81)

    def test_transient_window_comes_from_settings(self, db: Path, clock: FakeClock) -> None:
        set_setting("transient_window_minutes", 5)
        account = make_account("rep@example.com")
        record_check(account, probe_fail("timeout"), probe_ok(), clock.now())
        clock.advance(minutes=6)
        record_check(account, probe_fail("timeout"), probe_ok(), clock.now())
        assert reload(account).reason == "no_service_connection"


class TestAlerts:
    def test_disconnection_raises_exactly_one_alert_across_repeated_failures(
            self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        for _ in range(4):
            record_check(account, probe_fail("invalid_credentials"), probe_ok(), clock.now(),
                         trigger="confirm")
            conditions(clock.now())  # the background loop reconciles after each check
            clock.advance(minutes=5)
        alerts = conditions(clock.now())
        assert [(a.kind, a.severity, a.mailboxes) for a in alerts] == [
            ("mailbox_broken", "critical", [account.email])]
        assert "Invalid Credentials" in alerts[0].title
        assert alerts[0].count == 4  # every failed check seen, one card
        assert Alert.select().count() == 1
        assert changes() == [("opened", "mailbox_broken")]

    def test_a_new_reason_is_a_new_card_and_the_old_one_goes(
            self, db: Path, clock: FakeClock) -> None:
        # Issue 25: one card per reason and server; the new reason is a new cause, not a
        # retitled old one. The old card leaves quietly (its mailbox is on the new one).
        account = make_account("rep@example.com")
        record_check(account, probe_fail("invalid_credentials"), probe_ok(), clock.now())
        [first] = conditions(clock.now())
        clock.advance(minutes=10)
        record_check(account, probe_fail("account_disabled"), probe_ok(), clock.now())
        alerts = conditions(clock.now())
        assert [(a.kind, a.mailboxes) for a in alerts] == [("mailbox_broken", [account.email])]
        assert "Account Disabled" in alerts[0].title
        assert alerts[0].key != first.key
        assert Alert.get_by_id(first.id).resolved_at == clock.now()
        told = [(c.change, c.muted, c.title) for c in AlertChange.select().order_by(AlertChange.id)]
        assert told[1:] == [
            ("opened", False, alerts[0].title),
            ("resolved", True, f"Now part of another alert: {first.title}")]

    def test_recovery_resolves_the_alert_and_says_reconnected(
            self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        record_check(account, probe_fail("tls_error"), probe_ok(), clock.now())
        conditions(clock.now())
        clock.advance(minutes=60)
        record_check(account, probe_ok(), probe_ok(), clock.now())
        assert conditions(clock.now()) == []  # no "connected again" card to dismiss
        disconnected = Alert.get(Alert.kind == "mailbox_broken")
        assert disconnected.resolved_at == clock.now()
        resolved = AlertChange.get(AlertChange.change == "resolved")
        assert (resolved.event, resolved.muted) == ("reconnected", False)
        assert resolved.title == "rep@example.com is connected again"
        acc = reload(account)
        assert (acc.status, acc.reason, acc.disconnected_since) == ("connected", None, None)

    def test_disconnecting_again_opens_a_fresh_card(self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        record_check(account, probe_fail("tls_error"), probe_ok(), clock.now())
        conditions(clock.now())
        clock.advance(minutes=60)
        record_check(account, probe_ok(), probe_ok(), clock.now())
        conditions(clock.now())
        clock.advance(minutes=60)
        record_check(account, probe_fail("invalid_credentials"), probe_ok(), clock.now())
        alerts = conditions(clock.now())
        assert [a.kind for a in alerts] == ["mailbox_broken"]
        assert "Invalid Credentials" in alerts[0].title
        assert changes() == [("opened", "mailbox_broken"), ("resolved", "mailbox_broken"),
                             ("opened", "mailbox_broken")]

    def test_a_short_warning_raises_no_alert_and_recovery_from_it_is_quiet(
            self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        record_check(account, probe_fail("rate_limited"), probe_ok(), clock.now())
        assert reload(account).status == "warning"
        assert conditions(clock.now()) == []
        clock.advance(minutes=1)
        record_check(account, probe_ok(), probe_ok(), clock.now())
        assert reload(account).status == "connected"
        assert conditions(clock.now()) == []
        assert Alert.select().count() == AlertChange.select().count() == 0

    def test_retrying_needs_the_rep_after_two_failures_and_five_minutes(
            self, db: Path, clock: FakeClock) -> None:
        # Issue 25: lasting transient trouble is a (warning) card; one blip is not.
        account = make_account("rep@example.com")
        record_check(account, probe_fail("network"), probe_ok(), clock.now())
        clock.set(reload(account).next_check_at)  # 1 minute later
        record_check(account, probe_fail("network"), probe_ok(), clock.now())
        assert reload(account).consecutive_failures == 2
        assert conditions(clock.now()) == []  # two failures, but not yet five minutes
        clock.advance(minutes=4)
        [retrying] = conditions(clock.now())
        assert (retrying.kind, retrying.severity, retrying.action) == (
            "mailbox_retrying", "warning", "check_now")
        assert retrying.title == "rep@example.com: Retrying: cannot reach server"
        record_check(account, probe_ok(), probe_ok(), clock.now())
        assert conditions(clock.now()) == []
        assert changes() == [("opened", "mailbox_retrying"), ("resolved", "mailbox_retrying")]
        assert AlertChange.get(AlertChange.change == "resolved").event == "reconnected"

    def test_certificate_expiring_within_14_days_warns_but_stays_connected(
            self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        expires = clock.now() + timedelta(days=10, hours=2)
        record_check(account, probe_ok(cert_expires_at=expires),
                     probe_ok(cert_expires_at=expires + timedelta(days=60)), clock.now())
        acc = reload(account)
        assert acc.status == "connected"
        assert acc.cert_expires_at == expires  # the earlier of both sides
        alerts = conditions(clock.now())
        assert [(a.kind, a.severity) for a in alerts] == [("certificate_expiring", "warning")]
        assert alerts[0].title == \
            f"The certificate of imap.example.com expires on {expires:%Y-%m-%d}"
        assert alerts[0].message.startswith("In 10 days; rep@example.com uses it.")
        # The next check does not repeat it.
        clock.advance(minutes=5)
        record_check(account, probe_ok(cert_expires_at=expires), probe_ok(), clock.now())
        conditions(clock.now())
        assert Alert.select().count() == 1
        assert changes() == [("opened", "certificate_expiring")]

    def test_certificate_far_from_expiry_raises_nothing(self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        expires = clock.now() + timedelta(days=14, minutes=1)
        record_check(account, probe_ok(cert_expires_at=expires), probe_ok(), clock.now())
        assert conditions(clock.now()) == []

    def test_renewed_certificate_resolves_the_warning(self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        record_check(account, probe_ok(cert_expires_at=clock.now() + timedelta(days=3)),
                     probe_ok(), clock.now())
        assert kinds(clock.now()) == ["certificate_expiring"]
        clock.advance(days=1)
        record_check(account, probe_ok(cert_expires_at=clock.now() + timedelta(days=90)),
                     probe_ok(), clock.now())
        assert conditions(clock.now()) == []
        assert Alert.get(Alert.kind == "certificate_expiring").resolved_at == clock.now()


class TestOffline:
    def test_offline_result_changes_no_status_and_no_counter(
            self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        record_check(account, probe_fail("timeout"), probe_ok(), clock.now())
        first = clock.now()
        clock.advance(minutes=1)
        record_check(account, probe_offline(), probe_offline(), clock.now())
        acc = reload(account)
        assert (acc.status, acc.reason) == ("warning", "timeout")
        assert acc.consecutive_failures == 1
        assert acc.transient_since == first
        assert acc.status_since == first
        assert Check.select().where(Check.status == "offline").count() == 1

    def test_offline_never_disconnects_or_alerts(self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        campaign = make_campaign("C", [account])
        make_leads(campaign, account, 3)
        status_changes: list[tuple[int, str, str]] = []
        bus.subscribe(ACCOUNT_CHANGED, lambda *args: status_changes.append(args))
        for _ in range(200):
            record_check(account, probe_offline(), probe_offline(), clock.now())
            clock.advance(minutes=1)
        acc = reload(account)
        assert (acc.status, acc.consecutive_failures) == ("connected", 0)
        assert status_changes == []
        assert conditions(clock.now()) == []
        assert Alert.select().count() == 0


class TestRecordChecks:
    """`record_checks`, which `check`'s sweep records its answers with: a batch in one
    transaction has the effects of recording each in turn."""

    OUTCOMES: tuple[tuple[str, str, Callable[[], tuple[FakeProbe, FakeProbe]]], ...] = (
        ("stays", "connected", lambda: (probe_ok(), probe_ok())),
        ("new", "checking", lambda: (probe_ok(latency_ms=70), probe_ok())),
        ("refused", "connected",
         lambda: (probe_fail("invalid_credentials", "NO [AUTHENTICATIONFAILED]"), probe_ok())),
        ("busy", "connected", lambda: (probe_fail("timeout"), probe_ok())),
        ("offline", "warning", lambda: (probe_offline(), probe_offline())),
        ("back", "disconnected", lambda: (probe_ok(), probe_ok())),
        ("expiring", "connected", lambda: (probe_ok(cert_expires_at=EXPIRY), probe_ok())),
    )

    def _mailboxes(self, prefix: str) -> tuple[list[Account], Campaign]:
        accounts = [make_account(f"{prefix}-{name}@example.com", status=status,
                                 reason="invalid_credentials" if status == "disconnected"
                                 else None)
                    for name, status, _answer in self.OUTCOMES]
        campaign = make_campaign(f"Campaign {prefix}", accounts)
        for account in accounts:
            make_leads(campaign, account, 2, prefix=f"{prefix}-{account.id}")
        return accounts, campaign

    @staticmethod
    def _stored(accounts: list[Account], campaign: Campaign) -> list[Any]:
        skip = {"id", "email", "name", "login", "created_at"}
        rows: list[Any] = []
        for account in accounts:
            acc = reload(account)
            rows.append({k: v for k, v in acc.__data__.items() if k not in skip})
            rows.append([(c.status, c.reason, c.detail, c.latency_ms, c.trigger, c.checked_at,
                          c.imap, c.smtp) for c in Check.select().where(Check.account == acc)
                         .order_by(Check.id)])
            rows.append(sorted((lead.state, lead.cursor, lead.next_due_at) for lead in
                               Lead.select().where(Lead.mailbox == acc)))
        rows.append(reload(campaign).status)
        return rows

    def test_a_batch_has_the_effects_of_recording_each_in_turn(
            self, db: Path, clock: FakeClock) -> None:
        one_by_one, first = self._mailboxes("a")
        batched, second = self._mailboxes("b")
        status_changes: list[tuple[int, str, str]] = []
        bus.subscribe(ACCOUNT_CHANGED, lambda *args: status_changes.append(args))
        for account, (_name, _status, answer) in zip(one_by_one, self.OUTCOMES, strict=True):
            record_check(account, *answer(), clock.now(), trigger="cli")
        told = [(one_by_one.index(Account.get_by_id(a)), old, new)
                for a, old, new in status_changes]
        status_changes.clear()
        checks = record_checks([(account, *answer(), "cli", clock.now()) for account,
                                (_n, _s, answer) in zip(batched, self.OUTCOMES, strict=True)])
        assert [c.account_id for c in checks] == [a.id for a in batched]
        assert all(Check.get_by_id(c.id).account_id == c.account_id for c in checks)
        assert [(batched.index(Account.get_by_id(a)), old, new)
                for a, old, new in status_changes] == told
        assert told  # the batch had status changes: new, refused, back
        assert self._stored(batched, second) == self._stored(one_by_one, first)
        assert reload(batched[2]).status == "disconnected"
        assert {lead.state for lead in Lead.select().where(Lead.mailbox == batched[2])} \
            != {lead.state for lead in Lead.select().where(Lead.mailbox == batched[0])}

    def test_a_status_change_in_a_batch_runs_the_campaign_rules(
            self, db: Path, clock: FakeClock) -> None:
        first, second = make_account("one@example.com"), make_account("two@example.com")
        campaign = make_campaign("C", [first, second])
        make_leads(campaign, first, 3)
        refused = (probe_fail("invalid_credentials", "535 5.7.8"), probe_ok())
        record_checks([(first, *refused, "cli", clock.now()),
                       (second, *refused, "cli", clock.now())])
        assert {reload(a).status for a in (first, second)} == {"disconnected"}
        assert reload(campaign).status == "paused"  # no mailbox left to send from
        assert Check.select().count() == 2


class TestUpdateStatus:
    def test_unchanged_status_is_not_a_change(self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        status_changes: list[tuple[int, str, str]] = []
        bus.subscribe(ACCOUNT_CHANGED, lambda *args: status_changes.append(args))
        assert update_status(account, "connected", None, "fine", clock.now()) is False
        assert update_status(account, "disconnected", "sync_error", "x", clock.now()) is True
        assert status_changes == [(account.id, "connected", "disconnected")]
        assert Account.get_by_id(account.id).detail == "x"
