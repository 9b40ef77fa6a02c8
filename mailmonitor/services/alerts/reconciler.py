"""One reconciler makes the stored alerts equal to the conditions that hold now.

`reconcile(now)` reads the state (`facts.read_state`), derives the conditions
(`attention.derive`) and, in one transaction, opens the new ones, updates the ones that changed
and resolves the ones that no longer hold. Rules never raise or resolve an alert: they change
the state, and the next reconcile (coalesced: one for a burst of changes) says so everywhere.

History stays: an alert row keeps when it opened (`created_at`), last changed (`updated_at`) and
resolved (`resolved_at`), and how often its failure was seen (`count`). Each *change* of a
condition — opened, changed in what it says (severity, title, mailboxes, deadline, action,
muted), resolved, or a reminder while a mailbox stays broken — is written once to
`AlertChange`, which the channels' digest reads: a repeat of the same failure updates the count
and time, never a new alert or message.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from mailmonitor.clock import Clock
from mailmonitor.events import (
    ACCOUNT_CHANGED,
    ALERTS_CHANGED,
    ATTENTION_DIRTY,
    CAMPAIGN_CHANGED,
    LEADS_CHANGED,
    bus,
)
from mailmonitor.models import (
    Alert,
    AlertChange,
    Lead,
    account_by_email,
    db,
    is_postgres,
)
from mailmonitor.models.fast_sql import insert_row, save_changes
from mailmonitor.models.states import LeadState
from mailmonitor.services.alerts import facts
from mailmonitor.services.alerts.attention import (
    CRITICAL,
    AttentionState,
    Condition,
    derive,
)
from mailmonitor.services.alerts.subscriptions import STOP_WARNING_KIND, channels_for_kind
from mailmonitor.services.campaigns.stop_warnings import mark_stop_notice
from mailmonitor.wording import count

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

ATTENTION_LOCK_KEY = 0x6D6D0002  # pg_advisory_xact_lock while one copy reconciles
# Kinds whose condition is a broken mailbox: reminded about while it stays broken.
REMINDED_KINDS = ("mailbox_broken", "grace_ending", "leads_stopping")


@dataclass
class Reconciled:
    opened: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.opened or self.changed or self.resolved or self.reminded)


def _material(row: Alert, c: Condition) -> bool:
    """Does the condition say something new (a message for the channels)?"""
    deadline_moved = (row.deadline is None) != (c.deadline is None) or (
        row.deadline is not None and c.deadline is not None
        and abs(row.deadline - c.deadline) > timedelta(minutes=1))
    return (row.severity, row.title, list(row.mailboxes or []), row.action, row.muted) != \
        (c.severity, c.title, list(c.mailboxes), c.action, c.muted) or deadline_moved


def _values(c: Condition, now: datetime, position: int) -> dict[str, object]:
    return {
        "position": position,
        "kind": c.kind, "severity": c.severity, "title": c.title[:250], "message": c.message,
        "account": c.account_ids[0] if c.account_ids else None,
        "campaign": c.campaign_ids[0] if c.campaign_ids else None,
        "mailboxes": list(c.mailboxes), "campaigns": list(c.campaigns), "deadline": c.deadline,
        "action": c.action, "count": c.count, "last_seen_at": c.last_seen or now,
        "muted": c.muted,
    }


def _record(row: Alert, change: str, now: datetime, title: str | None = None,
            message: str | None = None, event: str | None = None, muted: bool | None = None
            ) -> None:
    insert_row(AlertChange, alert=row.id, change=change, at=now, kind=row.kind,
               severity=row.severity, title=(title or row.title)[:250],
               message=message or row.message, muted=row.muted if muted is None else muted,
               event=event)


ABSORBED = "Now part of another alert: "


def _comes_back(key: str, since: datetime | None) -> bool:
    """Does this condition come back from the card that had taken it over, its cause unchanged
    (a broken mailbox's card after its leads were stopped)? The channels heard of it when it
    first opened; nothing new to tell."""
    if since is None:
        return False
    last = Alert.select().where((Alert.key == key) & Alert.resolved_at.is_null(False)) \
        .order_by(Alert.resolved_at.desc()).first()
    if last is None or last.resolved_at is None or since > last.resolved_at:
        return False
    return bool(AlertChange.select().where(
        (AlertChange.alert == last) & (AlertChange.change == "resolved")
        & AlertChange.title.startswith(ABSORBED)).exists())


def _set(row: Alert, values: dict[str, object]) -> bool:
    """Set what differs on the row (its foreign keys by id); True when anything did."""
    changed = False
    for name, value in values.items():
        current = row.__data__.get(name)
        if current != value:
            setattr(row, name, value)
            changed = True
    return changed


MAILBOX_KINDS = ("mailbox_broken", "mailbox_retrying", "grace_ending", STOP_WARNING_KIND)


def _resolution(row: Alert) -> tuple[str, str, str | None]:
    """What happened, in words true now, when a condition stops holding (title, message, the
    channel event when not the kind's own)."""
    accounts = [account_by_email(e) for e in row.mailboxes or []]
    who = ", ".join(row.mailboxes or []) or row.title
    if row.kind in MAILBOX_KINDS and accounts \
            and all(a is not None and a.status == "connected" for a in accounts):
        waiting = sum(int(Lead.select().where(
            (Lead.mailbox == a) & Lead.state.in_((LeadState.ACTIVE, LeadState.PENDING)))
            .count()) for a in accounts if a is not None)
        return (f"{who} {'is' if len(accounts) == 1 else 'are'} connected again",
                f"{count(waiting, 'lead')} continue where they left off.", "reconnected")
    account = accounts[0] if accounts else None
    if row.kind in (STOP_WARNING_KIND, "grace_ending") and account is not None \
            and (account.long_wait_applied or account.grace_expired):
        stopped = int(Lead.select().where((Lead.mailbox == account) & (
            Lead.state == LeadState.CAMPAIGN_STOPPED)).count())
        return (f"Leads of {account.email} were stopped",
                f"{count(stopped, 'lead')} it had emailed {'is' if stopped == 1 else 'are'} "
                "set to Campaign Stopped; its other leads were re-allocated or wait for a "
                "mailbox.", STOP_WARNING_KIND)
    if row.kind == "grace_ending" and account is not None and account.detached_at is not None:
        return (f"Nothing waits for {account.email} any more",
                "Its leads were moved to the campaigns' other mailboxes; connected again, it "
                "gets new leads only.", None)
    return f"Resolved: {row.title}", "It no longer needs you.", None


def _family(kind: str) -> str:
    """Conditions that say the same thing of a mailbox: its trouble (broken, retrying, its
    grace period, the stop of its leads) is one family; any other kind is its own."""
    return "mailbox" if kind in MAILBOX_KINDS else kind


def _last_told(row: Alert) -> datetime:
    """When the channels last heard of the condition: opened or changed (`updated_at`; not
    `created_at`, which is when its cause began), or reminded."""
    told: list[datetime] = [t for t in (row.updated_at, row.reminded_at, row.created_at)
                            if t is not None]
    return max(told)


def apply(conditions: Sequence[Condition], now: datetime,
          reminder: timedelta | None = None) -> Reconciled:
    """Make the stored open alerts equal to `conditions` (one transaction)."""
    done = Reconciled(conditions=list(conditions))
    wanted = {c.key: c for c in conditions}
    positions = {c.key: i for i, c in enumerate(conditions)}
    stop_noticed: list[int] = []
    with db.atomic():
        if is_postgres(db.obj):  # several senders of a team take turns
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (ATTENTION_LOCK_KEY,))
        open_rows = {a.key: a for a in Alert.select().where(Alert.resolved_at.is_null())}
        for key, c in wanted.items():
            row = open_rows.pop(key, None)
            if row is None:
                back = _comes_back(key, c.since)
                row = insert_row(Alert, key=key, created_at=c.since or now, updated_at=now,
                                 resolved_at=None, reminded_at=None, notified=False,
                                 **_values(c, now, positions[key]))
                _record(row, "opened", now, muted=back or None)
                done.opened.append(key)
                if c.kind == STOP_WARNING_KIND and not channels_for_kind(STOP_WARNING_KIND):
                    # No channel carries it: the window's alert is the delivery.
                    stop_noticed.extend(c.account_ids)
                continue
            material = _material(row, c)
            values = _values(c, now, positions[key])
            if material:
                values["updated_at"] = now
                if (c.severity == CRITICAL and row.severity != CRITICAL) or \
                        (row.muted and not c.muted):
                    values["notified"] = False  # worse, or audible again: the tray tells anew
            if _set(row, values):
                save_changes(row)
            if material:
                _record(row, "changed", now)
                done.changed.append(key)
            elif reminder is not None and c.kind in REMINDED_KINDS and not c.muted \
                    and now - _last_told(row) >= reminder:
                row.reminded_at = now
                save_changes(row)
                _record(row, "reminder", now, title=f"Still needs you: {row.title}")
                done.reminded.append(key)
        named: dict[str, set[str]] = {}
        for c in conditions:
            named.setdefault(_family(c.kind), set()).update(c.mailboxes)
        for key, row in open_rows.items():
            row.resolved_at = row.updated_at = now
            save_changes(row)
            title, message, event = _resolution(row)
            if event is None and row.mailboxes \
                    and set(row.mailboxes) <= named.get(_family(row.kind), set()):
                # Its mailboxes' trouble is named by another condition now (a stop warning
                # took them over, another reason, a group grew): nothing to tell, the other one
                # says it. What was done (connected again, leads stopped) is always told.
                _record(row, "resolved", now, title=f"{ABSORBED}{row.title}", muted=True)
            else:
                _record(row, "resolved", now, title=title, message=message, event=event)
            done.resolved.append(key)
        mark_stop_notice(stop_noticed, now)
    if done.any:
        log.info("alerts: %d opened, %d changed, %d resolved, %d reminded",
                 len(done.opened), len(done.changed), len(done.resolved), len(done.reminded))
        bus.emit(ALERTS_CHANGED)
    return done


def reconcile(now: datetime, state: AttentionState | None = None) -> Reconciled:
    """Read the state, derive the conditions, store them."""
    current = state if state is not None else facts.read_state(now)
    return apply(derive(current), now, facts.reminder_interval())


def open_conditions() -> list[Alert]:
    """The stored open conditions in the model's order (deadlines first, …, muted last)."""
    return list(Alert.select().where(Alert.resolved_at.is_null())
                .order_by(Alert.position, Alert.id))


def as_condition(row: Alert) -> Condition:
    return Condition(
        key=row.key, kind=row.kind, severity=row.severity, title=row.title,
        message=row.message, mailboxes=tuple(row.mailboxes or ()),
        account_ids=(row.account_id,) if row.account_id else (),
        campaigns=tuple(row.campaigns or ()),
        campaign_ids=(row.campaign_id,) if row.campaign_id else (), deadline=row.deadline,
        action=row.action, since=row.created_at, count=row.count or 1,
        last_seen=row.last_seen_at, muted=bool(row.muted))


# What the attention model reads changed: reconcile at the next tick (a burst is one reconcile).
DIRTY_EVENTS = (ACCOUNT_CHANGED, CAMPAIGN_CHANGED, LEADS_CHANGED, ATTENTION_DIRTY)
# Time-based conditions (a deadline nearing, trouble lasting long enough, a window ending) are
# looked at this often even when nothing announced a change.
REFRESH_SECONDS = 60.0


class AttentionLoop:
    """Keeps the stored alerts equal to the conditions that hold: once per `tick` when something
    changed (a burst of a thousand status changes is one reconcile) and every `refresh` seconds
    for what time alone changes. Given an `executor` (the window's and `run --headless`'s
    background work), each reconcile runs on its thread — its own database connection — so
    reading the state of thousands of leads never holds up the loop that writes the state and
    paints the window; one reconcile at a time. `durations` keeps the last reconciles' times
    (seconds) for the benchmark and the log."""

    def __init__(self, clock: Clock, tick: float = 0.5, refresh: float = REFRESH_SECONDS,
                 executor: Executor | None = None) -> None:
        self.clock = clock
        self.tick = tick
        self.refresh = refresh
        self.executor = executor
        self.dirty = True  # the first reconcile runs at start
        self.reconciles = 0
        self.durations: list[float] = []

    def mark_dirty(self, *_args: object) -> None:
        """A bus listener (any thread): the next tick reconciles."""
        self.dirty = True

    def reconcile_now(self) -> Reconciled:
        self.dirty = False
        started = time.perf_counter()
        try:
            return reconcile(self.clock.now())
        finally:
            self.reconciles += 1
            self.durations = [*self.durations[-999:], time.perf_counter() - started]

    async def _reconcile(self) -> Reconciled:
        if self.executor is None:
            return self.reconcile_now()
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(self.executor,
                                                                self.reconcile_now)

    async def run(self, stopping: asyncio.Event,
                  on_error: Callable[[BaseException], bool] | None = None) -> None:
        """Until `stopping` is set. `on_error` is told of a failed reconcile; returning True
        ends the loop (the database cannot be used any more)."""
        import asyncio  # here: a command's one reconcile runs no loop

        for event in DIRTY_EVENTS:
            bus.subscribe(event, self.mark_dirty)
        loop = asyncio.get_running_loop()
        last = -self.refresh
        try:
            while not stopping.is_set():
                if self.dirty or loop.time() - last >= self.refresh:
                    last = loop.time()
                    try:
                        await self._reconcile()
                    except Exception as exc:
                        if on_error is not None and on_error(exc):
                            break
                        log.exception("reconciling the alerts failed")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.tick):
                        await stopping.wait()
        finally:
            for event in DIRTY_EVENTS:
                bus.unsubscribe(event, self.mark_dirty)
