"""Which alerts go to which channel, folded into one digest per round (no network here).

Every alert opened since the last round (the `notify_cursor` setting: the last alert id taken)
becomes an item; each enabled channel gets one outbox message with the items of the events it
subscribed to. The messages and the new cursor are written in one transaction, so an alert is
taken exactly once even when the app is killed in between.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from mailmonitor.models import (
    Account,
    Alert,
    Campaign,
    CampaignMailbox,
    Lead,
    NotifyChannel,
    OutboxMessage,
    db,
    get_setting,
    set_setting,
)
from mailmonitor.services.alerts.subscriptions import (
    EVENT_NAMES,
    EVENT_OF_KIND,
    EVENTS,
    STOP_WARNING_KIND,
)
from mailmonitor.services.alerts.warnings import rep_time, stop_deadline
from mailmonitor.services.common.reasons import REASONS, label_for
from mailmonitor.services.monitoring.sending_limits import status_words

ROUND_LIMIT = 500  # alerts per round: a burst is spread over a few rounds, never dropped


def _campaigns_of(account_id: int) -> list[str]:
    return [c.name for c in Campaign.select(Campaign.name).join(CampaignMailbox).where(
        CampaignMailbox.account == account_id).order_by(Campaign.name)]


def item_for(alert: Alert, now: datetime) -> dict[str, Any]:
    """What a channel says about one alert: the generic webhook body's fields."""
    account = Account.get_or_none(Account.id == alert.account_id) if alert.account_id else None
    campaign = Campaign.get_or_none(Campaign.id == alert.campaign_id) \
        if alert.campaign_id else None
    item: dict[str, Any] = {
        "event": EVENT_OF_KIND.get(alert.kind, alert.kind), "kind": alert.kind,
        "alert_id": alert.id, "severity": alert.severity, "title": alert.title,
        "message": alert.message, "at": alert.created_at.isoformat(timespec="seconds") + "Z",
        "account": None, "status": None, "reason": None, "label": None, "advice": None,
        "campaigns": [campaign.name] if campaign is not None else [],
        "leads_waiting": None, "deadline": None, "deadline_local": None,
    }
    if account is not None:
        waiting = Lead.select().where((Lead.mailbox == account) & (Lead.state == "halted"))
        item.update({
            "account": account.email, "status": account.status, "reason": account.reason,
            "label": status_words(account, label_for(account.status, account.reason)),
            "advice": REASONS[account.reason].advice if account.reason in REASONS else None,
            "campaigns": item["campaigns"] or _campaigns_of(account.id),
            "leads_waiting": int(waiting.count()),
        })
        window = stop_deadline(account)
        if window is not None:
            from mailmonitor.services.alerts.warnings import effective_stop_at

            deadline = effective_stop_at(account, now) or window[1]
            item["deadline"] = deadline.isoformat(timespec="seconds") + "Z"
            item["deadline_local"] = rep_time(deadline)
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
        if item["advice"] and item["event"] in ("disconnected", "reminder"):
            lines.append(f"  What to do: {item['advice']}")
        if item["deadline_local"] and item["event"] in ("disconnected", "reminder",
                                                        "leads_stopping"):
            lines.append(f"  Leads it emailed are stopped for good at {item['deadline_local']} "
                         "unless you reconnect.")
        if item["campaigns"]:
            lines.append("  Campaigns: " + ", ".join(item["campaigns"]))
        lines.append("")
    lines.append("Open mailmonitor to reconnect: campaigns continue where they left off.")
    return "\n".join(lines)


def collect_round(now: datetime) -> list[OutboxMessage]:
    """Take the alerts opened since the last round; one outbox message per channel that
    subscribed to any of them. Returns the messages created."""
    cursor = int(get_setting("notify_cursor") or 0)
    alerts = list(Alert.select().where(Alert.id > cursor).order_by(Alert.id).limit(ROUND_LIMIT))
    if not alerts:
        return []
    from mailmonitor.services.alerts.warnings import mark_stop_notice

    created: list[OutboxMessage] = []
    with db.atomic():
        # Resolved before its round came (a blip that healed): nothing to tell any more.
        # What was done for good (stopped, connected again) is told either way.
        current = [a for a in alerts if a.kind in EVENT_OF_KIND and (
            a.resolved_at is None or a.kind in ("leads_stopped", "reconnected"))]
        # The cause before its effects: "disconnected" before "campaign paused".
        current.sort(key=lambda a: (EVENT_NAMES.index(EVENT_OF_KIND[a.kind]), a.id))
        items = {a.id: item_for(a, now) for a in current}
        warned_carried: set[int] = set()
        from mailmonitor.services.team.members import admins, reaches

        admin_names = admins()
        for channel in NotifyChannel.select().where(NotifyChannel.enabled).order_by(
                NotifyChannel.id):
            # A new channel hears of what happens from now on, not of older alerts; on a
            # team database only of its member's mailboxes and campaigns (all for an admin).
            chosen = [items[a.id] for a in current if items[a.id]["event"] in (
                channel.events or []) and a.created_at >= channel.created_at
                and reaches(a, channel.owner, admin_names=admin_names)]
            if not chosen:
                continue
            warned = sorted({a.account_id for a in current if a.kind == STOP_WARNING_KIND
                             and a.account_id and items[a.id] in chosen})
            warned_carried.update(warned)
            created.append(OutboxMessage.create(
                channel=channel, delivery_id=uuid.uuid4().hex, round_at=now,
                title=digest_title(chosen)[:250], text=digest_text(chosen), items=chosen,
                stop_warning_accounts=warned, state="pending", next_attempt_at=now,
                created_at=now))
        # A stop warning no channel carries reached the rep in the window.
        uncarried = [a.account_id for a in current if a.kind == STOP_WARNING_KIND
                     and a.account_id and a.account_id not in warned_carried]
        mark_stop_notice(uncarried, now)
        set_setting("notify_cursor", alerts[-1].id)
    return created
