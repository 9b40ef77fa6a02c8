"""What a broken or disconnected mailbox means for campaigns and leads, for the window: the
words shown before Disconnect and Remove (spec §5) and the mailboxes a campaign banner names
(§4.3). Read-only: the rules themselves live in `services.lifecycle` and `services.campaigns`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee as pw

from mailmonitor.models import Account, Campaign, Lead, get_setting
from mailmonitor.models.states import BROKEN_STATUSES, FINAL_STATES, LeadState, Status
from mailmonitor.services.campaigns.lifecycle import contacted_by
from mailmonitor.services.campaigns.rules import campaign_accounts, campaigns_of
from mailmonitor.wording import count, duration_words, verb


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
    grace = duration_words(timedelta(minutes=impact.grace_minutes))
    return (
        f"{impact.email} stops sending and leaves {_campaign_list(impact.campaigns)}. "
        f"Its {count(impact.open_leads, 'open lead')} "
        f"{verb(impact.open_leads, 'waits', 'wait')}.\n\n"
        f"If you connect the same address again within {grace}, it gets them back. After that, "
        f"{count(impact.contacted_leads, 'lead')} it already emailed "
        f"{verb(impact.contacted_leads, 'is', 'are')} set to Campaign Stopped (for good) and "
        f"{count(impact.other_leads, 'other lead')} "
        f"{verb(impact.other_leads, 'moves', 'move')} to the campaigns' other mailboxes.\n\n"
        "To fix a password or an expired sign-in, use Reconnect instead: it keeps everything."
    )


def describe_remove(impact: Impact) -> str:
    return (
        f"{impact.email} is removed from mailmonitor and leaves "
        f"{_campaign_list(impact.campaigns)}.\n\n"
        f"{count(impact.contacted_leads, 'lead')} it already emailed "
        f"{verb(impact.contacted_leads, 'is', 'are')} set to Campaign Stopped (for good); "
        f"{count(impact.other_leads, 'other lead')} "
        f"{verb(impact.other_leads, 'moves', 'move')} to the campaigns' other "
        "mailboxes, or wait for one. Its history (sent emails, checks) is kept.\n\n"
        "To fix a password or an expired sign-in, use Reconnect instead: it keeps everything."
    )


def describe_removed(impact: Impact) -> str:
    """After Remove, what it did (the window's notice; removing cannot be undone: emailed
    leads are Campaign Stopped for good)."""
    return (f"Removed {impact.email} from mailmonitor: "
            f"{count(impact.contacted_leads, 'lead')} it had emailed "
            f"{verb(impact.contacted_leads, 'is', 'are')} Campaign Stopped, "
            f"{count(impact.other_leads, 'other lead')} went to the campaigns' other "
            f"mailboxes (or {verb(impact.other_leads, 'waits', 'wait')} for one). Its history "
            "is kept.")


@dataclass(frozen=True)
class AffectedMailbox:
    """A mailbox that keeps leads of a campaign from being emailed (the campaign banner, §4.3)."""

    account_id: int
    email: str
    status: str
    reason: str | None
    waiting_leads: int
    detached: bool  # disconnected by the rep (two-step): it left the campaign
    grace_until: datetime | None
    left_campaign: bool = False  # the rep took it out of the campaign; its emailed leads wait


def affected_mailboxes(campaign: Campaign) -> list[AffectedMailbox]:
    """Sending mailboxes that cannot send, and mailboxes that left the campaign while leads
    still wait for them; each with its number of waiting leads."""
    waiting = dict(
        Lead.select(Lead.mailbox, pw.fn.COUNT(Lead.id))
        .where((Lead.campaign == campaign) & (Lead.state == LeadState.HALTED)
               & Lead.mailbox.is_null(False))
        .group_by(Lead.mailbox).tuples()
    )
    members = campaign_accounts(campaign)
    member_ids = {a.id for a in members}
    broken = [a for a in members if a.status in BROKEN_STATUSES and a.removed_at is None]
    ids = {a.id for a in broken}
    others = [a for a in Account.select().where(Account.id.in_(list(waiting)))
              if a.id not in ids and a.removed_at is None
              and (a.status != Status.CONNECTED or a.id not in member_ids)]
    result = [
        AffectedMailbox(a.id, a.email, a.status, a.reason, int(waiting.get(a.id, 0)),
                        a.detached_at is not None, a.grace_until,
                        left_campaign=a.id not in member_ids and a.detached_at is None)
        for a in [*broken, *others]
    ]
    return sorted(result, key=lambda m: m.email)
