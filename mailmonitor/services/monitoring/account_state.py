"""Recording checks and status changes of an account; the one place a status is written."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from mailmonitor.events import ACCOUNT_CHANGED, bus
from mailmonitor.models import Account, Check, SendingHold, db, get_setting
from mailmonitor.models.fast_sql import insert_row, save_changes
from mailmonitor.services.campaigns.rules import apply_account_status
from mailmonitor.services.common.reasons import BROKEN_STATUSES, Status
from mailmonitor.services.monitoring.status_rules import Outcome, combine, decide


class ProbeLike(Protocol):
    ok: bool
    status: str
    reason: str | None
    detail: str
    latency_ms: int
    cert_expires_at: datetime | None

    def to_json(self) -> dict[str, Any]: ...


def held_words(imap: ProbeLike, smtp: ProbeLike) -> str | None:
    """When the login budget held a side back and no side that ran failed, the budget's words
    ("held back: 3 failed logins to imap.x in 10 min"): the check learned nothing to act on.
    None otherwise (a side that ran and failed is evidence, whatever the other side)."""
    held = [p for p in (imap, smtp) if getattr(p, "held", None)]
    if not held or any(not p.ok for p in (imap, smtp) if p not in held):
        return None
    return str(held[0].held)  # type: ignore[attr-defined]


def held_until(imap: ProbeLike, smtp: ProbeLike) -> datetime | None:
    """When the budget frees up for the sides it held back (the latest of them)."""
    found = [getattr(p, "held_until", None) for p in (imap, smtp)]
    values = [v for v in found if v is not None]
    return max(values) if values else None


def active_hold(account: Account | int) -> SendingHold | None:
    account_id = account if isinstance(account, int) else account.id
    found: SendingHold | None = (
        SendingHold.select()
        .where((SendingHold.account == account_id) & SendingHold.lifted_at.is_null())
        .order_by(SendingHold.id).first())
    return found


def held_status(account: Account, status: str, reason: str | None, detail: str
                ) -> tuple[str, str | None, str]:
    """The status to write: `connected` becomes the hold while one is active. A hold is
    placed through `update_status` as a `disconnected` status and stays until the rep lifts
    it, so an account stored as connected has none (no query: a sweep asks hundreds of times)."""
    if status != Status.CONNECTED.value or account.status == Status.CONNECTED.value:
        return status, reason, detail
    hold = active_hold(account)
    if hold is None:
        return status, reason, detail
    return Status.DISCONNECTED.value, hold.reason, hold.detail


def update_status(account: Account, status: str, reason: str | None, detail: str,
                  now: datetime) -> bool:
    """Write a status (and run the campaign rules when it changed). Returns True on a change.
    A mailbox held for its sending (bounces, spam refusals) stays held while its login passes."""
    status, reason, detail = held_status(account, status, reason, detail)
    old_status, old_reason = account.status, account.reason
    account.detail = detail
    if (old_status, old_reason) == (status, reason):
        save_changes(account)  # the fields set (a check writes hundreds of these a sweep)
        return False
    account.status, account.reason, account.status_since = status, reason, now
    if status == Status.DISCONNECTED and old_status != Status.DISCONNECTED:
        account.disconnected_since = now
        account.reminders_sent = 0
        account.long_wait_applied = False
        account.stop_warned_at = account.stop_notice_at = None  # a new threat, a new warning
    elif status == Status.CONNECTED:
        if old_status in BROKEN_STATUSES:
            account.reconnected_at = now  # what went wrong before is "before the reconnect"
        account.disconnected_since = None
        account.reminders_sent = 0
        account.stop_warned_at = account.stop_notice_at = None
        account.send_limit_until = None
    with db.atomic():
        account.save()
        apply_account_status(account, old_status, now)
    bus.emit(ACCOUNT_CHANGED, account.id, old_status, status)
    return True


def record_check(account: Account, imap: ProbeLike, smtp: ProbeLike, now: datetime,
                 trigger: str = "schedule") -> Check:
    """Persist one check with its per-protocol results and apply the §2 status rules. A check
    the login budget held back (`held_words`) changes nothing but when it is tried again."""
    held = held_words(imap, smtp)
    if held is not None:
        return record_held(account, imap, smtp, now, trigger, held)
    merged = combine(Outcome(imap.status, imap.reason, imap.detail),
                     Outcome(smtp.status, smtp.reason, smtp.detail))
    decision = decide(
        merged, now, account.consecutive_failures, account.transient_since,
        interval=timedelta(seconds=account.check_interval_seconds),
        transient_window=timedelta(minutes=int(get_setting("transient_window_minutes"))),
    )
    latency = max(imap.latency_ms, smtp.latency_ms)
    with db.atomic():
        check = insert_row(
            Check, account=account, checked_at=now, status=decision.status,
            reason=decision.reason, detail=merged.detail, latency_ms=latency,
            imap=imap.to_json(), smtp=smtp.to_json(), trigger=trigger,
        )
        account.checked_at = now
        account.last_latency_ms = latency
        account.consecutive_failures = decision.consecutive_failures
        account.transient_since = decision.transient_since
        account.next_check_at = decision.next_check_at
        expiry = _earliest(imap.cert_expires_at, smtp.cert_expires_at)
        if expiry is not None:
            account.cert_expires_at = expiry
        if decision.status == Status.OFFLINE:
            # Offline says nothing about the account: keep its last real status.
            save_changes(account)
        elif decision.status == Status.CONNECTED.value and account.reason == "sending_limit" \
                and account.send_limit_until is not None and now < account.send_limit_until:
            # Signing in works during a sending limit; the hold ends at its time, not here.
            save_changes(account)
        else:
            update_status(account, decision.status, decision.reason, merged.detail, now)
    return check


def record_held(account: Account, imap: ProbeLike, smtp: ProbeLike, now: datetime,
                trigger: str, words: str) -> Check:
    """A check held back by the login budget: kept in the history as such (status `checking`:
    nothing observed, never counted in uptime), the account's status, failure count and last
    check time unchanged, tried again once the budget frees up — a mailbox that is only checked
    when asked (a rejected sign-in) still waits to be asked."""
    latency = max(imap.latency_ms, smtp.latency_ms)
    with db.atomic():
        check = insert_row(
            Check, account=account, checked_at=now, status=Status.CHECKING.value, reason=None,
            detail=words, latency_ms=latency, imap=imap.to_json(), smtp=smtp.to_json(),
            trigger=f"{trigger}+held")
        if account.next_check_at is not None or account.status != Status.DISCONNECTED.value:
            retry = held_until(imap, smtp)
            account.next_check_at = max(retry or now, now + timedelta(minutes=1))
            save_changes(account)
    return check


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    values = [v for v in (a, b) if v is not None]
    return min(values) if values else None
