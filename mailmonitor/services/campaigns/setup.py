"""Creating campaigns from a steps file, importing leads, and the summaries the CLI and window
show."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import peewee as pw

from mailmonitor.events import CAMPAIGN_CHANGED, LEADS_CHANGED, bus
from mailmonitor.models import Account, Campaign, CampaignMailbox, Lead, Step, account_by_email, db
from mailmonitor.models.lead import LEAD_STATES
from mailmonitor.models.states import (
    BROKEN_STATUSES,
    FINAL_STATES,
    CampaignStatus,
    LeadState,
    Status,
)
from mailmonitor.services.campaigns.reallocation import split_by_capacity
from mailmonitor.services.campaigns.rules import campaign_accounts, is_usable
from mailmonitor.services.common import bounds
from mailmonitor.services.common.capacity import daily_cap, remaining_capacity
from mailmonitor.services.common.rep_day import rep_today
from mailmonitor.services.common.validation import (
    InvalidInput,
    normalize_email,
    read_csv_rows,
    shown,
    summarize_errors,
    validate_delay_days,
)
from mailmonitor.services.deliverability import suppression

MAX_STEPS = bounds.NUMBERS["steps"].high  # a longer sequence is not one a rep wrote
MAX_STEPS_FILE_BYTES = 10_000_000
MAX_TEXT_CHARS = bounds.TEXTS["body"].longest  # one body
INSERT_ROWS = 100  # rows per INSERT: 100 × 9 columns stays under every bound-parameter limit



def parse_steps(path: Path) -> list[dict[str, Any]]:
    try:
        if path.stat().st_size > MAX_STEPS_FILE_BYTES:
            raise InvalidInput(f"{path} is larger than {MAX_STEPS_FILE_BYTES // 1_000_000} MB: "
                               "not a steps file")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path} is not valid JSON: {shown(str(exc))[1:-1]}") from None
    except RecursionError:  # "[[[[…" nested beyond any steps file
        raise InvalidInput(f"{path} is nested too deeply to be a steps file") from None
    if not isinstance(data, list) or not data:
        raise InvalidInput(f"{path} must be a non-empty JSON list of steps")
    return check_steps(data, f"{path}: ")


def check_steps(data: list[Any], where: str = "") -> list[dict[str, Any]]:
    """Steps as the window or a steps file gives them, checked: each a subject, a body and a
    delay in days (≥ 0); step 1 needs a subject (later ones may leave it empty: they answer in
    the same thread). `where` prefixes the messages (the file's name)."""
    if not data:
        raise InvalidInput(f"{where}the campaign needs at least one step")
    if len(data) > MAX_STEPS:
        raise InvalidInput(f"{where}{len(data):,} steps is too many (at most {MAX_STEPS})")
    steps = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise InvalidInput(f"{where}step {number} is not an object")
        subject, body = item.get("subject"), item.get("body")
        if not isinstance(subject, str) or not isinstance(body, str):
            raise InvalidInput(f"{where}step {number} needs a text 'subject' and 'body'")
        if number == 1 and not subject.strip():
            raise InvalidInput(f"{where}step 1 needs a subject")
        bounds.text("subject", subject, f"{where}step {number}'s subject")
        bounds.text("body", body, f"{where}step {number}'s body")
        delay = validate_delay_days(item.get("delay_days", 0), f"step {number} delay_days")
        steps.append({"subject": subject, "body": body, "delay_days": delay})
    return steps


def create_campaign(name: str, mailbox_emails: list[str], steps: list[dict[str, Any]],
                    window: dict[str, object] | None, now: datetime,
                    status: CampaignStatus = CampaignStatus.ACTIVE
                    ) -> Campaign:
    name = bounds.text("campaign_name", name)
    taken = campaign_named(name)
    if taken is not None:  # one name whatever its case: "Test" and "test" are the same
        raise InvalidInput(f"a campaign named {taken.name!r} already exists")
    if not mailbox_emails:
        raise InvalidInput("the campaign needs at least one mailbox (--mailbox)")
    accounts = []
    for raw in mailbox_emails:
        email = normalize_email(raw)
        account = account_by_email(email)
        if account is None:
            raise InvalidInput(f"no account {email}: add it first (mailmonitor accounts add)")
        if account in accounts:
            raise InvalidInput(f"mailbox {email} is named twice")
        accounts.append(account)
    with db.atomic():
        campaign: Campaign = Campaign.create(name=name, status=status, window=window,
                                             created_at=now)
        for position, step in enumerate(steps):
            Step.create(campaign=campaign, position=position, **step)
        for account in accounts:
            CampaignMailbox.create(campaign=campaign, account=account, added_at=now)
    bus.emit(CAMPAIGN_CHANGED, campaign.id)
    return campaign


def create_campaign_with_leads(name: str, mailbox_emails: list[str],
                               steps: list[dict[str, Any]], window: dict[str, object] | None,
                               leads_csv: Path | None, now: datetime,
                               status: CampaignStatus = CampaignStatus.ACTIVE
                               ) -> tuple[Campaign, int, int]:
    """`create_campaign` and then `import_leads` in one transaction: a malformed CSV leaves no
    half-made campaign behind. Returns (campaign, imported, updated)."""
    with db.atomic():
        campaign = create_campaign(name, mailbox_emails, steps, window, now, status)
        imported = updated = 0
        if leads_csv is not None:
            try:
                imported, updated = import_leads(campaign, leads_csv, now)
            except InvalidInput as exc:  # leaving the block rolls the campaign back too
                raise InvalidInput(f"the campaign was not created, because its leads could "
                                   f"not be imported: {exc}") from None
    return campaign, imported, updated


def campaign_named(name: str) -> Campaign | None:
    """The campaign with this name, whatever its case (the exact one first: names stored
    before names were one identity may differ only in case)."""
    name = name.strip()
    exact: Campaign | None = Campaign.get_or_none(Campaign.name == name)
    if exact is not None:
        return exact
    found: Campaign | None = Campaign.select().where(
        pw.fn.LOWER(Campaign.name) == name.lower()).order_by(Campaign.id).first()
    return found


def find_campaign(name: str) -> Campaign:
    campaign = campaign_named(name)
    if campaign is None:
        raise InvalidInput(f"no campaign named {name!r}")
    return campaign


def can_send(campaign: Campaign) -> bool:
    """Can any of the campaign's mailboxes send (now or once it stops retrying)? A campaign
    created on disconnected mailboxes only is active but waits: the rep is told so."""
    return any(is_usable(account) for account in campaign_accounts(campaign))


def import_leads(campaign: Campaign, path: Path, now: datetime,
                 refused: list[str] | None = None) -> tuple[int, int]:
    """All rows or nothing. Returns (imported, updated). New leads are spread over the
    campaign's mailboxes by remaining capacity (inbox rotation). A lead already in the campaign
    keeps its place, mailbox and history; the file's non-empty values update its fields and a
    flag it had (e.g. a missing template field) is cleared, so fixing the CSV and importing it
    again is how a rep repairs flagged leads. Addresses on the suppression list (they
    unsubscribed) are refused: listed in `refused` when given, never added."""
    header, rows = read_csv_rows(path)
    if "email" not in header:
        raise InvalidInput(f"{path}: the header has no 'email' column")
    errors: list[str] = []
    new: list[tuple[str, dict[str, str]]] = []
    updates: dict[int, dict[str, str]] = {}
    seen: set[str] = set()
    existing = {e.lower(): lead_id for lead_id, e in
                Lead.select(Lead.id, Lead.email).where(Lead.campaign == campaign).tuples()}
    for line, row in rows:
        if "__error__" in row:
            errors.append(f"line {line}: {row['__error__']}")
            continue
        try:
            email = normalize_email(row.get("email", ""))
        except Exception as exc:
            errors.append(f"line {line}: {exc}")
            continue
        if email.lower() in seen:
            continue  # the same address twice in one file: the first row counts
        seen.add(email.lower())
        fields = {k: v for k, v in row.items() if k != "email"}
        if email.lower() in existing:
            updates[existing[email.lower()]] = {k: v for k, v in fields.items() if v}
        else:
            new.append((email, fields))
    if errors:
        raise InvalidInput(f"{path}: {len(errors):,} malformed row(s), nothing imported; "
                           + summarize_errors(errors))
    blocked = suppression.suppressed_among(e for e, _ in new)
    if blocked:
        new = [(e, f) for e, f in new if e.lower() not in blocked]
        if refused is not None:
            refused.extend(sorted(blocked))
    with db.atomic():
        assign_and_insert(campaign, new, now)
        update_fields(campaign, updates, now)
    bus.emit(LEADS_CHANGED, campaign.id)
    return len(new), len(updates)


def update_fields(campaign: Campaign, updates: dict[int, dict[str, str]], now: datetime) -> None:
    """Merge new field values into existing leads and clear their flags; the composer flags a
    lead again if a field is still missing when its next step is due."""
    for lead in Lead.select().where(Lead.id.in_(list(updates))) if updates else []:
        lead.fields = {**(lead.fields or {}), **updates[lead.id]}
        lead.flag = None
        lead.updated_at = now
        lead.save()


def assign_and_insert(campaign: Campaign, new: list[tuple[str, dict[str, str]]], now: datetime
                      ) -> None:
    blocked = suppression.suppressed_among(e for e, _ in new)
    new = [(e, f) for e, f in new if e.lower() not in blocked]  # never re-imported
    members = campaign_accounts(campaign)
    usable = [a for a in members if is_usable(a)]
    targets = usable or members
    if targets:
        shares = split_by_capacity(len(new), remaining_capacity(targets, now),
                                   {a.id: daily_cap(a, rep_today(now)) for a in targets})
    order: list[Account | None] = []
    for target in targets:
        order.extend([target] * shares[target.id])
    rows = []
    for index, (email, fields) in enumerate(new):
        account = order[index] if targets else None
        if account is None:
            state = LeadState.UNASSIGNED
        elif account.status in BROKEN_STATUSES:
            state = LeadState.HALTED
        else:
            state = LeadState.PENDING
        rows.append({"campaign": campaign.id, "email": email, "fields": fields,
                     "mailbox": account.id if account else None, "state": state,
                     "updated_at": now, "next_due_at": now})
    with db.atomic():
        for i in range(0, len(rows), INSERT_ROWS):
            Lead.insert_many(rows[i:i + INSERT_ROWS]).execute()


def lead_counts(campaign_ids: list[int] | None = None) -> dict[int, Counter[str]]:
    query = Lead.select(Lead.campaign, Lead.state, pw.fn.COUNT(Lead.id)).group_by(
        Lead.campaign, Lead.state)
    if campaign_ids is not None:
        query = query.where(Lead.campaign.in_(campaign_ids))
    counts: dict[int, Counter[str]] = {}
    for campaign_id, state, n in query.tuples():
        counts.setdefault(int(campaign_id), Counter())[state] = int(n)
    return counts


def campaign_summary(campaign: Campaign, counts: Counter[str] | None = None) -> dict[str, Any]:
    if counts is None:
        counts = lead_counts([campaign.id]).get(campaign.id, Counter())
    members = campaign_accounts(campaign)
    total = sum(counts.values())
    done = sum(counts[s] for s in FINAL_STATES)
    return {
        "name": campaign.name,
        "owner": campaign.owner,
        "status": campaign.status,
        "pause_reason": campaign.pause_reason,
        "mailboxes": [a.email for a in members],
        "mailboxes_connected": sum(1 for a in members if a.status == Status.CONNECTED),
        "mailboxes_total": len(members),
        "leads": {state: counts.get(state, 0) for state in LEAD_STATES},
        "leads_total": total,
        "progress": round(done / total, 3) if total else 0.0,
        "steps": Step.select().where(Step.campaign == campaign).count(),
    }


def lead_summary(lead: Lead, mailbox_email: str | None) -> dict[str, Any]:
    return {
        "email": lead.email,
        "mailbox": mailbox_email,
        "cursor": lead.cursor,
        "state": lead.state,
        "messages_sent": lead.messages_sent,
        "next_due_at": lead.next_due_at.isoformat() + "Z" if lead.next_due_at else None,
        "fields": lead.fields,
        "flag": lead.flag,
    }
