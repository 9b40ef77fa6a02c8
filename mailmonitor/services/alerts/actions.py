"""Which buttons an alert offers (issue 11): only actions that can succeed now.

- Reconnect — for an alert about a mailbox that cannot send, and for a campaign paused because
  its mailboxes broke (the first broken one of them: reconnecting it resumes the campaign);
- Re-allocate… — when the campaign has a connected mailbox to move the waiting leads to;
- Add a mailbox… — when none of the campaign's mailboxes is connected, so nothing could take
  the leads (re-allocating would only refuse);
- Resume sending — instead of Reconnect for a mailbox paused for its sending (high bounce rate,
  refused as spam): its sign-in works, so only the rep's resume helps.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailmonitor.models import Account, Alert, Campaign
from mailmonitor.services.campaigns.rules import BROKEN_STATUSES, campaign_accounts
from mailmonitor.services.common.reasons import SENDING_REASONS, Status

RECONNECT = "reconnect"
REALLOCATE = "reallocate"
ADD_MAILBOX = "add_mailbox"
RESUME_SENDING = "resume_sending"

ACCOUNT_KINDS = ("account_disconnected", "account_reminder", "grace_ending", "leads_halted",
                 "leads_stopping")
CAMPAIGN_KINDS = ("leads_halted", "campaign_paused")
LABELS = {RECONNECT: "Reconnect", REALLOCATE: "Re-allocate…",
          ADD_MAILBOX: "Add a mailbox to this campaign…", RESUME_SENDING: "Resume sending"}


@dataclass(frozen=True)
class AlertAction:
    name: str  # RECONNECT, REALLOCATE, ADD_MAILBOX or RESUME_SENDING
    target_id: int  # the account (Reconnect) or the campaign (the others)
    primary: bool = False

    @property
    def label(self) -> str:
        return LABELS[self.name]


def _broken(account: Account | None) -> bool:
    return account is not None and account.removed_at is None \
        and account.status in BROKEN_STATUSES


def _fix_for(account: Account) -> AlertAction:
    """What gets a broken mailbox sending again: signing in, or the rep's resume of a hold."""
    name = RESUME_SENDING if account.reason in SENDING_REASONS else RECONNECT
    return AlertAction(name, account.id, primary=True)


def actions_for(alert: Alert) -> list[AlertAction]:
    actions: list[AlertAction] = []
    account = Account.get_or_none(Account.id == alert.account_id) \
        if alert.account_id is not None else None
    campaign = Campaign.get_or_none(Campaign.id == alert.campaign_id) \
        if alert.campaign_id is not None else None
    if alert.kind in ACCOUNT_KINDS and _broken(account):
        assert account is not None
        actions.append(_fix_for(account))
    if campaign is None or alert.kind not in CAMPAIGN_KINDS:
        return actions
    members = campaign_accounts(campaign)
    if alert.kind == "campaign_paused" and not actions:
        broken = next((a for a in members if _broken(a)), None)
        if broken is not None:
            actions.append(_fix_for(broken))
    if any(a.status == Status.CONNECTED.value and a.removed_at is None for a in members):
        actions.append(AlertAction(REALLOCATE, campaign.id))
    else:
        actions.append(AlertAction(ADD_MAILBOX, campaign.id, primary=not actions))
    return actions
