"""What the attention model reads: the state now, from the database, in a handful of queries.

`read_state(now)` returns an `attention.AttentionState`. It reads every live mailbox and campaign
in bulk (one query each, plus one per count), and the expensive facts (leads at risk, the stop's
deadline) only for the few mailboxes that are broken or inside a grace period: reconciling a
thousand mailboxes stays a few milliseconds when they are fine.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import peewee as pw

from mailmonitor.models import (
    Account,
    Campaign,
    CampaignMailbox,
    Check,
    DomainAuth,
    Lead,
    NotifyChannel,
    SendRecord,
    get_setting,
)
from mailmonitor.models.lead import FINAL_STATES
from mailmonitor.models.states import LeadState, SendState
from mailmonitor.services.alerts.attention import (
    AttentionState,
    CampaignFacts,
    CampaignLink,
    ChannelFacts,
    DomainFacts,
    MailboxFacts,
    Thresholds,
)
from mailmonitor.services.alerts.warnings import (
    PASSWORD_WARNING,
    SIGN_IN_WARNING,
    password_due,
    rep_time,
    sign_in_ends_at,
)
from mailmonitor.services.campaigns.stop_warnings import effective_stop_at, leads_at_risk
from mailmonitor.services.common.reasons import SENDING_REASONS, Status
from mailmonitor.services.monitoring import maintenance
from mailmonitor.services.monitoring.monitor import KEYRING_PROBLEM_SETTING
from mailmonitor.services.sending.reconcile import unknown_sends_words

RUNNING = ("active", "paused")


def thresholds() -> Thresholds:
    return Thresholds(
        min_failures=int(get_setting("attention_min_failures")),
        min_minutes=float(get_setting("attention_min_minutes")),
        cert_warning_days=int(get_setting("cert_warning_days")),
        sign_in_warning=SIGN_IN_WARNING, password_warning=PASSWORD_WARNING)


def _server(account: Account) -> str:
    host = account.smtp_host if account.reason in SENDING_REASONS else account.imap_host
    return str(host or account.imap_host or account.smtp_host or "").lower()


def _memberships() -> dict[int, list[tuple[int, str]]]:
    """The campaigns each mailbox sends for. A membership suspended by a two-step disconnect
    (inactive: it exists only inside the grace period) counts: the mailbox's card says what
    happens to those campaigns, and they get it back if it is connected again in time."""
    links: dict[int, list[tuple[int, str]]] = defaultdict(list)
    query = (CampaignMailbox.select(CampaignMailbox.account, Campaign.id, Campaign.name)
             .join(Campaign).where(Campaign.status.in_(RUNNING))
             .order_by(Campaign.name).tuples())
    for account_id, campaign_id, name in query:
        links[account_id].append((campaign_id, name))
    return links


def _halted() -> dict[tuple[int, int], int]:
    query = (Lead.select(Lead.mailbox, Lead.campaign, pw.fn.COUNT(Lead.id))
             .where(Lead.state == LeadState.HALTED).group_by(Lead.mailbox, Lead.campaign)
             .tuples())
    return {(mailbox, campaign): int(n) for mailbox, campaign, n in query if mailbox is not None}


def _unknown_sends() -> dict[int, tuple[int, str]]:
    accounts = {a for (a,) in SendRecord.select(SendRecord.account).distinct()
                .where(SendRecord.state == SendState.UNKNOWN).tuples()}
    found = {a: unknown_sends_words(a) for a in accounts}
    return {a: words for a, words in found.items() if words is not None}


def _failed_round_trips(accounts: dict[int, Account]) -> dict[int, Check]:
    latest = (Check.select(pw.fn.MAX(Check.id)).where(Check.trigger == "round_trip")
              .group_by(Check.account))
    found = {}
    for check in Check.select().where(Check.id.in_(latest) & (Check.status != "connected")):
        account = accounts.get(check.account_id)
        # A test before the mailbox was reconnected says nothing about it now.
        if account is None or (account.reconnected_at is not None
                               and check.checked_at <= account.reconnected_at):
            continue
        found[check.account_id] = check
    return found


def _grace_leads(account: Account) -> int:
    return int(Lead.select().where((Lead.mailbox == account)
                                   & Lead.state.not_in(FINAL_STATES)).count())


def _mailbox(account: Account, links: list[tuple[int, str]],
             halted: dict[tuple[int, int], int], halted_total: int, unknown: tuple[int, str] | None,
             round_trip: Check | None, muted: bool, now: datetime) -> MailboxFacts:
    campaign_links = tuple(CampaignLink(cid, name, halted.get((account.id, cid), 0))
                           for cid, name in links)
    broken = account.status == Status.DISCONNECTED.value or (
        account.detached_at is not None and not account.grace_expired)
    at_risk = leads_at_risk(account) if broken else 0
    detached = account.detached_at is not None and not account.grace_expired
    ends = sign_in_ends_at(account) if account.status == Status.CONNECTED.value else None
    rt_json: dict[str, object] = (round_trip.round_trip or {}) if round_trip is not None else {}
    return MailboxFacts(
        id=account.id, email=account.email, status=account.status, reason=account.reason,
        detail=account.detail or "", server=_server(account), since=account.status_since,
        transient_since=account.transient_since, failures=account.consecutive_failures or 0,
        was_broken=account.status == Status.WARNING.value
        and account.disconnected_since is not None,
        checked_at=account.checked_at, campaigns=campaign_links,
        halted=halted_total,
        at_risk=at_risk, stop_at=effective_stop_at(account) if at_risk else None,
        stop_warned=account.stop_warned_at is not None, detached=detached,
        grace_until=account.grace_until if detached else None,
        grace_leads=_grace_leads(account) if detached else 0,
        sign_in_ends=ends[0] if ends else None, sign_in_why=ends[1] if ends else "",
        password_due=password_due(account) if not account.is_oauth else None,
        rotation_days=account.password_rotation_days or get_setting("password_rotation_days"),
        cert_expires_at=account.cert_expires_at, send_limit_until=account.send_limit_until,
        send_problem_kind=account.send_problem_kind, send_problem=account.send_problem or "",
        send_problem_at=account.send_problem_at,
        unknown_sends=unknown[0] if unknown else 0, unknown_detail=unknown[1] if unknown else "",
        round_trip_label=str(rt_json.get("label") or "did not reach the Inbox")
        if round_trip is not None else None,
        round_trip_detail=round_trip.detail if round_trip is not None else "",
        round_trip_at=round_trip.checked_at if round_trip is not None else None,
        muted=muted)


def _campaigns(accounts: dict[int, Account]) -> list[CampaignFacts]:
    # Suspended memberships included (see `_memberships`): a campaign paused by a two-step
    # disconnect is explained by that mailbox's card. A detached mailbox is never usable.
    members: dict[int, list[int]] = defaultdict(list)
    for campaign_id, account_id in (CampaignMailbox.select(CampaignMailbox.campaign,
                                                           CampaignMailbox.account).tuples()):
        members[campaign_id].append(account_id)
    unassigned = dict(Lead.select(Lead.campaign, pw.fn.COUNT(Lead.id))
                      .where(Lead.state == LeadState.UNASSIGNED).group_by(Lead.campaign).tuples())
    flagged: dict[int, tuple[int, str]] = {}
    for lead in (Lead.select(Lead.campaign, Lead.email, Lead.flag)
                 .where(Lead.flag.is_null(False) & Lead.state.not_in(FINAL_STATES))
                 .order_by(Lead.updated_at)):
        n = flagged.get(lead.campaign_id, (0, ""))[0]
        flagged[lead.campaign_id] = (n + 1, f"{lead.email}: {lead.flag}")
    result = []
    for c in Campaign.select().where(Campaign.status.in_(RUNNING)):
        ids = tuple(members.get(c.id, ()))
        usable = any(a in accounts and accounts[a].status not in
                     (Status.DISCONNECTED.value, Status.STOPPED.value) for a in ids)
        result.append(CampaignFacts(
            id=c.id, name=c.name, status=c.status, pause_reason=c.pause_reason,
            pause_detail=c.pause_detail or "", paused_at=c.paused_at, mailbox_ids=ids,
            usable=usable, unassigned=int(unassigned.get(c.id, 0)),
            flagged=flagged.get(c.id, (0, ""))[0], flagged_latest=flagged.get(c.id, (0, ""))[1]))
    return result


def _domains() -> list[DomainFacts]:
    found = []
    for row in DomainAuth.select().where(DomainAuth.result.is_null(False)):
        findings = (row.result or {}).get("findings") or []
        problems = [f for f in findings if f.get("status") in ("missing", "wrong")]
        if not problems:
            continue
        found.append(DomainFacts(
            domain=row.domain, problems=" and ".join(f.get("name", "?") for f in problems),
            detail=" ".join(f"{f.get('summary', '')} {f.get('fix', '')}".strip()
                            for f in problems), checked_at=row.checked_at))
    return found


def _channels() -> list[ChannelFacts]:
    from mailmonitor.services.alerts.outbox import describe

    return [ChannelFacts(c.id, describe(c), c.last_error or "", c.last_error_at)
            for c in NotifyChannel.select().where(
                NotifyChannel.enabled & NotifyChannel.last_error.is_null(False)
                & (NotifyChannel.last_ok_at.is_null()
                   | (NotifyChannel.last_error_at > NotifyChannel.last_ok_at)))]


def read_state(now: datetime) -> AttentionState:
    accounts = {a.id: a for a in Account.select().where(Account.removed_at.is_null())}
    links = _memberships()
    halted = _halted()
    halted_total: dict[int, int] = defaultdict(int)
    for (mailbox, _), n in halted.items():
        halted_total[mailbox] += n
    unknown = _unknown_sends()
    round_trips = _failed_round_trips(accounts)
    windows = maintenance.active_windows(now)
    mailboxes = tuple(
        _mailbox(a, links.get(a.id, []), halted, halted_total[a.id], unknown.get(a.id),
                 round_trips.get(a.id),
                 maintenance.covers(windows, a.email), now)
        for a in accounts.values())
    keyring = get_setting(KEYRING_PROBLEM_SETTING) or None
    keyring_since = None
    if isinstance(keyring, dict):
        keyring_since = datetime.fromisoformat(keyring["since"]) if keyring.get("since") \
            else None
        keyring = keyring.get("text")
    return AttentionState(
        now=now, mailboxes=mailboxes, campaigns=tuple(_campaigns(accounts)),
        domains=tuple(_domains()), channels=tuple(_channels()),
        keyring_problem=keyring or None, keyring_since=keyring_since,
        everything_muted=maintenance.covers_everything(windows),
        thresholds=thresholds(), time_words=rep_time)


def reminder_interval() -> timedelta | None:
    hours = get_setting("reminder_hours")
    return timedelta(hours=float(hours)) if hours else None
