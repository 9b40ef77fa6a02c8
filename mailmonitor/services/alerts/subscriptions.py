"""What each alert channel subscribed to: the events a rep picks in Notifications, the alert
kinds each covers, and the channels that carry a kind (no network here).

Below ``warnings`` and ``digest``: both ask it which channels hear of a kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailmonitor.models import NotifyChannel

STOP_WARNING_KIND = "leads_stopping"


@dataclass(frozen=True)
class Event:
    name: str
    label: str  # as the Notifications settings list it
    kinds: tuple[str, ...]  # alert kinds it covers


EVENTS: tuple[Event, ...] = (
    Event("disconnected", "A mailbox is disconnected (or keeps failing)",
          ("mailbox_broken", "mailbox_retrying")),
    Event("reminder", "Still disconnected (reminders, grace period)", ("grace_ending",)),
    Event("campaign_paused", "A campaign is paused, or its leads wait",
          ("campaign_paused", "campaign_error", "leads_unassigned", "leads_flagged")),
    Event("leads_stopping", "Leads will be stopped (24 h before), or were",
          (STOP_WARNING_KIND,)),
    Event("reconnected", "A mailbox is connected again", ()),
    Event("certificate_expiring", "A certificate expires soon", ("certificate_expiring",)),
    Event("sending_limit", "A sending limit was reached, or sending is refused",
          ("sending_limit", "send_problem", "send_unknown")),
    Event("sign_in_expiring", "A sign-in or password is about to expire",
          ("sign_in_expiring", "password_rotation")),
    Event("deliverability", "DNS records or a test email need you",
          ("dns_problem", "round_trip_failed")),
    Event("provider_change", "A provider change hits mailboxes (ahead of its date, and in effect)",
          ("provider_change",)),
)
EVENT_NAMES = tuple(e.name for e in EVENTS)
EVENT_OF_KIND = {kind: e.name for e in EVENTS for kind in e.kinds}
def parse_events(text: str) -> list[str]:
    """"all" or a comma-separated list of event names; raises ValueError with the valid ones."""
    names = [n.strip().lower().replace("-", "_") for n in text.split(",") if n.strip()]
    if not names or names == ["all"]:
        return list(EVENT_NAMES)
    unknown = [n for n in names if n not in EVENT_NAMES]
    if unknown:
        raise ValueError(f"unknown event {unknown[0]!r}; choose from all, "
                         + ", ".join(EVENT_NAMES))
    return [n for n in EVENT_NAMES if n in names]


def channels_for_kind(kind: str) -> list[NotifyChannel]:
    event = EVENT_OF_KIND.get(kind)
    if event is None:
        return []
    return [c for c in NotifyChannel.select().where(NotifyChannel.enabled)
            if event in (c.events or [])]


def event_of(change: str, kind: str, event: str | None = None) -> str | None:
    """The channel event a change of a condition belongs to (None: no channel hears of it)."""
    if event:
        return event
    if change == "reminder":
        return "reminder"
    return EVENT_OF_KIND.get(kind)
