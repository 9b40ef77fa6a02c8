"""Re-allocating leads of broken mailboxes to a campaign's connected ones (spec §4.5)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import peewee as pw

from mailmonitor.events import LEADS_CHANGED, bus
from mailmonitor.models import Account, Campaign, Lead, db, is_postgres
from mailmonitor.models.states import BROKEN_STATUSES, OPEN_STATES, LeadState, Status
from mailmonitor.services.campaigns.rules import (
    CampaignError,
    auto_resume_if_possible,
    campaign_accounts,
)
from mailmonitor.services.common.capacity import daily_cap, remaining_capacity
from mailmonitor.services.common.rep_day import rep_today
from mailmonitor.wording import count, verb

CHUNK = 5000  # ids per UPDATE: under the bound-parameter limit of SQLite (32766) and others


@dataclass
class ReallocationPlan:
    campaign_id: int
    moves: dict[int, list[int]] = field(default_factory=dict)  # target account id -> lead ids
    kept_contacted: int = 0  # contacted leads that stay with their mailbox

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self.moves.values())

    def counts(self) -> dict[int, int]:
        return {account_id: len(ids) for account_id, ids in self.moves.items()}

    def words(self) -> str:
        """What it did, for the command line and the window: "Moved 4 leads: 3 to
        ava@…, 1 to ben@…; 2 contacted leads kept their mailbox"."""
        emails = dict(Account.select(Account.id, Account.email).where(
            Account.id.in_(list(self.moves) or [0])).tuples())
        parts = [f"{n:,} to {emails.get(a, '?')}" for a, n in self.counts().items()]
        text = f"Moved {count(self.total, 'lead')}" + (": " + ", ".join(parts) if parts else "")
        if self.kept_contacted:
            n = self.kept_contacted
            text += (f"; {count(n, 'contacted lead')} kept {verb(n, 'its', 'their')} "
                     "mailbox")
        return text


def split_by_capacity(count: int, capacities: dict[int, int], weights_if_full: dict[int, int]
                      ) -> dict[int, int]:
    """Share `count` items among targets in proportion to their remaining capacity (largest
    remainder, so the parts always add up). With no capacity left anywhere, use the fallback
    weights (daily caps) so the leads are still spread evenly for the coming days."""
    weights = capacities if sum(capacities.values()) > 0 else weights_if_full
    if sum(weights.values()) <= 0:
        weights = dict.fromkeys(capacities, 1)
    total = sum(weights.values())
    exact = {k: count * w / total for k, w in weights.items()}
    shares = {k: int(v) for k, v in exact.items()}
    left = count - sum(shares.values())
    for k in sorted(exact, key=lambda k: (exact[k] - shares[k], weights[k]), reverse=True)[:left]:
        shares[k] += 1
    return shares


def connected_targets(campaign: Campaign) -> list[Account]:
    return [a for a in campaign_accounts(campaign)
            if a.status == Status.CONNECTED and a.removed_at is None]


def leads_to_move(campaign: Campaign, include_contacted: bool,
                  sources: Collection[int] | None = None) -> tuple[list[int], int]:
    """Ids of leads whose mailbox cannot send, left the campaign, or who have none; and how many
    contacted leads stay because their follow-ups must come from the same address. With
    `sources`, only leads of those mailboxes are considered."""
    fresh, contacted, kept = _split_contacted(_movable_where(campaign, sources),
                                              include_contacted)
    return fresh + contacted, kept


def _split_contacted(where: Any, include_contacted: bool) -> tuple[list[int], list[int], int]:
    """(never-emailed lead ids, contacted lead ids to move, contacted leads that stay)."""
    query = Lead.select(Lead.id, Lead.messages_sent).where(where).order_by(Lead.id)
    fresh: list[int] = []
    contacted: list[int] = []
    kept = 0
    # A plain cursor: peewee's per-row processing would cost more than the query itself.
    for lead_id, sent in db.execute(query):
        if not sent:
            fresh.append(lead_id)
        elif include_contacted:
            contacted.append(lead_id)
        else:
            kept += 1
    return fresh, contacted, kept


def _movable_where(campaign: Campaign, sources: Collection[int] | None) -> Any:
    staying = [a.id for a in campaign_accounts(campaign)
               if a.status not in BROKEN_STATUSES and a.removed_at is None]
    where = (
        (Lead.campaign == campaign)
        & Lead.state.in_(OPEN_STATES)
        & (Lead.mailbox.is_null() | Lead.mailbox.not_in(staying))
    )
    if sources is not None:
        where &= Lead.mailbox.in_(list(sources))
    return where


def _share_out(plan: ReallocationPlan, lead_ids: list[int], targets: list[Account],
               now: datetime, capacities: dict[int, int]) -> None:
    caps = {a.id: daily_cap(a, rep_today(now)) for a in targets}
    shares = split_by_capacity(len(lead_ids), {a.id: capacities[a.id] for a in targets}, caps)
    start = 0
    for account in targets:
        n = shares[account.id]
        if n:
            plan.moves.setdefault(account.id, []).extend(lead_ids[start:start + n])
            capacities[account.id] = max(0, capacities[account.id] - n)
        start += n


def plan_reallocation(campaign: Campaign, now: datetime, include_contacted: bool = False,
                      sources: Collection[int] | None = None) -> ReallocationPlan:
    targets = connected_targets(campaign)
    if not targets:
        raise CampaignError(
            f"Campaign “{campaign.name}” has no connected mailbox to move leads to: add and "
            "connect a mailbox first."
        )
    fresh, contacted, kept = _split_contacted(_movable_where(campaign, sources),
                                              include_contacted)
    capacities = remaining_capacity(targets, now)
    plan = ReallocationPlan(campaign.id, kept_contacted=kept)
    # §5: an address that came back after its grace period gets only never-emailed leads.
    for_contacted = [a for a in targets if a.rejoined_at is None]
    if contacted and not for_contacted:
        plan.kept_contacted += len(contacted)
        contacted = []
    if contacted:
        _share_out(plan, contacted, for_contacted, now, capacities)
    _share_out(plan, fresh, targets, now, capacities)
    return plan


def apply_reallocation(plan: ReallocationPlan, now: datetime) -> int:
    """Move the leads. Contacted leads keep their cursor and history; they continue from the new
    mailbox (a new thread, since the old address cannot send)."""
    state = pw.Case(None, [(Lead.cursor > 0, LeadState.ACTIVE)], LeadState.PENDING)
    with db.atomic():
        for account_id, ids in plan.moves.items():
            for i in range(0, len(ids), CHUNK):
                Lead.update(mailbox=account_id, state=state, updated_at=now).where(
                    id_in(Lead.id, ids[i:i + CHUNK])).execute()
        campaign = Campaign.get_by_id(plan.campaign_id)
        auto_resume_if_possible(campaign, now)
    bus.emit(LEADS_CHANGED, plan.campaign_id)
    return plan.total


def id_in(field: pw.Field, ids: list[int]) -> pw.Node:
    """`field IN (?, ?, …)` with the ids as parameters; on PostgreSQL `field = ANY(array)`, one
    parameter (an IN list of thousands is planned slowly there). `field.in_(ids)` would build one
    query node per id, which was most of the time of applying 100,000 moves."""
    if is_postgres(db.obj):
        return pw.NodeList((field, pw.SQL("= ANY(%s)", [list(ids)])))
    return pw.NodeList((field, pw.SQL("IN (" + ", ".join([db.param] * len(ids)) + ")", ids)))


def reallocate(campaign: Campaign, now: datetime, include_contacted: bool = False
               ) -> ReallocationPlan:
    plan = plan_reallocation(campaign, now, include_contacted)
    apply_reallocation(plan, now)
    return plan
