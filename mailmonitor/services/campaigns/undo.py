"""Undo for the rep's last move of leads (issue 23: safe actions): a re-allocation, or taking a
mailbox out of a campaign. The window offers Undo for a few seconds after either; undoing puts
back every lead nothing has touched since (no email went out to it, nothing else moved it) and,
for a removal, the mailbox into the campaign. A lead that got an email from its new mailbox
meanwhile stays there: its thread continues from that address now.

Removing a mailbox from mailmonitor is not undone here: its emailed leads become Campaign
Stopped, which is irreversible (spec §5)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from mailmonitor.events import CAMPAIGN_CHANGED, LEADS_CHANGED, bus
from mailmonitor.models import Account, Campaign, CampaignMailbox, Lead, account_by_email, db
from mailmonitor.models.states import OPEN_STATES
from mailmonitor.services.campaigns.editing import CampaignEdit, EditReport, edit_campaign
from mailmonitor.services.campaigns.reallocation import (
    ReallocationPlan,
    apply_reallocation,
    id_in,
)
from mailmonitor.services.campaigns.rules import auto_pause_if_no_mailbox, auto_resume_if_possible
from mailmonitor.services.common.validation import normalize_email
from mailmonitor.wording import count, verb

CHUNK = 500


@dataclass(frozen=True)
class LeadsBefore:
    """The leads a change moves, as they were before it (mailbox, state, emails sent), the
    moment of the change (it stamps `updated_at`) and the mailboxes it took out of the
    campaign."""

    campaign_id: int
    at: datetime
    leads: dict[int, tuple[int | None, str, int]] = field(default_factory=dict)
    removed_mailboxes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Undone:
    restored: int  # leads back where they were
    kept: int  # leads touched since (emailed from their new mailbox): they stay

    def words(self) -> str:
        text = f"Undone: {count(self.restored, 'lead')} {verb(self.restored, 'is', 'are')} back"
        if self.kept:
            text += (f"; {count(self.kept, 'lead')} already got an email from "
                     f"{verb(self.kept, 'its', 'their')} new mailbox and "
                     f"{verb(self.kept, 'stays', 'stay')} there")
        return text + "."


def snapshot(campaign_id: int, lead_ids: Iterable[int], at: datetime,
             removed_mailboxes: Iterable[int] = ()) -> LeadsBefore:
    ids = list(lead_ids)
    leads: dict[int, tuple[int | None, str, int]] = {}
    for i in range(0, len(ids), CHUNK):
        query = Lead.select(Lead.id, Lead.mailbox, Lead.state, Lead.messages_sent).where(
            id_in(Lead.id, ids[i:i + CHUNK]))
        for lead_id, mailbox_id, state, sent in query.tuples():
            leads[lead_id] = (mailbox_id, state, sent)
    return LeadsBefore(campaign_id, at, leads, tuple(removed_mailboxes))


def open_leads_of(campaign_id: int, mailbox_ids: Iterable[int]) -> list[int]:
    return [lead_id for (lead_id,) in Lead.select(Lead.id).where(
        (Lead.campaign == campaign_id) & Lead.mailbox.in_(list(mailbox_ids))
        & Lead.state.in_([s.value for s in OPEN_STATES])).tuples()]


def reallocate_undoably(plan: ReallocationPlan, now: datetime) -> LeadsBefore:
    """`apply_reallocation`, keeping what Undo needs."""
    before = snapshot(plan.campaign_id, [i for ids in plan.moves.values() for i in ids], now)
    apply_reallocation(plan, now)
    return before


def edit_campaign_undoably(campaign: Campaign, edit: CampaignEdit, now: datetime,
                           confirm_sent_steps: bool = False
                           ) -> tuple[EditReport, LeadsBefore | None]:
    """`edit_campaign`, keeping what Undo needs when it takes mailboxes out (the removal is
    what Undo reverses; the edit's other changes stay)."""
    removed = [a.id for a in (account_by_email(normalize_email(e)) for e in
                              edit.remove_mailboxes) if a is not None]
    before = snapshot(campaign.id, open_leads_of(campaign.id, removed), now, removed) \
        if removed else None
    report = edit_campaign(campaign, edit, now, confirm_sent_steps=confirm_sent_steps)
    return report, before


def undo(before: LeadsBefore, now: datetime) -> Undone:
    """Put back what the change moved, where nothing touched it since; a removed mailbox
    sends for the campaign again (its halted leads continue when it can send)."""
    restored = kept = 0
    campaign = Campaign.get_or_none(Campaign.id == before.campaign_id)
    if campaign is None:
        return Undone(0, len(before.leads))
    with db.atomic():
        for account_id in before.removed_mailboxes:
            account = Account.get_or_none(Account.id == account_id)
            if account is None or account.removed_at is not None:
                continue
            link, created = CampaignMailbox.get_or_create(
                campaign=campaign, account=account, defaults={"added_at": now})
            if not created and not link.active:
                link.active = True
                link.save()
        ids = list(before.leads)
        current: dict[int, tuple[datetime | None, int]] = {}
        for i in range(0, len(ids), CHUNK):
            current |= {lead_id: (updated, sent) for lead_id, updated, sent in Lead.select(
                Lead.id, Lead.updated_at, Lead.messages_sent).where(
                id_in(Lead.id, ids[i:i + CHUNK])).tuples()}
        for lead_id, (mailbox_id, state, sent) in before.leads.items():
            updated, sent_now = current.get(lead_id, (None, None))
            if updated != before.at or sent_now != sent:
                kept += 1
                continue
            Lead.update(mailbox=mailbox_id, state=state, updated_at=now).where(
                Lead.id == lead_id).execute()
            restored += 1
        if not auto_pause_if_no_mailbox(campaign, now):
            auto_resume_if_possible(campaign, now)
    bus.emit(CAMPAIGN_CHANGED, campaign.id)
    bus.emit(LEADS_CHANGED, campaign.id)
    return Undone(restored, kept)
