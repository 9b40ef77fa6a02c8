"""Recording checks and status changes of an account; the one place a status is written."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from mailmonitor.events import ACCOUNT_CHANGED, bus
from mailmonitor.models import Account, Check, SendingHold, db, get_setting
from mailmonitor.models.fast_sql import insert_rows, save_changes, save_many
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
    if (account.status, account.reason) == (status, reason):
        account.detail = detail
        save_changes(account)  # the fields set (a check writes hundreds of these a sweep)
        return False
    change_status(account, status, reason, detail, now)
    return True


def change_status(account: Account, status: str, reason: str | None, detail: str,
                  now: datetime) -> None:
    """`update_status` once the status to write (`held_status`'s) is known to differ from the
    account's: the status with what follows from it, and the campaign rules, in one
    transaction."""
    old_status = account.status
    account.detail = detail
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


def record_check(account: Account, imap: ProbeLike, smtp: ProbeLike, now: datetime,
                 trigger: str = "schedule") -> Check:
    """Persist one check with its per-protocol results and apply the §2 status rules. A check
    the login budget held back (`held_words`) changes nothing but when it is tried again."""
    return record_checks([(account, imap, smtp, trigger, now)])[0]


# One check to record: the account (its state as stored now), both answers, the trigger, when.
CheckToRecord = tuple[Account, ProbeLike, ProbeLike, str, datetime]


def record_checks(checks: Sequence[CheckToRecord]) -> list[Check]:
    """`record_check` of each, in order, in one transaction, with the same effects in the same
    order; the statements that are alike batched (the check rows in one INSERT, the accounts
    whose status stays in one UPDATE each) up to the next status change, which runs the
    campaign rules as `update_status` does, after every earlier check's writes."""
    stored: list[Check] = []
    rows: list[dict[str, Any]] = []
    saves: list[Account] = []

    def flush() -> None:
        stored.extend(insert_rows(Check, rows))
        save_many(saves)
        rows.clear()
        saves.clear()

    with db.atomic():
        for account, imap, smtp, trigger, now in checks:
            row, save, status = _prepare(account, imap, smtp, now, trigger)
            rows.append(row)
            if status is None:
                if save:
                    saves.append(account)
            else:
                flush()  # this check's row and every earlier write first, as one by one
                change_status(account, *status, now)
        flush()
    return stored


def _prepare(account: Account, imap: ProbeLike, smtp: ProbeLike, now: datetime, trigger: str
             ) -> tuple[dict[str, Any], bool, tuple[str, str | None, str] | None]:
    """A check's row, with the account's fields set as the check sets them; whether they are
    saved; and the status to write through `change_status` when it changes (None: the fields
    set are saved as they are)."""
    latency = max(imap.latency_ms, smtp.latency_ms)
    held = held_words(imap, smtp)
    if held is not None:
        # Held back by the login budget: kept in the history as such (status `checking`:
        # nothing observed, never counted in uptime), the account's status, failure count and
        # last check time unchanged, tried again once the budget frees up — a mailbox that is
        # only checked when asked (a rejected sign-in) still waits to be asked.
        row = {"account": account, "checked_at": now, "status": Status.CHECKING.value,
               "reason": None, "detail": held, "latency_ms": latency, "imap": imap.to_json(),
               "smtp": smtp.to_json(), "trigger": f"{trigger}+held"}
        if account.next_check_at is not None or account.status != Status.DISCONNECTED.value:
            retry = held_until(imap, smtp)
            account.next_check_at = max(retry or now, now + timedelta(minutes=1))
            return row, True, None
        return row, False, None
    merged = combine(Outcome(imap.status, imap.reason, imap.detail),
                     Outcome(smtp.status, smtp.reason, smtp.detail))
    decision = decide(
        merged, now, account.consecutive_failures, account.transient_since,
        interval=timedelta(seconds=account.check_interval_seconds),
        transient_window=timedelta(minutes=int(get_setting("transient_window_minutes"))),
    )
    row = {"account": account, "checked_at": now, "status": decision.status,
           "reason": decision.reason, "detail": merged.detail, "latency_ms": latency,
           "imap": imap.to_json(), "smtp": smtp.to_json(), "trigger": trigger}
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
        return row, True, None
    if decision.status == Status.CONNECTED.value and account.reason == "sending_limit" \
            and account.send_limit_until is not None and now < account.send_limit_until:
        # Signing in works during a sending limit; the hold ends at its time, not here.
        return row, True, None
    status, reason, detail = held_status(account, decision.status, decision.reason,
                                         merged.detail)
    if (account.status, account.reason) == (status, reason):  # `update_status`: no change
        account.detail = detail
        return row, True, None
    return row, True, (status, reason, detail)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    values = [v for v in (a, b) if v is not None]
    return min(values) if values else None
