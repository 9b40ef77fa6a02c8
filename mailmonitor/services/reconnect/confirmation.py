"""The one sentence the window shows after Save & Resume, e.g. "ava@x.test reconnected;
2 campaigns resumed." Compares the account's campaigns just before and just after saving.
Qt-free."""

from __future__ import annotations

from mailmonitor.models import Account
from mailmonitor.models.campaign import PAUSE_USER
from mailmonitor.services.reconnect.flow import CampaignChoice, campaign_choices


def reconnect_confirmation(email: str, before: list[CampaignChoice],
                           after: list[CampaignChoice]) -> str:
    was_paused = {c.id for c in before if c.paused}
    resumed = [c for c in after if c.id in was_paused and c.status == "active"]
    running = [c for c in after if c.status == "active" and c.id not in was_paused]
    still_paused = [c for c in after if c.paused]
    parts = [f"{email} reconnected"]
    if resumed:
        parts.append(_count(len(resumed), "campaign") + " resumed")
    if running:
        parts.append(_count(len(running), "campaign") + (" keeps" if len(running) == 1
                                                            else " keep") + " running")
    if still_paused:
        names = ", ".join(f"“{c.name}”" for c in still_paused[:2])
        more = f" and {len(still_paused) - 2} more" if len(still_paused) > 2 else ""
        why = ("paused by you" if all(c.pause_reason == PAUSE_USER for c in still_paused)
               else "paused")
        parts.append(f"{names}{more} {'stays' if len(still_paused) == 1 else 'stay'} {why}")
    if len(parts) == 1:
        parts.append("it sends for no campaign yet")
    return "; ".join(parts) + "."


def choices_now(account: Account) -> list[CampaignChoice]:
    return campaign_choices(account)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
