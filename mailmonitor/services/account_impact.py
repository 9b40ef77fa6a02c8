"""What Disconnect and Remove will do to campaigns and leads, in words, before the rep confirms
(spec §5). Read-only: the rules themselves live in `services.lifecycle`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from mailmonitor.models import Account, Lead, get_setting
from mailmonitor.models.lead import FINAL_STATES
from mailmonitor.services.campaigns import campaigns_of
from mailmonitor.services.lifecycle import _duration, contacted_by


@dataclass(frozen=True)
class Impact:
    email: str
    campaigns: list[str]
    open_leads: int  # leads of this mailbox that are not finished
    contacted_leads: int  # of those, leads this mailbox already emailed
    grace_minutes: int

    @property
    def other_leads(self) -> int:
        return self.open_leads - self.contacted_leads


def impact_of(account: Account) -> Impact:
    open_leads = Lead.select().where(
        (Lead.mailbox == account) & Lead.state.not_in(FINAL_STATES))
    contacted = open_leads.where(Lead.id.in_(contacted_by(account)))
    return Impact(
        email=account.email,
        campaigns=[c.name for c in campaigns_of(account)],
        open_leads=int(open_leads.count()),
        contacted_leads=int(contacted.count()),
        grace_minutes=int(get_setting("grace_period_minutes")),
    )


def _campaign_list(names: list[str]) -> str:
    if not names:
        return "no campaign"
    shown = ", ".join(f"“{n}”" for n in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def describe_disconnect(impact: Impact) -> str:
    grace = _duration(timedelta(minutes=impact.grace_minutes))
    return (
        f"{impact.email} stops sending and leaves {_campaign_list(impact.campaigns)}. "
        f"Its {impact.open_leads} open leads wait.\n\n"
        f"If you connect the same address again within {grace}, it gets them back. After that, "
        f"the {impact.contacted_leads} leads it already emailed are set to Campaign Stopped "
        f"(for good) and the other {impact.other_leads} move to the campaigns' other mailboxes.\n\n"
        "To fix a password or an expired sign-in, use Reconnect instead: it keeps everything."
    )


def describe_remove(impact: Impact) -> str:
    return (
        f"{impact.email} is removed from mailmonitor and leaves "
        f"{_campaign_list(impact.campaigns)}.\n\n"
        f"The {impact.contacted_leads} leads it already emailed are set to Campaign Stopped "
        f"(for good); its other {impact.other_leads} leads move to the campaigns' other "
        "mailboxes, or wait for one. Its history (sent emails, checks) is kept.\n\n"
        "To fix a password or an expired sign-in, use Reconnect instead: it keeps everything."
    )
