"""Which alerts become desktop notifications, coalesced and rate-limited (no Qt here).

Alerts that need the rep are collected as they open; at most one notification goes out per
`min_gap` and everything that arrived meanwhile is folded into the next one ("2 mailboxes
disconnected"), so a provider outage that breaks ten mailboxes gives one pop-up, not ten.
The tray (or the in-window fallback) asks `take()` when `next_due()` has come.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailmonitor.clock import Clock
from mailmonitor.models import Alert, AlertSeen, Status, get_setting, this_member

# Conditions the rep must act on (or must know before it is too late) pop up; notes (a password
# due for its rotation) only appear in the alerts list. A muted condition never pops up.
NOTIFY_KINDS = frozenset({
    "mailbox_broken", "mailbox_retrying", "grace_ending", "leads_stopping", "campaign_paused",
    "campaign_error", "leads_unassigned", "leads_flagged", "certificate_expiring",
    "send_unknown", "send_problem", "sending_limit", "sign_in_expiring", "dns_problem",
    "round_trip_failed", "channel_failing", "keyring_unavailable", "provider_change",
})

# kind -> (singular, plural) used when several alerts are folded into one notification
_NOUNS: dict[str, tuple[str, str]] = {
    "mailbox_broken": ("mailbox problem", "mailbox problems"),
    "mailbox_retrying": ("mailbox keeps failing", "mailboxes keep failing"),
    "grace_ending": ("grace period running", "grace periods running"),
    "leads_stopping": ("mailbox's leads about to be stopped",
                       "mailboxes' leads about to be stopped"),
    "campaign_paused": ("campaign paused", "campaigns paused"),
    "campaign_error": ("campaign paused after an error", "campaigns paused after an error"),
    "leads_unassigned": ("campaign with waiting leads", "campaigns with waiting leads"),
    "leads_flagged": ("campaign with leads to fix", "campaigns with leads to fix"),
    "certificate_expiring": ("certificate expiring", "certificates expiring"),
    "send_unknown": ("mailbox with emails to check", "mailboxes with emails to check"),
    "send_problem": ("mailbox refused to send", "mailboxes refused to send"),
    "sending_limit": ("sending limit reached", "sending limits reached"),
    "sign_in_expiring": ("sign-in about to end", "sign-ins about to end"),
    "dns_problem": ("domain with DNS problems", "domains with DNS problems"),
    "round_trip_failed": ("test email missed the Inbox", "test emails missed the Inbox"),
    "channel_failing": ("alert channel not getting through", "alert channels not getting through"),
    "keyring_unavailable": ("keyring problem", "keyring problems"),
    "provider_change": ("provider change ahead", "provider changes ahead"),
}

DEFAULT_MIN_GAP = timedelta(minutes=2)
MAX_LINES = 4


@dataclass(frozen=True)
class Notice:
    """What a notification needs to know about one alert."""

    alert_id: int
    kind: str
    title: str
    account_id: int | None = None
    campaign_id: int | None = None


@dataclass(frozen=True)
class Notification:
    title: str
    message: str
    alert_ids: tuple[int, ...]
    account_id: int | None  # exactly one mailbox concerned: clicking opens its reconnect wizard


def coalesce(notices: list[Notice], max_lines: int = MAX_LINES) -> Notification:
    """One notification for several alerts: a count per kind as the title, the first few
    alert titles as the message."""
    if not notices:
        raise ValueError("nothing to notify")
    accounts = {n.account_id for n in notices if n.account_id is not None}
    account_id = next(iter(accounts)) if len(accounts) == 1 else None
    ids = tuple(n.alert_id for n in notices)
    if len(notices) == 1:
        return Notification(notices[0].title, _hint(notices[0].kind), ids, account_id)
    counts = Counter(n.kind for n in notices)
    parts = []
    for kind, count in counts.most_common():
        singular, plural = _NOUNS.get(kind, ("alert", "alerts"))
        parts.append(f"{count} {singular if count == 1 else plural}")
    lines = [n.title for n in notices[:max_lines]]
    if len(notices) > max_lines:
        lines.append(f"…and {len(notices) - max_lines} more")
    return Notification(" · ".join(parts), "\n".join(lines), ids, account_id)


def _hint(kind: str) -> str:
    if kind in ("mailbox_broken", "grace_ending", "leads_stopping", "sign_in_expiring"):
        return "Click to reconnect; campaigns continue where they left off."
    if kind in ("campaign_paused", "leads_unassigned"):
        return "Reconnect a mailbox, or add a connected one to the campaign."
    if kind == "provider_change":
        return "Open mailmonitor to see which mailboxes it hits and what to do."
    return "Open mailmonitor for details."


class NotificationPolicy:
    """Collects notices and hands out at most one coalesced notification per `min_gap`."""

    def __init__(self, clock: Clock, min_gap: timedelta = DEFAULT_MIN_GAP) -> None:
        self.clock = clock
        self.min_gap = min_gap
        self._pending: dict[int, Notice] = {}
        self._seen: set[int] = set()
        self.last_shown_at: datetime | None = None

    @property
    def pending(self) -> list[Notice]:
        return list(self._pending.values())

    def offer(self, notices: Iterable[Notice]) -> None:
        """New alerts to tell the rep about; one already offered is ignored."""
        for notice in notices:
            if notice.kind in NOTIFY_KINDS and notice.alert_id not in self._seen:
                self._seen.add(notice.alert_id)
                self._pending[notice.alert_id] = notice

    def withdraw(self, still_open: Iterable[int]) -> None:
        """Alerts resolved before their turn came are not announced any more."""
        keep = set(still_open)
        self._pending = {k: v for k, v in self._pending.items() if k in keep}

    def next_due(self) -> datetime | None:
        if not self._pending:
            return None
        if self.last_shown_at is None:
            return self.clock.now()
        return max(self.clock.now(), self.last_shown_at + self.min_gap)

    def take(self) -> Notification | None:
        """The notification to show now, or None (nothing pending, or still rate-limited)."""
        due = self.next_due()
        now = self.clock.now()
        if due is None or due > now:
            return None
        notification = coalesce(sorted(self._pending.values(), key=lambda n: n.alert_id))
        self._pending.clear()
        self.last_shown_at = now
        return notification


def notifications_enabled() -> bool:
    return bool(get_setting("notifications"))


def new_notices() -> list[Notice]:
    """Open, audible conditions of the kinds that notify, that no notification has covered yet
    (a condition that got worse is uncovered again) and that reach this copy's member
    (services/team/members.py), most urgent first."""
    from mailmonitor.services.team.members import admins, is_team_database, reaches

    if is_team_database():  # each member's tray shows its own notifications
        shown = AlertSeen.select(AlertSeen.alert).where(AlertSeen.member == this_member())
        unseen = Alert.id.not_in(shown)
    else:
        unseen = ~Alert.notified
    query = Alert.select().where(
        Alert.resolved_at.is_null() & unseen & ~Alert.muted
        & Alert.kind.in_(tuple(NOTIFY_KINDS))
    ).order_by(Alert.position, Alert.id)

    # On a team database: only the owner's and the admins' trays (everyone sees the list).
    # A card naming several mailboxes is no one mailbox's: a click opens the alerts list.
    admin_names = admins()
    return [Notice(a.id, a.kind, a.title,
                   a.account_id if len(a.mailboxes or []) <= 1 else None, a.campaign_id)
            for a in query if reaches(a, admin_names=admin_names)]


def still_open(alert_ids: Iterable[int]) -> list[int]:
    """Which of these alerts are still open (the pending ones only: a handful, not all)."""
    ids = list(alert_ids)
    if not ids:
        return []
    return [a for (a,) in Alert.select(Alert.id).where(
        Alert.id.in_(ids) & Alert.resolved_at.is_null()).tuples()]


SEVERITY_STATUS = {"critical": Status.DISCONNECTED, "warning": Status.WARNING,
                   "info": Status.CONNECTED}


def status_of_notification(alert_ids: Iterable[int]) -> Status:
    """The status whose icon a notification carries: its most severe alert's (a disconnection
    shows the red shape even before the window's summary has caught up)."""
    severities = {a.severity for a in Alert.select(Alert.severity).where(
        Alert.id.in_(list(alert_ids)))}
    for severity in ("critical", "warning", "info"):
        if severity in severities:
            return SEVERITY_STATUS[severity]
    return Status.CONNECTED


def mark_notified(alert_ids: Iterable[int]) -> None:
    ids = list(alert_ids)
    if ids:
        Alert.update(notified=True).where(Alert.id.in_(ids)).execute()
        from mailmonitor.services.team.members import is_team_database

        if is_team_database():
            member = this_member()
            AlertSeen.insert_many([{"member": member, "alert": i} for i in ids]
                                  ).on_conflict_ignore().execute()
