"""Editing a campaign (issue 11): its sending mailboxes, name, sending window, the steps no lead
has reached yet, and the automatic re-allocation delay.

A step that was already sent is history: its text may still change (the rep confirms it), and
the change applies only to the emails sent from then on; steps already sent can be neither
removed nor reordered, so every lead's cursor keeps its meaning. Leads keep their place, mailbox
and history through every edit.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import peewee as pw

from mailmonitor.events import CAMPAIGN_CHANGED, LEADS_CHANGED, bus
from mailmonitor.models import (
    Account,
    Campaign,
    CampaignMailbox,
    Lead,
    SendRecord,
    Step,
    account_by_email,
    db,
)
from mailmonitor.models.lead import FINAL_STATES
from mailmonitor.services.campaigns.reallocation import apply_reallocation, plan_reallocation
from mailmonitor.services.campaigns.rules import (
    BROKEN_STATUSES,
    CampaignError,
    auto_pause_if_no_mailbox,
    auto_resume_if_possible,
    campaign_accounts,
    halt_leads_of,
)
from mailmonitor.services.campaigns.setup import campaign_named
from mailmonitor.services.common import bounds
from mailmonitor.services.common.validation import InvalidInput, normalize_email
from mailmonitor.wording import count, verb

MAX_NAME = bounds.TEXTS["campaign_name"].longest
MAX_AUTO_REALLOCATE_MINUTES = bounds.NUMBERS["auto_reallocate_minutes"].high
RECORDED_STATES = ("sending", "sent", "unknown")  # a step in one of these reached a lead


@dataclass
class CampaignEdit:
    """What the rep asked to change; None / empty = leave as it is."""

    add_mailboxes: list[str] = field(default_factory=list)
    remove_mailboxes: list[str] = field(default_factory=list)
    rename: str | None = None
    steps: list[dict[str, Any]] | None = None
    window: dict[str, object] | None = None
    set_window: bool = False  # `window` is meant (None = always)
    auto_reallocate_minutes: int | None = None
    set_auto_reallocate: bool = False  # `auto_reallocate_minutes` is meant (None = off)

    def is_empty(self) -> bool:
        return not (self.add_mailboxes or self.remove_mailboxes or self.rename is not None
                    or self.steps is not None or self.set_window or self.set_auto_reallocate)


@dataclass
class EditReport:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed_to: str | None = None
    steps_changed: list[int] = field(default_factory=list)  # 1-based numbers
    sent_steps_changed: list[int] = field(default_factory=list)  # of those, already sent
    steps_added: int = 0
    steps_removed: int = 0
    window_changed: bool = False
    auto_reallocate_changed: bool = False
    moved_leads: int = 0  # never-emailed leads of removed mailboxes, moved to the others
    waiting_leads: int = 0  # leads that wait (no mailbox could take them, or already emailed)
    completed_leads: int = 0  # leads whose remaining steps were removed


def removal_words(report: EditReport, name: str) -> str:
    """What taking mailboxes out of a campaign did, for the window's notice."""
    text = f"Took {', '.join(report.removed)} out of “{name}”"
    if report.moved_leads:
        n = report.moved_leads
        text += (f": {count(n, 'lead')} never emailed {verb(n, 'moves', 'move')} to its other "
                 "mailboxes")
    if report.waiting_leads:
        n = report.waiting_leads
        text += (f"{';' if report.moved_leads else ':'} {count(n, 'lead')} "
                 f"{verb(n, 'waits', 'wait')} for a mailbox (Re-allocate… moves "
                 f"{verb(n, 'it', 'them')} too)")
    return text + "."


def parse_auto_reallocate(value: str) -> int | None:
    """`MINUTES` (1 to 43,200, the table's bounds) or `off`. Empty or 0 is bad input, not
    "off": the rep says off."""
    text = (value or "").strip().lower()
    if text in ("off", "none"):
        return None
    if not text:
        raise InvalidInput("--auto-reallocate is empty (give MINUTES, "
                           f"{bounds.NUMBERS['auto_reallocate_minutes'].range_words}, or off)")
    return bounds.number("auto_reallocate_minutes", text, "--auto-reallocate")


def validate_name(campaign: Campaign, name: str) -> str:
    name = bounds.text("campaign_name", name)
    other = campaign_named(name)  # whatever its case
    if other is not None and other.id != campaign.id:
        raise InvalidInput(f"a campaign named {other.name!r} already exists")
    return name


def _account(email: str) -> Account:
    address = normalize_email(email)
    account = account_by_email(address)
    if account is None:
        raise InvalidInput(f"no account {address}: add it first (mailmonitor accounts add)")
    return account


def sent_steps(campaign: Campaign) -> dict[int, int]:
    """Step position -> how many emails of it were sent (or may have been)."""
    rows = (SendRecord.select(SendRecord.step, pw.fn.COUNT(SendRecord.id))
            .where((SendRecord.campaign == campaign) & SendRecord.state.in_(RECORDED_STATES))
            .group_by(SendRecord.step).tuples())
    return {int(step): int(n) for step, n in rows}


def reached_steps(campaign: Campaign) -> int:
    """How many leading steps some lead has reached (sent, or a lead's cursor passed them):
    those stay in place."""
    sent = sent_steps(campaign)
    highest_sent = max(sent, default=-1)
    highest_cursor = Lead.select(pw.fn.MAX(Lead.cursor)).where(Lead.campaign == campaign) \
        .scalar() or 0
    return max(highest_sent + 1, int(highest_cursor))


@dataclass(frozen=True)
class StepsCheck:
    changed_sent: list[int]  # 1-based numbers of sent steps whose text changes
    sent_counts: dict[int, int]  # 1-based number -> emails sent of it


def check_step_changes(campaign: Campaign, steps: list[dict[str, Any]]) -> StepsCheck:
    """Raises InvalidInput when the new steps would remove a step a lead already reached;
    returns which sent steps' text would change (the rep confirms those)."""
    reached = reached_steps(campaign)
    if len(steps) < reached:
        raise InvalidInput(f"steps 1-{reached} were already sent to leads and stay; the new "
                           f"steps list has only {len(steps)}")
    current = list(Step.select().where(Step.campaign == campaign).order_by(Step.position))
    sent = sent_steps(campaign)
    changed = [
        step.position + 1 for step in current
        if step.position in sent and step.position < len(steps)
        and (steps[step.position]["subject"], steps[step.position]["body"])
        != (step.subject, step.body)
    ]
    return StepsCheck(changed, {p + 1: n for p, n in sent.items()})


def _last_sent(lead_ids: list[int], step: int) -> dict[int, datetime]:
    rows = (SendRecord.select(SendRecord.lead, pw.fn.MAX(SendRecord.created_at))
            .where(SendRecord.lead.in_(lead_ids) & (SendRecord.step == step)
                   & SendRecord.state.in_(RECORDED_STATES))
            .group_by(SendRecord.lead).tuples())
    found: dict[int, datetime] = {}
    for lead_id, when in rows:
        found[int(lead_id)] = datetime.fromisoformat(when) if isinstance(when, str) else when
    return found


def _apply_steps(campaign: Campaign, steps: list[dict[str, Any]], report: EditReport,
                 now: datetime) -> None:
    current = {s.position: s for s in Step.select().where(Step.campaign == campaign)}
    sent = sent_steps(campaign)
    for position, values in enumerate(steps):
        step = current.get(position)
        if step is None:
            Step.create(campaign=campaign, position=position, **values)
            report.steps_added += 1
            continue
        before = (step.subject, step.body, float(step.delay_days))
        after = (values["subject"], values["body"], float(values["delay_days"]))
        if before == after:
            continue
        report.steps_changed.append(position + 1)
        if position in sent and before[:2] != after[:2]:
            report.sent_steps_changed.append(position + 1)
        delay_changed = before[2] != after[2]
        step.subject, step.body, step.delay_days = values["subject"], values["body"], after[2]
        step.save()
        if delay_changed and position > 0:
            _reschedule(campaign, position, after[2])
    extra = [p for p in current if p >= len(steps)]
    if extra:
        Step.delete().where((Step.campaign == campaign) & Step.position.in_(extra)).execute()
        report.steps_removed = len(extra)
        # Leads whose next step no longer exists have had every step: they are done.
        report.completed_leads = int(Lead.update(state="completed", next_due_at=None,
                                                 updated_at=now).where(
            (Lead.campaign == campaign) & (Lead.cursor >= len(steps))
            & Lead.state.not_in(FINAL_STATES)).execute())


def _reschedule(campaign: Campaign, position: int, delay_days: float) -> None:
    """A waiting lead's next step is due `delay_days` after the email before it."""
    waiting = [i for (i,) in Lead.select(Lead.id).where(
        (Lead.campaign == campaign) & (Lead.cursor == position)
        & Lead.state.not_in(FINAL_STATES)).tuples()]
    for start in range(0, len(waiting), 500):
        chunk = waiting[start:start + 500]
        for lead_id, when in _last_sent(chunk, position - 1).items():
            Lead.update(next_due_at=when + timedelta(days=delay_days)).where(
                Lead.id == lead_id).execute()


def _add_mailbox(campaign: Campaign, account: Account, now: datetime) -> None:
    if account.detached_at is not None:
        raise InvalidInput(f"{account.email} was disconnected by you: connect it again first "
                           "(mailmonitor accounts add or accounts reconnect)")
    link = CampaignMailbox.get_or_none(CampaignMailbox.campaign == campaign,
                                       CampaignMailbox.account == account)
    if link is not None and link.active:
        raise InvalidInput(f"{account.email} already sends for “{campaign.name}”")
    if link is None:
        CampaignMailbox.create(campaign=campaign, account=account, added_at=now)
    else:
        link.active, link.added_at = True, now
        link.save()


def _remove_mailbox(campaign: Campaign, account: Account, report: EditReport,
                    now: datetime) -> None:
    link = CampaignMailbox.get_or_none(CampaignMailbox.campaign == campaign,
                                       CampaignMailbox.account == account)
    if link is None or (not link.active and account.detached_at is None):
        raise InvalidInput(f"{account.email} does not send for “{campaign.name}”")
    # Deleted, not deactivated: a later reconnect (grace period) must not bring it back here.
    link.delete_instance()
    # Its leads here wait (halted, cursor kept) until they move to another mailbox.
    Lead.update(state="halted", updated_at=now).where(
        (Lead.campaign == campaign) & (Lead.mailbox == account)
        & Lead.state.in_(("pending", "active"))).execute()


def edit_campaign(campaign: Campaign, edit: CampaignEdit, now: datetime,
                  confirm_sent_steps: bool = False) -> EditReport:
    """Apply every change or none (one transaction). Raises InvalidInput for bad input, and
    CampaignError when a sent step's text would change without `confirm_sent_steps`."""
    report = EditReport()
    adds = [_account(e) for e in edit.add_mailboxes]
    removes = [_account(e) for e in edit.remove_mailboxes]
    for group, what in ((adds, "added"), (removes, "removed")):
        if len({a.id for a in group}) != len(group):
            raise InvalidInput(f"a mailbox is named twice to be {what}")
    if {a.id for a in adds} & {a.id for a in removes}:
        raise InvalidInput("a mailbox cannot be added and removed in one edit")
    name = validate_name(campaign, edit.rename) if edit.rename is not None else None
    if edit.set_auto_reallocate and edit.auto_reallocate_minutes is not None:
        edit.auto_reallocate_minutes = bounds.number("auto_reallocate_minutes",
                                                     edit.auto_reallocate_minutes)
    if edit.steps is not None:
        check = check_step_changes(campaign, edit.steps)
        if check.changed_sent and not confirm_sent_steps:
            numbers = ", ".join(str(n) for n in check.changed_sent)
            raise CampaignError(f"step {numbers} was already sent; its new text would apply "
                                "only to emails sent from now on — confirm to change it")
    members = {a.id for a in campaign_accounts(campaign)}
    after = (members | {a.id for a in adds}) - {a.id for a in removes}
    if not after:
        raise InvalidInput(f"“{campaign.name}” needs at least one mailbox: add another "
                           "before removing the last one")
    with db.atomic():
        for account in adds:
            _add_mailbox(campaign, account, now)
            report.added.append(account.email)
        for account in removes:
            _remove_mailbox(campaign, account, report, now)
            report.removed.append(account.email)
        if name is not None and name != campaign.name:
            campaign.name = report.renamed_to = name
        if edit.set_window and edit.window != campaign.window:
            campaign.window = edit.window  # type: ignore[assignment]
            report.window_changed = True
        if edit.set_auto_reallocate and edit.auto_reallocate_minutes != \
                campaign.auto_reallocate_minutes:
            campaign.auto_reallocate_minutes = edit.auto_reallocate_minutes
            report.auto_reallocate_changed = True
        campaign.save()
        if edit.steps is not None:
            _apply_steps(campaign, edit.steps, report, now)
        if removes:
            # Never-emailed leads of a removed mailbox move to the campaign's connected ones;
            # emailed ones wait (their follow-ups belong to that address) until the rep
            # re-allocates them too.
            with contextlib.suppress(CampaignError):  # no connected mailbox: they wait
                report.moved_leads = apply_reallocation(plan_reallocation(
                    campaign, now, sources=[a.id for a in removes]), now)
        for account in adds:
            if account.status in BROKEN_STATUSES:
                halt_leads_of(account, now)
        if not auto_pause_if_no_mailbox(campaign, now):
            auto_resume_if_possible(campaign, now)
        report.waiting_leads = int(Lead.select().where(
            (Lead.campaign == campaign) & Lead.state.in_(("halted", "unassigned"))).count())
    bus.emit(CAMPAIGN_CHANGED, campaign.id)
    bus.emit(LEADS_CHANGED, campaign.id)
    return report


def resume_blocker(campaign: Campaign) -> str | None:
    """Why Resume cannot make the campaign send now (None: it can). The window disables Resume
    with this text, and names the way out."""
    if campaign.status == "completed":
        return "This campaign is completed."
    members = campaign_accounts(campaign)
    if not members:
        return "This campaign has no mailbox: add one (Edit campaign…)."
    if all(a.status in BROKEN_STATUSES or a.removed_at is not None for a in members):
        return ("None of this campaign's mailboxes can send, so it cannot resume yet: "
                "reconnect one, or add a connected mailbox to this campaign.")
    return None
