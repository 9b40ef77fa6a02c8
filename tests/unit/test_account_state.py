"""Recording checks (spec §2): what is stored, the status, and the alerts it raises/resolves."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.events import ACCOUNT_CHANGED, bus
from mailmonitor.models import Account, Alert, Check, set_setting
from mailmonitor.services.monitoring.account_state import record_check, update_status
from tests.factories import (
    make_account,
    make_campaign,
    make_leads,
    probe_fail,
    probe_offline,
    probe_ok,
    reload,
)

pytestmark = pytest.mark.both_databases  # model and campaign rules: SQLite and PostgreSQL


def open_alerts(kind: str | None = None) -> list[Alert]:
    query = Alert.select().where(Alert.resolved_at.is_null())
    if kind:
        query = query.where(Alert.kind == kind)
    return list(query.order_by(Alert.id))


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
        assert open_alerts() == []

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
        assert len(open_alerts("account_disconnected")) == 1
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
            clock.advance(minutes=5)
        alerts = open_alerts()
        assert [(a.kind, a.severity, a.account_id) for a in alerts] == [
            ("account_disconnected", "error", account.id)]
        assert "Invalid Credentials" in alerts[0].title
        assert Alert.select().count() == 1

    def test_a_new_reason_refreshes_the_same_alert(self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        record_check(account, probe_fail("invalid_credentials"), probe_ok(), clock.now())
        clock.advance(minutes=10)
        record_check(account, probe_fail("account_disabled"), probe_ok(), clock.now())
        alerts = open_alerts()
        assert len(alerts) == 1
        assert "Account Disabled" in alerts[0].title
        assert alerts[0].updated_at == clock.now()

    def test_recovery_resolves_the_alert_and_says_reconnected(
            self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        record_check(account, probe_fail("tls_error"), probe_ok(), clock.now())
        clock.advance(minutes=60)
        record_check(account, probe_ok(), probe_ok(), clock.now())
        disconnected = Alert.get(Alert.kind == "account_disconnected")
        assert disconnected.resolved_at == clock.now()
        assert [(a.kind, a.severity) for a in open_alerts()] == [("reconnected", "info")]
        acc = reload(account)
        assert (acc.status, acc.reason, acc.disconnected_since) == ("connected", None, None)

    def test_disconnecting_again_retires_the_stale_reconnected_alert(
            self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        record_check(account, probe_fail("tls_error"), probe_ok(), clock.now())
        clock.advance(minutes=60)
        record_check(account, probe_ok(), probe_ok(), clock.now())
        clock.advance(minutes=60)
        record_check(account, probe_fail("invalid_credentials"), probe_ok(), clock.now())
        assert [a.kind for a in open_alerts()] == ["account_disconnected"]

    def test_warning_raises_no_alert_and_recovery_from_it_is_quiet(
            self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        record_check(account, probe_fail("rate_limited"), probe_ok(), clock.now())
        assert reload(account).status == "warning"
        assert open_alerts() == []
        clock.advance(minutes=1)
        record_check(account, probe_ok(), probe_ok(), clock.now())
        assert reload(account).status == "connected"
        assert Alert.select().count() == 0

    def test_certificate_expiring_within_14_days_warns_but_stays_connected(
            self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        expires = clock.now() + timedelta(days=10, hours=2)
        record_check(account, probe_ok(cert_expires_at=expires),
                     probe_ok(cert_expires_at=expires + timedelta(days=60)), clock.now())
        acc = reload(account)
        assert acc.status == "connected"
        assert acc.cert_expires_at == expires  # the earlier of both sides
        alerts = open_alerts()
        assert [(a.kind, a.severity) for a in alerts] == [("certificate_expiring", "warning")]
        assert "10 days" in alerts[0].title
        # The next check does not repeat it.
        clock.advance(minutes=5)
        record_check(account, probe_ok(cert_expires_at=expires), probe_ok(), clock.now())
        assert Alert.select().count() == 1

    def test_certificate_far_from_expiry_raises_nothing(self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        expires = clock.now() + timedelta(days=14, minutes=1)
        record_check(account, probe_ok(cert_expires_at=expires), probe_ok(), clock.now())
        assert open_alerts() == []

    def test_renewed_certificate_resolves_the_warning(self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        record_check(account, probe_ok(cert_expires_at=clock.now() + timedelta(days=3)),
                     probe_ok(), clock.now())
        clock.advance(days=1)
        record_check(account, probe_ok(cert_expires_at=clock.now() + timedelta(days=90)),
                     probe_ok(), clock.now())
        assert open_alerts() == []
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
        changes: list[tuple[int, str, str]] = []
        bus.subscribe(ACCOUNT_CHANGED, lambda *args: changes.append(args))
        for _ in range(200):
            record_check(account, probe_offline(), probe_offline(), clock.now())
            clock.advance(minutes=1)
        acc = reload(account)
        assert (acc.status, acc.consecutive_failures) == ("connected", 0)
        assert changes == []
        assert Alert.select().count() == 0


class TestUpdateStatus:
    def test_unchanged_status_is_not_a_change(self, db: Path, clock: FakeClock) -> None:
        account = make_account("rep@example.com")
        changes: list[tuple[int, str, str]] = []
        bus.subscribe(ACCOUNT_CHANGED, lambda *args: changes.append(args))
        assert update_status(account, "connected", None, "fine", clock.now()) is False
        assert update_status(account, "disconnected", "sync_error", "x", clock.now()) is True
        assert changes == [(account.id, "connected", "disconnected")]
        assert Account.get_by_id(account.id).detail == "x"
