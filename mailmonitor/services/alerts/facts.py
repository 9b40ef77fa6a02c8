"""What the attention model reads: the state now, from the database, in a handful of queries.

`read_state(now)` returns an `attention.AttentionState`. It reads every live mailbox and campaign
in bulk (one query each, plus one per count), and the expensive facts (leads at risk, the stop's
deadline) only for the few mailboxes that are broken or inside a grace period: reconciling a
thousand mailboxes stays a few milliseconds when they are fine.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
from mailmonitor.models.fast_sql import Statement
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
from mailmonitor.services.alerts.radar import live_changes, policy_mailboxes
from mailmonitor.services.alerts.warnings import (
    PASSWORD_WARNING,
    SIGN_IN_WARNING,
    rep_time,
    sign_in_ends_at,
)
from mailmonitor.services.campaigns.stop_warnings import effective_stop_at
from mailmonitor.services.common.reasons import SENDING_REASONS, Status
from mailmonitor.services.monitoring import maintenance
from mailmonitor.services.monitoring.monitor import KEYRING_PROBLEM_SETTING

RUNNING = ("active", "paused")


def thresholds() -> Thresholds:
    return Thresholds(
        min_failures=int(get_setting("attention_min_failures")),
        min_minutes=float(get_setting("attention_min_minutes")),
        cert_warning_days=int(get_setting("cert_warning_days")),
        sign_in_warning=SIGN_IN_WARNING, password_warning=PASSWORD_WARNING,
        policy_warning_days=int(get_setting("policy_warning_days")))


# Which running campaign each mailbox sends for: rendered once (the live mailboxes are a few
# hundred ids at most; matching them here costs less than rendering them into the query).
_MEMBERSHIPS = Statement(lambda p: CampaignMailbox.select(
    CampaignMailbox.account, Campaign.id, Campaign.name).join(Campaign)
    .where(Campaign.status.in_([p("active", Campaign.status), p("paused", Campaign.status)]))
    .order_by(Campaign.name))


def _memberships(ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    """The campaigns each mailbox sends for. A membership suspended by a two-step disconnect
    (inactive: it exists only inside the grace period) counts: the mailbox's card says what
    happens to those campaigns, and they get it back if it is connected again in time."""
    links: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if not ids:
        return links
    wanted = set(ids)
    for account_id, campaign_id, name in _MEMBERSHIPS.execute(
            active=RUNNING[0], paused=RUNNING[1]).fetchall():
        if account_id in wanted:
            links[account_id].append((campaign_id, name))
    return links


def _waiting() -> tuple[dict[tuple[int, int], int], dict[int, int]]:
    """The halted leads per (mailbox, campaign) and the unassigned ones per campaign, in one
    query read from the lead index (state, mailbox, campaign) alone."""
    halted: dict[tuple[int, int], int] = {}
    unassigned: dict[int, int] = defaultdict(int)
    query = (Lead.select(Lead.state, Lead.mailbox, Lead.campaign, pw.fn.COUNT(Lead.id))
             .where(Lead.state.in_((LeadState.HALTED, LeadState.UNASSIGNED)))
             .group_by(Lead.state, Lead.mailbox, Lead.campaign).tuples())
    for state, mailbox, campaign, n in query:
        if state == LeadState.UNASSIGNED:
            unassigned[campaign] += int(n)
        elif mailbox is not None:
            halted[(mailbox, campaign)] = int(n)
    return halted, unassigned


def _unknown_sends() -> dict[int, tuple[int, str]]:
    accounts = {a for (a,) in SendRecord.select(SendRecord.account).distinct()
                .where(SendRecord.state == SendState.UNKNOWN).tuples()}
    if not accounts:  # the usual case: the sending engine (its IMAP client) stays unloaded
        return {}
    from mailmonitor.services.sending.reconcile import unknown_sends_words

    found = {a: unknown_sends_words(a) for a in accounts}
    return {a: words for a, words in found.items() if words is not None}


def _failed_round_trips() -> dict[int, Check]:
    """The latest test email of each mailbox, where it missed the Inbox."""
    latest = (Check.select(pw.fn.MAX(Check.id)).where(Check.trigger == "round_trip")
              .group_by(Check.account))
    return {c.account_id: c for c in Check.select().where(
        Check.id.in_(latest) & (Check.status != "connected"))}


# The columns the model reads of every mailbox (a healthy one costs one tuple, not a model).
_COLUMNS = (Account.id, Account.email, Account.status, Account.reason, Account.detail,
            Account.imap_host, Account.smtp_host, Account.status_since, Account.transient_since,
            Account.consecutive_failures, Account.checked_at, Account.auth_method,
            Account.detached_at, Account.grace_expired, Account.cert_expires_at,
            Account.send_limit_until, Account.send_problem_kind, Account.send_problem,
            Account.send_problem_at, Account.password_rotation_days, Account.secret_set_at,
            Account.created_at, Account.reconnected_at, Account.disconnected_since)


def _per_mailbox(query: pw.ModelSelect) -> dict[int, int]:
    return {mailbox: int(n) for mailbox, n in query.tuples() if mailbox is not None}


def _leads_at_risk(ids: list[int]) -> dict[int, int]:
    """Per mailbox: its open leads that already received its email (a stop ends them)."""
    if not ids:
        return {}
    contacted = SendRecord.select(SendRecord.id).where(
        (SendRecord.lead == Lead.id) & (SendRecord.account == Lead.mailbox)
        & SendRecord.state.in_(("sent", "sending", "unknown")))
    return _per_mailbox(Lead.select(Lead.mailbox, pw.fn.COUNT(Lead.id)).where(
        Lead.mailbox.in_(ids) & Lead.state.not_in(FINAL_STATES) & pw.fn.EXISTS(contacted))
        .group_by(Lead.mailbox))


def _open_leads(ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    return _per_mailbox(Lead.select(Lead.mailbox, pw.fn.COUNT(Lead.id)).where(
        Lead.mailbox.in_(ids) & Lead.state.not_in(FINAL_STATES)).group_by(Lead.mailbox))


def _server(row: Any) -> str:
    host = row.smtp_host if row.reason in SENDING_REASONS else row.imap_host
    return str(host or row.imap_host or row.smtp_host or "").lower()


@dataclass
class _Context:
    now: datetime
    links: dict[int, list[tuple[int, str]]]
    halted: dict[tuple[int, int], int]
    halted_total: dict[int, int]
    unknown: dict[int, tuple[int, str]]
    round_trips: dict[int, Check]
    windows: list[maintenance.Window]
    full: dict[int, Account]  # the few mailboxes whose rules need the whole row
    at_risk: dict[int, int]
    open_leads: dict[int, int]
    team_rotation: int | None


def _mailbox(row: Any, ctx: _Context) -> MailboxFacts:
    campaign_links = tuple(CampaignLink(cid, name, ctx.halted.get((row.id, cid), 0))
                           for cid, name in ctx.links.get(row.id, ()))
    detached = row.detached_at is not None and not row.grace_expired
    full = ctx.full.get(row.id)
    at_risk = ctx.at_risk.get(row.id, 0)
    stop_at = effective_stop_at(full) if full is not None and at_risk else None
    ends = sign_in_ends_at(full) if full is not None \
        and row.status == Status.CONNECTED.value else None
    oauth = row.auth_method == "oauth2"
    rotation = None if oauth else (row.password_rotation_days or ctx.team_rotation)
    changed = row.secret_set_at or row.created_at
    round_trip = ctx.round_trips.get(row.id)
    rt_json: dict[str, object] = (round_trip.round_trip or {}) if round_trip is not None else {}
    unknown = ctx.unknown.get(row.id)
    return MailboxFacts(
        id=row.id, email=row.email, status=row.status, reason=row.reason,
        detail=row.detail or "", server=_server(row), since=row.status_since,
        transient_since=row.transient_since, failures=row.consecutive_failures or 0,
        was_broken=row.status == Status.WARNING.value and row.disconnected_since is not None,
        checked_at=row.checked_at, campaigns=campaign_links,
        halted=ctx.halted_total.get(row.id, 0), at_risk=at_risk, stop_at=stop_at,
        stop_warned=full is not None and full.stop_warned_at is not None, detached=detached,
        grace_until=full.grace_until if detached and full is not None else None,
        grace_leads=ctx.open_leads.get(row.id, 0) if detached else 0,
        sign_in_ends=ends[0] if ends else None, sign_in_why=ends[1] if ends else "",
        password_due=changed + timedelta(days=int(rotation)) if rotation and changed else None,
        rotation_days=int(rotation) if rotation else None,
        cert_expires_at=row.cert_expires_at, send_limit_until=row.send_limit_until,
        send_problem_kind=row.send_problem_kind, send_problem=row.send_problem or "",
        send_problem_at=row.send_problem_at,
        unknown_sends=unknown[0] if unknown else 0, unknown_detail=unknown[1] if unknown else "",
        round_trip_label=str(rt_json.get("label") or "did not reach the Inbox")
        if round_trip is not None else None,
        round_trip_detail=round_trip.detail if round_trip is not None else "",
        round_trip_at=round_trip.checked_at if round_trip is not None else None,
        muted=maintenance.covers(ctx.windows, row.email))


def _campaigns(unassigned: dict[int, int]) -> list[CampaignFacts]:
    running = list(Campaign.select(Campaign.id, Campaign.name, Campaign.status,
                                   Campaign.pause_reason, Campaign.pause_detail,
                                   Campaign.paused_at)
                   .where(Campaign.status.in_(RUNNING)).namedtuples())
    if not running:
        return []
    usable = {c for (c,) in CampaignMailbox.select(CampaignMailbox.campaign).distinct()
              .join(Account).where(CampaignMailbox.active & Account.removed_at.is_null()
                                   & Account.status.not_in((Status.DISCONNECTED.value,
                                                            Status.STOPPED.value))).tuples()}
    paused = [c.id for c in running if c.status == "paused"]
    members: dict[int, list[int]] = defaultdict(list)
    if paused:  # which mailboxes explain a pause (suspended memberships included: a
        # campaign paused by a two-step disconnect is explained by that mailbox's card)
        for campaign_id, account_id in (CampaignMailbox.select(CampaignMailbox.campaign,
                                                               CampaignMailbox.account)
                                        .where(CampaignMailbox.campaign.in_(paused))
                                        .tuples()):
            members[campaign_id].append(account_id)
    flagged: dict[int, tuple[int, str]] = {}
    for campaign_id, email, flag in (Lead.select(Lead.campaign, Lead.email, Lead.flag)
                                     .where(Lead.flag.is_null(False)
                                            & Lead.state.not_in(FINAL_STATES))
                                     .order_by(Lead.updated_at).tuples()):
        n = flagged.get(campaign_id, (0, ""))[0]
        flagged[campaign_id] = (n + 1, f"{email}: {flag}")
    return [CampaignFacts(
        id=c.id, name=c.name, status=c.status, pause_reason=c.pause_reason,
        pause_detail=c.pause_detail or "", paused_at=c.paused_at,
        mailbox_ids=tuple(members.get(c.id, ())), usable=c.id in usable,
        unassigned=int(unassigned.get(c.id, 0)), flagged=flagged.get(c.id, (0, ""))[0],
        flagged_latest=flagged.get(c.id, (0, ""))[1]) for c in running]


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
    failing = list(NotifyChannel.select().where(
        NotifyChannel.enabled & NotifyChannel.last_error.is_null(False)
        & (NotifyChannel.last_ok_at.is_null()
           | (NotifyChannel.last_error_at > NotifyChannel.last_ok_at))))
    if not failing:  # the usual case: the senders (requests, smtplib's) stay unloaded
        return []
    from mailmonitor.services.alerts.outbox import describe

    return [ChannelFacts(c.id, describe(c), c.last_error or "", c.last_error_at)
            for c in failing]


def _worth_reading(now: datetime, extra_ids: set[int], domains: list[str],
                   team_rotation: int | None) -> pw.Expression:
    """Which mailboxes can give a condition: a healthy, connected mailbox with nothing ahead of
    it gives none, so a thousand of them cost one index scan, not a thousand rows."""
    days = int(get_setting("cert_warning_days"))
    worth = ((Account.status != Status.CONNECTED.value) | (Account.auth_method == "oauth2")
             | Account.send_problem_kind.is_null(False) | Account.detached_at.is_null(False)
             | Account.send_limit_until.is_null(False)
             | (Account.cert_expires_at <= now + timedelta(days=days))
             | Account.password_rotation_days.is_null(False))
    if team_rotation:
        worth |= Account.auth_method != "oauth2"
    if extra_ids:
        worth |= Account.id.in_(list(extra_ids))
    for domain in domains:
        worth |= pw.fn.LOWER(Account.email).endswith("@" + domain)
    return Account.removed_at.is_null() & worth


def read_state(now: datetime) -> AttentionState:
    team = get_setting("password_rotation_days")
    team_rotation = int(team) if team else None
    domains = _domains()
    unknown = _unknown_sends()
    round_trips = _failed_round_trips()
    rows = list(Account.select(*_COLUMNS).where(_worth_reading(
        now, set(unknown) | set(round_trips), [d.domain for d in domains], team_rotation))
        .namedtuples())
    # A test email before the mailbox was reconnected says nothing about it now.
    reconnected = {r.id: r.reconnected_at for r in rows}
    round_trips = {a: c for a, c in round_trips.items()
                   if reconnected.get(a) is None or c.checked_at > reconnected[a]}
    special = [r.id for r in rows
               if r.status == Status.DISCONNECTED.value or r.auth_method == "oauth2"
               or (r.detached_at is not None and not r.grace_expired)]
    full = {a.id: a for a in Account.select().where(Account.id.in_(special))} if special \
        else {}
    at_risk_of = [i for i in special if full[i].status == Status.DISCONNECTED.value
                  or full[i].detached_at is not None]
    halted, unassigned = _waiting()
    halted_total: dict[int, int] = defaultdict(int)
    for (mailbox, _), n in halted.items():
        halted_total[mailbox] += n
    ctx = _Context(
        now=now, links=_memberships([r.id for r in rows]), halted=halted,
        halted_total=halted_total, unknown=unknown, round_trips=round_trips,
        windows=maintenance.active_windows(now), full=full,
        at_risk=_leads_at_risk(at_risk_of),
        open_leads=_open_leads([i for i in special if full[i].detached_at is not None]),
        team_rotation=team_rotation)
    mailboxes = tuple(_mailbox(r, ctx) for r in rows)
    keyring = get_setting(KEYRING_PROBLEM_SETTING) or None
    keyring_since = None
    if isinstance(keyring, dict):
        keyring_since = datetime.fromisoformat(keyring["since"]) if keyring.get("since") \
            else None
        keyring = keyring.get("text")
    limits = thresholds()
    changes = live_changes(now.date(), limits.policy_warning_days)
    details = {r.id: r.detail or "" for r in rows if r.status != Status.CONNECTED.value}
    return AttentionState(
        now=now, mailboxes=mailboxes, campaigns=tuple(_campaigns(unassigned)),
        domains=tuple(domains),
        channels=tuple(_channels()), keyring_problem=keyring or None,
        keyring_since=keyring_since,
        everything_muted=maintenance.covers_everything(ctx.windows),
        thresholds=limits, time_words=rep_time, changes=changes,
        policy_mailboxes=policy_mailboxes(
            details, lambda email: maintenance.covers(ctx.windows, email), changes))


def reminder_interval() -> timedelta | None:
    hours = get_setting("reminder_hours")
    return timedelta(hours=float(hours)) if hours else None
