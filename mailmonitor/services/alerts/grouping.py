"""The alerts list as the rep reads it: one card per mailbox that needs something, with the
campaigns it affects nested inside, most severe first.

Several open alerts usually share one cause (a mailbox disconnected → its "disconnected" alert,
one "leads are waiting" alert per campaign, a "campaign paused" alert for a campaign it was the
only mailbox of). They become one :class:`AlertGroup`: a title and body in plain words from the
reasons table, the server's raw answer kept apart as ``details``, the nested campaign lines, and
one set of actions. Which actions: only those that can succeed now, as `actions.actions_for`
decides them for each alert of the card — Reconnect (or Resume sending for a mailbox held for
its sending) on the card, Re-allocate… or Add a mailbox to this campaign… on each campaign line —
plus Dismiss. Alerts about a campaign alone join the card of the broken mailbox they are about; a
campaign with no broken mailbox gets its own card. Qt-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mailmonitor.models import Account, Alert, Campaign
from mailmonitor.models.campaign import CampaignMailbox
from mailmonitor.services.alerts.actions import ADD_MAILBOX, REALLOCATE, actions_for
from mailmonitor.services.common.reasons import (
    REASONS,
    SENDING_REASONS,
    Status,
    advice_for,
    label_for,
)

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
BROKEN = (Status.DISCONNECTED.value, Status.STOPPED.value, Status.WARNING.value)
CAMPAIGN_ACTIONS = (REALLOCATE, ADD_MAILBOX)  # offered on a campaign's line


@dataclass
class CampaignLine:
    campaign_id: int
    name: str
    notes: list[str] = field(default_factory=list)  # "paused: no mailbox can send", …

    @property
    def text(self) -> str:
        return f"“{self.name}”: " + "; ".join(self.notes)


@dataclass
class AlertGroup:
    key: str  # "account:<id>" or "campaign:<id>"
    severity: str
    title: str
    body: str  # plain words: what it means and what to do
    details: str  # the server's exact answer (raw), shown only under Details
    account_id: int | None
    campaigns: list[CampaignLine]
    # card level: "reconnect" or "resume_sending", "went_out", "send_again", "dismiss"
    actions: list[str]
    reallocate: list[int]  # campaigns whose line offers Re-allocate…
    alert_keys: list[str]  # Dismiss resolves all of them
    updated_at: datetime
    extra: list[str] = field(default_factory=list)  # other things about the same mailbox
    # the account each card-level fix ("reconnect", "resume_sending") acts on
    targets: dict[str, int] = field(default_factory=dict)
    # campaign → the action its line offers ("reallocate" or "add_mailbox")
    campaign_actions: dict[int, str] = field(default_factory=dict)

    @property
    def signature(self) -> tuple[object, ...]:
        """Changes when what the card shows changes (the view rebuilds only those cards)."""
        return (self.severity, self.title, self.body, self.details, tuple(self.actions),
                tuple(sorted(self.targets.items())), tuple(c.text for c in self.campaigns),
                tuple(self.reallocate), tuple(sorted(self.campaign_actions.items())),
                tuple(self.extra))


def _rank(severity: str) -> int:
    return SEVERITY_RANK.get(severity, 1)


def _worst(alerts: list[Alert]) -> str:
    return min((a.severity for a in alerts), key=_rank, default="info")


def _broken_accounts_of(campaign_id: int, accounts: dict[int, Account]) -> list[int]:
    links = CampaignMailbox.select(CampaignMailbox.account).where(
        CampaignMailbox.campaign == campaign_id).order_by(CampaignMailbox.id)
    return [link.account_id for link in links
            if link.account_id in accounts and accounts[link.account_id].status in BROKEN]


def group_alerts(alerts: list[Alert]) -> list[AlertGroup]:
    """Open alerts → cards, most severe first, then the most recent, then by address."""
    account_ids = {a.account_id for a in alerts if a.account_id is not None}
    campaign_ids = {a.campaign_id for a in alerts if a.campaign_id is not None}
    accounts = {a.id: a for a in Account.select().where(
        (Account.id.in_(account_ids)) | Account.status.in_(BROKEN))} if alerts else {}
    campaigns = {c.id: c for c in Campaign.select().where(Campaign.id.in_(campaign_ids))} \
        if campaign_ids else {}

    by_key: dict[str, list[Alert]] = {}
    for alert in alerts:
        if alert.account_id is not None:
            key = f"account:{alert.account_id}"
        elif alert.campaign_id is not None:
            broken = _broken_accounts_of(alert.campaign_id, accounts)
            key = f"account:{broken[0]}" if broken else f"campaign:{alert.campaign_id}"
        else:
            key = f"alert:{alert.id}"
        by_key.setdefault(key, []).append(alert)

    groups = [_group(key, members, accounts, campaigns) for key, members in by_key.items()]
    groups.sort(key=lambda g: (_rank(g.severity), -g.updated_at.timestamp(), g.title))
    return groups


def _campaign_lines(members: list[Alert], campaigns: dict[int, Campaign]) -> list[CampaignLine]:
    lines: dict[int, CampaignLine] = {}
    for alert in sorted(members, key=lambda a: a.id):
        if alert.campaign_id is None or alert.campaign_id not in campaigns:
            continue
        campaign = campaigns[alert.campaign_id]
        line = lines.setdefault(campaign.id, CampaignLine(campaign.id, campaign.name))
        if alert.kind == "campaign_paused":
            line.notes.insert(0, "paused: no mailbox can send")
        elif alert.kind == "leads_halted":
            waiting = alert.title.split(" ", 1)[0]
            count = int(waiting) if waiting.isdigit() else 0
            line.notes.append(f"{count} lead{'s' if count != 1 else ''} wait"
                              f"{'' if count != 1 else 's'} at their step"
                              if count else "leads wait at their step")
        else:
            line.notes.append(alert.title)
    return sorted(lines.values(), key=lambda line: line.name.lower())


def _group(key: str, members: list[Alert], accounts: dict[int, Account],
           campaigns: dict[int, Campaign]) -> AlertGroup:
    severity = _worst(members)
    updated = max(a.updated_at for a in members)
    lines = _campaign_lines(members, campaigns)
    keys = [a.key for a in members]
    account = accounts.get(int(key.split(":")[1])) if key.startswith("account:") else None
    kinds = {a.kind for a in members}
    actions: list[str] = []
    title, body, details = _words(account, members)
    # Only what can succeed now (`actions.actions_for`), for the card and for each campaign.
    targets: dict[str, int] = {}
    campaign_actions: dict[int, str] = {}
    shown = {line.campaign_id for line in lines}
    for alert in sorted(members, key=lambda a: a.id):
        for action in actions_for(alert):
            if action.name in CAMPAIGN_ACTIONS:
                if action.target_id in shown:
                    campaign_actions.setdefault(action.target_id, action.name)
            elif action.name not in targets:
                targets[action.name] = action.target_id
                actions.append(action.name)
    if "send_unknown" in kinds:
        actions += ["went_out", "send_again"]
    actions.append("dismiss")
    reallocate = [line.campaign_id for line in lines
                  if campaign_actions.get(line.campaign_id) == REALLOCATE]
    covered = {"account_disconnected", "leads_halted", "campaign_paused"}
    extra = [a.title for a in sorted(members, key=lambda a: (_rank(a.severity), a.id))
             if a.kind not in covered and a.title != title]
    return AlertGroup(key, severity, title, body, details,
                      account.id if account is not None else None, lines, actions, reallocate,
                      keys, updated, extra, targets, campaign_actions)


def _words(account: Account | None, members: list[Alert]) -> tuple[str, str, str]:
    """Title, body and raw details of a card."""
    if account is not None and account.status == Status.DISCONNECTED.value:
        info = REASONS.get(account.reason or "")
        held = account.reason in SENDING_REASONS  # its sign-in works; only a resume helps
        what = "stopped sending" if held else "is disconnected"
        title = f"{account.email} {what}: {label_for(account.status, account.reason)}"
        body = advice_for(account.reason, account.detail or "") if info is not None \
            else "Reconnect it to continue sending."
        return title, body + _halt_note(members, held), account.detail or ""
    if account is not None and account.status == Status.WARNING.value:
        info = REASONS.get(account.reason or "")
        title = f"{account.email}: {label_for(account.status, account.reason)}"
        body = info.advice if info is not None else "mailmonitor keeps retrying by itself."
        return title, body, account.detail or ""
    main = min(members, key=lambda a: (_rank(a.severity), -a.updated_at.timestamp()))
    if main.kind == "campaign_paused" and account is None:
        return main.title, main.message, ""
    return main.title, main.message + (_halt_note(members) if account is not None else ""), ""


def _halt_note(members: list[Alert], held: bool = False) -> str:
    if any(a.kind in ("leads_halted", "campaign_paused") for a in members):
        return (" Its leads keep their place and continue where they left off once "
                + ("sending is resumed." if held else "it is reconnected."))
    return ""
