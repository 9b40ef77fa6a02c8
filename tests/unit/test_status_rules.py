"""Spec §2 rules: how one check's outcome changes an account's status (pure functions)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mailmonitor.services.common.reasons import (
    CREDENTIAL_REASONS,
    REASONS,
    SENDING_REASONS,
    Status,
)
from mailmonitor.services.monitoring.status_rules import (
    Decision,
    Outcome,
    backoff_delay,
    combine,
    decide,
)

NOW = datetime(2026, 11, 23, 9, 0, 0)
INTERVAL = timedelta(minutes=5)
WINDOW = timedelta(minutes=60)

# A sending limit is a warning the sending engine sets, never a check's outcome.
TRANSIENT = sorted(code for code, r in REASONS.items() if r.transient and code != "sending_limit")
HARD = sorted(code for code, r in REASONS.items()
              if not r.transient and code not in CREDENTIAL_REASONS | SENDING_REASONS)


def run(outcome: Outcome, now: datetime = NOW, failures: int = 0,
        since: datetime | None = None) -> Decision:
    return decide(outcome, now, failures, since, interval=INTERVAL, transient_window=WINDOW)


def fail(code: str, detail: str = "") -> Outcome:
    return Outcome(REASONS[code].status.value, code, detail)


OK = Outcome("connected", None)


def test_reason_table_splits_as_the_spec_says() -> None:
    assert TRANSIENT == ["network", "rate_limited", "server_unavailable", "timeout"]
    assert REASONS["sending_limit"].status is Status.WARNING
    assert sorted(CREDENTIAL_REASONS) == [
        "account_disabled", "app_password_required", "auth_method_disabled",
        "invalid_credentials", "token_expired", "web_login_required",
    ]
    # Set from real sends, lifted only by the rep (services/deliverability/holds.py).
    assert sorted(SENDING_REASONS) == ["high_bounce_rate", "sending_blocked"]
    assert HARD == ["mailbox_full", "no_service_connection", "request_invalid", "sync_error",
                    "tls_error"]


class TestSuccess:
    def test_success_is_connected_and_checked_again_on_the_interval(self) -> None:
        d = run(OK)
        assert d == Decision("connected", None, 0, None, NOW + INTERVAL)

    def test_success_after_failures_resets_the_counters(self) -> None:
        d = run(OK, failures=4, since=NOW - timedelta(minutes=50))
        assert (d.status, d.reason, d.consecutive_failures, d.transient_since) == (
            "connected", None, 0, None)

    def test_success_after_escalation_returns_to_connected(self) -> None:
        d = run(OK, failures=7, since=NOW - timedelta(hours=5))
        assert d.status == "connected"
        assert d.next_check_at == NOW + INTERVAL


class TestCredentials:
    @pytest.mark.parametrize("code", sorted(CREDENTIAL_REASONS))
    def test_rejected_credentials_disconnect_without_a_retry_loop(self, code: str) -> None:
        d = run(fail(code))
        assert d.status == "disconnected"
        assert d.reason == code
        assert d.next_check_at is None  # RFC 5530: the same login fails again
        assert d.consecutive_failures == 1
        assert d.transient_since is None

    def test_a_credential_failure_during_transient_trouble_ends_the_transient_run(self) -> None:
        d = run(fail("invalid_credentials"), failures=2, since=NOW - timedelta(minutes=6))
        assert (d.status, d.reason, d.transient_since, d.next_check_at) == (
            "disconnected", "invalid_credentials", None, None)
        assert d.consecutive_failures == 3


class TestTransient:
    @pytest.mark.parametrize("code", TRANSIENT)
    def test_first_transient_failure_is_a_warning_retried_in_one_minute(self, code: str) -> None:
        d = run(fail(code))
        assert (d.status, d.reason) == ("warning", code)
        assert d.consecutive_failures == 1
        assert d.transient_since == NOW
        assert d.next_check_at == NOW + timedelta(minutes=1)

    def test_backoff_ladder(self) -> None:
        assert [backoff_delay(n) for n in range(1, 8)] == [
            timedelta(minutes=m) for m in (1, 5, 15, 60, 60, 60, 60)]
        assert backoff_delay(0) == timedelta(minutes=1)  # defensive: never zero

    def test_retries_follow_the_ladder_then_escalate_after_the_window(self) -> None:
        """Replay the real sequence of retries: 1 → 5 → 15 → 60 minutes, measured from the first
        transient failure; the first retry past 60 minutes escalates."""
        now, failures, since = NOW, 0, None
        seen: list[tuple[str, str | None, timedelta]] = []
        for _ in range(5):
            d = run(fail("timeout"), now=now, failures=failures, since=since)
            assert d.next_check_at is not None
            seen.append((d.status, d.reason, d.next_check_at - now))
            failures, since, now = d.consecutive_failures, d.transient_since, d.next_check_at
            assert since == NOW  # the window is measured from the first transient failure
        assert seen == [
            ("warning", "timeout", timedelta(minutes=1)),  # t=0
            ("warning", "timeout", timedelta(minutes=5)),  # t=1
            ("warning", "timeout", timedelta(minutes=15)),  # t=6
            ("warning", "timeout", timedelta(minutes=60)),  # t=21
            ("disconnected", "no_service_connection", timedelta(minutes=60)),  # t=81
        ]

    def test_escalates_exactly_when_the_window_has_passed(self) -> None:
        since = NOW - WINDOW
        d = run(fail("network"), failures=3, since=since + timedelta(seconds=1))
        assert d.status == "warning"
        d = run(fail("network"), failures=3, since=since)
        assert (d.status, d.reason) == ("disconnected", "no_service_connection")
        assert d.transient_since == since
        assert d.next_check_at == NOW + timedelta(minutes=60)  # still retried: server may return

    def test_still_no_service_connection_on_later_transient_failures(self) -> None:
        d = run(fail("server_unavailable"), failures=9, since=NOW - timedelta(hours=6))
        assert (d.status, d.reason, d.consecutive_failures) == (
            "disconnected", "no_service_connection", 10)
        assert d.next_check_at == NOW + timedelta(minutes=60)

    def test_a_different_transient_reason_keeps_the_run_going(self) -> None:
        first = NOW - timedelta(minutes=30)
        d = run(fail("rate_limited"), failures=3, since=first)
        assert (d.status, d.reason, d.transient_since) == ("warning", "rate_limited", first)

    def test_hard_failure_between_transient_ones_restarts_the_window(self) -> None:
        hard = run(fail("tls_error"), failures=2, since=NOW - timedelta(minutes=50))
        assert hard.transient_since is None
        later = NOW + timedelta(minutes=60)
        d = run(fail("timeout"), now=later, failures=hard.consecutive_failures,
                since=hard.transient_since)
        assert (d.status, d.transient_since) == ("warning", later)

    def test_the_window_is_a_parameter(self) -> None:
        d = decide(fail("timeout"), NOW, 1, NOW - timedelta(minutes=10), INTERVAL,
                   transient_window=timedelta(minutes=10))
        assert d.reason == "no_service_connection"


class TestHardFailures:
    @pytest.mark.parametrize("code", HARD)
    def test_hard_failure_disconnects_and_is_rechecked_hourly(self, code: str) -> None:
        d = run(fail(code), failures=1)
        assert (d.status, d.reason) == ("disconnected", code)
        assert d.consecutive_failures == 2
        assert d.transient_since is None
        assert d.next_check_at == NOW + timedelta(minutes=60)

    def test_unknown_reason_is_treated_as_request_invalid(self) -> None:
        d = run(Outcome("disconnected", "something_new"))
        assert (d.status, d.reason) == ("disconnected", "request_invalid")
        d = run(Outcome("disconnected", None))
        assert (d.status, d.reason) == ("disconnected", "request_invalid")


class TestOffline:
    def test_offline_keeps_the_counters_and_looks_again_soon(self) -> None:
        since = NOW - timedelta(minutes=20)
        d = run(Outcome("offline", None), failures=3, since=since)
        assert d == Decision("offline", None, 3, since, NOW + timedelta(minutes=1))

    def test_offline_from_a_clean_account_counts_nothing(self) -> None:
        d = run(Outcome("offline", None))
        assert (d.consecutive_failures, d.transient_since) == (0, None)


class TestCombine:
    def test_both_connected(self) -> None:
        assert combine(OK, Outcome("connected", None, "smtp")) == OK

    @pytest.mark.parametrize(("imap", "smtp", "expected"), [
        (OK, fail("timeout", "smtp slow"), fail("timeout", "smtp slow")),
        (fail("timeout", "imap slow"), OK, fail("timeout", "imap slow")),
        (fail("invalid_credentials", "imap no"), fail("network", "smtp x"),
         fail("invalid_credentials", "imap no")),
        (fail("rate_limited", "imap"), fail("auth_method_disabled", "535 5.7.139"),
         fail("auth_method_disabled", "535 5.7.139")),
        (OK, fail("mailbox_full", "552"), fail("mailbox_full", "552")),
    ])
    def test_worse_side_wins_with_its_reason_and_detail(
            self, imap: Outcome, smtp: Outcome, expected: Outcome) -> None:
        assert combine(imap, smtp) == expected

    def test_a_tie_keeps_imap(self) -> None:
        imap, smtp = fail("tls_error", "imap cert"), fail("invalid_credentials", "535")
        assert combine(imap, smtp) == imap

    def test_combined_outcome_drives_decide(self) -> None:
        merged = combine(OK, fail("app_password_required", "534 5.7.9"))
        d = run(merged)
        assert (d.status, d.reason, d.next_check_at) == (
            Status.DISCONNECTED.value, "app_password_required", None)
