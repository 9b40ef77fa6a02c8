"""Which changes of conditions go to which channel, folded into one digest per round (no network
here).

Every change the reconciler recorded since the last round (`AlertChange`, the
`notify_change_cursor` setting: the last change id taken) becomes an item: a condition opened,
changed in what it says, resolved (a mailbox connected again, leads stopped), or a reminder while
a mailbox stays broken. Each enabled channel gets one outbox message with the items of the events
it subscribed to. The messages and the new cursor are written in one transaction, so a change is
taken exactly once even when the app is killed in between; a change inside a maintenance window
is taken and told to nobody.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from mailmonitor.models import (
    Account,
    Alert,
    AlertChange,
    Lead,
    NotifyChannel,
    OutboxMessage,
    account_by_email,
    db,
    get_setting,
    set_setting,
)
from mailmonitor.services.alerts.subscriptions import (
    EVENT_NAMES,
    EVENTS,
    STOP_WARNING_KIND,
    event_of,
)
from mailmonitor.services.alerts.warnings import rep_time
from mailmonitor.services.campaigns.stop_warnings import mark_stop_notice
from mailmonitor.services.common.reasons import REASONS, advice_for, label_for
from mailmonitor.services.monitoring.sending_limits import status_words

ROUND_LIMIT = 500  # alerts per round: a burst is spread over a few rounds, never dropped


def item_for(change: AlertChange, alert: Alert, event: str) -> dict[str, Any]:
    """What a channel says about one change: the generic webhook body's fields."""
    mailboxes = list(alert.mailboxes or [])
    account = account_by_email(mailboxes[0]) if mailboxes else (
        Account.get_or_none(Account.id == alert.account_id) if alert.account_id else None)
    item: dict[str, Any] = {
        "event": event, "kind": change.kind, "change": change.change, "key": alert.key,
        "alert_id": alert.id, "severity": change.severity, "title": change.title,
        "message": change.message, "at": change.at.isoformat(timespec="seconds") + "Z",
        "account": None, "mailboxes": mailboxes, "status": None, "reason": None,
        "label": None, "advice": None, "campaigns": list(alert.campaigns or []),
        "leads_waiting": None, "action": alert.action,
        "deadline": alert.deadline.isoformat(timespec="seconds") + "Z"
        if alert.deadline else None,
        "deadline_local": rep_time(alert.deadline) if alert.deadline else None,
    }
    if account is not None:
        # Every mailbox the card names (a card may group several), not only the first.
        named = [a for a in (account_by_email(e) for e in mailboxes[1:]) if a is not None]
        waiting = Lead.select().where(Lead.mailbox.in_([account, *named])
                                      & (Lead.state == "halted"))
        item.update({
            "account": account.email, "status": account.status, "reason": account.reason,
            "label": status_words(account, label_for(account.status, account.reason)),
            "advice": advice_for(account.reason, account.detail or "")
            if account.reason in REASONS else None,
            "leads_waiting": int(waiting.count()),
        })
    return item


def digest_title(items: list[dict[str, Any]]) -> str:
    if len(items) == 1:
        return str(items[0]["title"])
    counts = Counter(i["event"] for i in items)
    words = {e.name: e.label.split(" (")[0].lower() for e in EVENTS}
    parts = [words.get(event, event) + (f" ({n})" if n > 1 else "")
             for event, n in counts.most_common()]
    return f"{len(items)} mailmonitor alerts: " + "; ".join(parts)


def digest_text(items: list[dict[str, Any]]) -> str:
    lines = []
    for item in items:
        lines.append(f"• {item['title']}")
        if item["message"]:
            lines.append(f"  {item['message']}")
        if item["advice"] and item["event"] in ("disconnected", "reminder") \
                and item["change"] != "resolved":
            lines.append(f"  What to do: {item['advice']}")
        if item["deadline_local"] and item["change"] != "resolved":
            lines.append(f"  Deadline: {item['deadline_local']}.")
        if item["campaigns"]:
            lines.append("  Campaigns: " + ", ".join(item["campaigns"]))
        lines.append("")
    lines.append("Open mailmonitor to reconnect: campaigns continue where they left off.")
    return "\n".join(lines)


def collect_round(now: datetime) -> list[OutboxMessage]:
    """Take the changes recorded since the last round; one outbox message per channel that
    subscribed to any of them. Returns the messages created."""
    cursor = int(get_setting("notify_change_cursor") or 0)
    changes = list(AlertChange.select().where(AlertChange.id > cursor)
                   .order_by(AlertChange.id).limit(ROUND_LIMIT))
    if not changes:
        return []
    created: list[OutboxMessage] = []
    with db.atomic():
        alerts = {a.id: a for a in Alert.select().where(
            Alert.id.in_({c.alert_id for c in changes}))}
        told = []
        for change in changes:
            alert = alerts.get(change.alert_id)
            event = event_of(change.change, change.kind, change.event)
            if alert is None or event is None or change.muted:
                continue
            # Opened and gone again before its round came (a blip that healed): nothing to
            # tell any more. What was done for good (stopped, connected again) is told.
            if change.change == "opened" and alert.resolved_at is not None:
                continue
            told.append((change, alert, item_for(change, alert, event)))
        # The cause before its effects: "disconnected" before "campaign paused".
        told.sort(key=lambda t: (EVENT_NAMES.index(t[2]["event"]), t[0].id))
        warned_carried: set[int] = set()
        from mailmonitor.services.team.members import admins, reaches

        admin_names = admins()
        for channel in NotifyChannel.select().where(NotifyChannel.enabled).order_by(
                NotifyChannel.id):
            # A new channel hears of what happens from now on, not of older changes; on a
            # team database only of its member's mailboxes and campaigns (all for an admin).
            chosen = [(change, alert, item) for change, alert, item in told
                      if item["event"] in (channel.events or [])
                      and change.at >= channel.created_at
                      and reaches(alert, channel.owner, admin_names=admin_names)]
            if not chosen:
                continue
            warned = sorted({alert.account_id for change, alert, _ in chosen
                             if change.kind == STOP_WARNING_KIND and change.change == "opened"
                             and alert.account_id})
            warned_carried.update(warned)
            items = [item for _, _, item in chosen]
            created.append(OutboxMessage.create(
                channel=channel, delivery_id=uuid.uuid4().hex, round_at=now,
                title=digest_title(items)[:250], text=digest_text(items), items=items,
                stop_warning_accounts=warned, state="pending", next_attempt_at=now,
                created_at=now))
        # A stop warning no channel carries reached the rep in the window.
        uncarried = [alert.account_id for change, alert, _ in told
                     if change.kind == STOP_WARNING_KIND and change.change == "opened"
                     and alert.account_id and alert.account_id not in warned_carried]
        mark_stop_notice(uncarried, now)
        set_setting("notify_change_cursor", changes[-1].id)
    return created
