"""How a check's outcome changes an account's status (spec §2 rules), without I/O.

- success → connected; failures counters reset.
- a rejected credential → disconnected at once (the monitor does one confirming re-check before
  calling this); it is not re-checked on a schedule (RFC 5530: the same login fails again).
- transient trouble → warning, retried on the backoff ladder 1 → 5 → 15 → 60 min; after the
  transient window (default 60 min) it becomes disconnected / no_service_connection, and is still
  retried every 60 min so a server that comes back is noticed.
- other hard failures (TLS, protocol, quota, inbox) → disconnected, re-checked every 60 min.
- this computer offline → offline, nothing counted against the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mailmonitor.services.common.reasons import REASONS, Status, worse

# Transient trouble is retried after 1 → 5 → 15 → 60 minutes: checks (here) and sends (engine).
BACKOFF_MINUTES = (1, 5, 15, 60)
HARD_FAILURE_RECHECK = timedelta(minutes=60)


@dataclass(frozen=True)
class Outcome:
    """The combined result of one check (IMAP and SMTP already merged by `combine`)."""

    status: str
    reason: str | None
    detail: str = ""


@dataclass(frozen=True)
class Decision:
    status: str
    reason: str | None
    consecutive_failures: int
    transient_since: datetime | None
    next_check_at: datetime | None  # None: only on demand (rejected credentials)


def combine(imap: Outcome, smtp: Outcome) -> Outcome:
    """The account's status is the worse of both sides, with that side's reason and detail."""
    status, reason = worse((imap.status, imap.reason), (smtp.status, smtp.reason))
    if (status, reason) == (imap.status, imap.reason):
        return imap
    return smtp


def backoff_delay(failures: int) -> timedelta:
    """1 → 5 → 15 → 60 minutes, then 60 minutes for good."""
    index = min(max(failures, 1), len(BACKOFF_MINUTES)) - 1
    return timedelta(minutes=BACKOFF_MINUTES[index])


def decide(
    outcome: Outcome,
    now: datetime,
    consecutive_failures: int,
    transient_since: datetime | None,
    interval: timedelta,
    transient_window: timedelta,
) -> Decision:
    if outcome.status == Status.OFFLINE:
        # The computer has no network: keep the counters as they are and look again soon.
        return Decision(Status.OFFLINE, None, consecutive_failures, transient_since,
                        now + timedelta(minutes=1))
    if outcome.status == Status.CONNECTED:
        return Decision(Status.CONNECTED, None, 0, None, now + interval)

    failures = consecutive_failures + 1
    info = REASONS.get(outcome.reason or "")
    if info is None:
        info = REASONS["request_invalid"]
    if info.transient:
        since = transient_since or now
        if now - since >= transient_window:
            return Decision(Status.DISCONNECTED, "no_service_connection", failures, since,
                            now + HARD_FAILURE_RECHECK)
        return Decision(Status.WARNING, info.code, failures, since,
                        now + backoff_delay(failures))
    if info.credential_problem:
        return Decision(Status.DISCONNECTED, info.code, failures, None, None)
    return Decision(Status.DISCONNECTED, info.code, failures, None,
                    now + HARD_FAILURE_RECHECK)
