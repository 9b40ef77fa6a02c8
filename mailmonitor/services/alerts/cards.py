"""The open conditions as the window shows them: one card per condition, in the attention model's
order (``attention.derive``, stored by ``reconciler``). Qt-free.

Grouping, order, wording and the main action are the model's; a card adds only what a window
needs to render and act on a stored condition:

- the mailboxes and campaigns behind the names (ids, a mailbox's status), and per campaign the
  way out for the leads that wait there — Re-allocate… when a connected mailbox of it can take
  them, Add a mailbox… when none can (issue 11: only actions that can succeed now);
- the maintenance window that mutes it ("Muted until Mon 15:00 (provider maintenance)");
- the servers' raw answers for Details (the message stays plain words);
- its deadline in words with the time left ("Emailed leads stopped for good in 3 h — Mon
  14:02"), rendered at display time, so it is never stale while the condition stays the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import peewee as pw

from mailmonitor.models import Account, Alert, Campaign, CampaignMailbox, Lead
from mailmonitor.models.states import LeadState
from mailmonitor.services.alerts.attention import (
    ADD_MAILBOX,
    CHECK_DNS,
    CHECK_NOW,
    CHECK_SENT,
    CRITICAL,
    INFO,
    NOTIFICATIONS,
    REALLOCATE,
    RECONNECT,
    RESUME_CAMPAIGN,
    RESUME_SENDING,
    ROUND_TRIP,
    SHOW_LEADS,
    SWITCH_SIGN_IN,
    WARNING,
    time_left,
)
from mailmonitor.services.common.reasons import Status
from mailmonitor.services.monitoring import maintenance
from mailmonitor.wording import count

# Rows stored before the attention model said "error" for what is now "critical".
_SEVERITIES = {"error": CRITICAL, CRITICAL: CRITICAL, WARNING: WARNING, INFO: INFO}
SEVERITY_WORDS = {CRITICAL: "Critical", WARNING: "Warning", INFO: "Note"}

ACTION_LABELS = {
    RECONNECT: "Reconnect",
    RESUME_SENDING: "Resume sending",
    REALLOCATE: "Re-allocate…",
    ADD_MAILBOX: "Add a mailbox…",
    CHECK_NOW: "Check now",
    CHECK_DNS: "Check DNS",
    ROUND_TRIP: "Test email",
    CHECK_SENT: "They went out",  # with "Send again" beside it
    RESUME_CAMPAIGN: "Resume campaign",
    SHOW_LEADS: "Show leads",
    NOTIFICATIONS: "Notification settings…",
    SWITCH_SIGN_IN: "Switch sign-in…",
}
ACTION_TIPS = {
    RECONNECT: "Sign in again (or enter the new password); everything is kept and the leads "
               "continue where they left off",
    RESUME_SENDING: "Its sign-in works: sending was paused for its bounces or refusals. Resume "
                    "once the cause is fixed",
    CHECK_NOW: "Check the connection now instead of waiting for the next retry",
    CHECK_DNS: "Look up the domain's SPF, DKIM and DMARC records again now",
    ROUND_TRIP: "Send a test email to the mailbox itself and see where it lands",
    CHECK_SENT: "You found them in the Sent folder: they stay counted",
    RESUME_CAMPAIGN: "Try sending the campaign again; its leads continue at their step",
    SWITCH_SIGN_IN: "Switch the mailbox to its provider's browser sign-in in place: it keeps "
                    "its history, campaigns and leads",
}
SEND_AGAIN_TIP = "Not in the Sent folder: each goes out again from its step"

# What happens at a condition's deadline, said before the time left.
DEADLINE_WORDS = {
    "leads_stopping": "Emailed leads stopped for good",
    "grace_ending": "Emailed leads stopped for good",
    "mailbox_broken": "Emailed leads stopped for good",
    "sign_in_expiring": "Sign-in ends",
    "certificate_expiring": "Certificate expires",
}
# Conditions about mailboxes whose campaigns' leads wait for them: each campaign line offers
# the way out (Re-allocate… or Add a mailbox…).
_HOLDS_LEADS = ("mailbox_broken", "mailbox_retrying", "leads_stopping", "grace_ending")
# Conditions whose Details are the mailboxes' last server answers.
_SERVER_ANSWER = ("mailbox_broken", "mailbox_retrying", "leads_stopping")
_WAITING = (LeadState.HALTED, LeadState.UNASSIGNED)


@dataclass(frozen=True)
class MailboxRef:
    email: str
    id: int | None = None  # None: no such mailbox any more
    status: str | None = None


@dataclass(frozen=True)
class CampaignRef:
    name: str
    id: int | None = None
    offer: str | None = None  # REALLOCATE or ADD_MAILBOX: the way out for its waiting leads


@dataclass(frozen=True)
class Mute:
    """The maintenance that mutes a condition: until when (None: the window just ended, the
    next reconcile un-mutes it) and the notes the rep gave."""

    until: datetime | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Card:
    key: str
    kind: str
    severity: str  # critical | warning | info
    title: str
    message: str
    mailboxes: tuple[MailboxRef, ...] = ()
    campaigns: tuple[CampaignRef, ...] = ()
    deadline: datetime | None = None
    action: str | None = None
    since: datetime | None = None
    updated_at: datetime | None = None
    last_seen: datetime | None = None
    count: int = 1
    muted: bool = False
    mute: Mute | None = None
    details: str = ""  # the servers' exact answers, shown under Details
    alert_id: int = 0
    account_id: int | None = None  # the first mailbox it names
    campaign_id: int | None = None  # the first campaign it names
    position: int = 0

    @property
    def severity_word(self) -> str:
        return SEVERITY_WORDS.get(self.severity, "Warning")

    @property
    def action_label(self) -> str | None:
        return ACTION_LABELS.get(self.action) if self.action else None

    @property
    def account_ids(self) -> list[int]:
        return [m.id for m in self.mailboxes if m.id is not None]

    @property
    def emails(self) -> list[str]:
        return [m.email for m in self.mailboxes]

    @property
    def signature(self) -> tuple[object, ...]:
        """Changes when what the card shows changes, apart from times that tick by (the view
        rebuilds only those cards)."""
        return (self.kind, self.severity, self.title, self.message, tuple(self.emails),
                tuple(self.account_ids), self.campaigns, self.deadline, self.action,
                self.muted, self.mute, self.details)

    def deadline_text(self, now: datetime) -> str:
        """'Emailed leads stopped for good in 3 h — Mon 14:02' ('' without a deadline)."""
        if self.deadline is None:
            return ""
        what = DEADLINE_WORDS.get(self.kind, "Deadline")
        return f"{what} {time_left(self.deadline, now)} — {clock_words(self.deadline, now)}"

    def mute_text(self, now: datetime) -> str:
        """'Muted until Mon 15:00 (provider maintenance)' ('' when not muted)."""
        if not self.muted:
            return ""
        mute = self.mute or Mute(None)
        text = f"Muted until {clock_words(mute.until, now)}" if mute.until else "Muted"
        return text + (f" ({'; '.join(mute.notes)})" if mute.notes else "")


def clock_words(moment: datetime, now: datetime) -> str:
    """A naive-UTC moment on the rep's clock: 'Mon 14:02' within the coming week, else
    'Mon 15 Dec 14:02'."""
    local = moment.replace(tzinfo=UTC).astimezone()
    if timedelta(0) <= moment - now < timedelta(days=6):
        return local.strftime("%a %H:%M")
    return local.strftime("%a %d %b %H:%M")


def severity_of(stored: str | None) -> str:
    return _SEVERITIES.get(stored or "", WARNING)


def needing(cards: Iterable[Card]) -> list[Card]:
    """The cards that need the rep: every open condition that is not muted."""
    return [c for c in cards if not c.muted]


def things_need_you(n: int) -> str:
    return "Nothing needs you right now" if not n else \
        count(n, "thing needs you", "things need you")


def summary_line(cards: Sequence[Card]) -> str:
    """The status bar's line: '3 things need you — <the top condition>'."""
    loud = needing(cards)
    if not loud:
        return things_need_you(0)
    return f"{things_need_you(len(loud))} — {loud[0].title}"


# --- reading ----------------------------------------------------------------------------------

def _accounts(emails: set[str]) -> dict[str, Account]:
    if not emails:
        return {}
    return {a.email.lower(): a for a in Account.select().where(
        pw.fn.LOWER(Account.email).in_(sorted(emails)) & Account.removed_at.is_null())}


def _campaigns(names: set[str]) -> dict[str, Campaign]:
    if not names:
        return {}
    return {c.name: c for c in Campaign.select().where(Campaign.name.in_(sorted(names)))}


def _offers(cards: list[tuple[Alert, list[Account], list[Campaign]]]
            ) -> dict[tuple[int, int], str]:
    """(alert id, campaign id) → the way out for the leads that wait in that campaign for the
    condition's mailboxes: Re-allocate… when a connected mailbox of it can take them, Add a
    mailbox… when none of its mailboxes can send. Nothing when no lead waits."""
    wanted = [(row, accounts, campaigns) for row, accounts, campaigns in cards
              if row.kind in _HOLDS_LEADS and accounts and campaigns]
    if not wanted:
        return {}
    campaign_ids = sorted({c.id for _, _, cs in wanted for c in cs})
    account_ids = sorted({a.id for _, accs, _ in wanted for a in accs})
    waiting = {(m, c) for m, c in Lead.select(Lead.mailbox, Lead.campaign).distinct().where(
        Lead.campaign.in_(campaign_ids) & Lead.mailbox.in_(account_ids)
        & Lead.state.in_(_WAITING)).tuples()}
    can_send = {c for (c,) in CampaignMailbox.select(CampaignMailbox.campaign).join(Account)
                .where(CampaignMailbox.campaign.in_(campaign_ids) & CampaignMailbox.active
                       & (Account.status == Status.CONNECTED.value)
                       & Account.removed_at.is_null()).distinct().tuples()}
    offers: dict[tuple[int, int], str] = {}
    for row, accounts, campaigns in wanted:
        for campaign in campaigns:
            if campaign.status not in ("active", "paused"):
                continue
            if campaign.id in can_send:
                if any((a.id, campaign.id) in waiting for a in accounts):
                    offers[(row.id, campaign.id)] = REALLOCATE
            else:
                offers[(row.id, campaign.id)] = ADD_MAILBOX
    return offers


def _mute(row: Alert, emails: list[str], active: list[maintenance.Window]) -> Mute | None:
    if not row.muted:
        return None
    if emails:
        ends = []
        notes: list[str] = []
        for email in emails:
            covering = [w for w in active if w.covers(email)]
            if not covering:
                return Mute(None)
            ends.append(max(w.ends_at for w in covering))
            notes += [w.note for w in covering if w.note]
        return Mute(min(ends), tuple(dict.fromkeys(notes)))
    everything = [w for w in active if w.scope == "all"]
    if not everything:
        return Mute(None)
    return Mute(max(w.ends_at for w in everything),
                tuple(dict.fromkeys(w.note for w in everything if w.note)))


def _details(row: Alert, accounts: list[Account]) -> str:
    if row.kind not in _SERVER_ANSWER:
        return ""
    answers = [(a.email, a.detail) for a in accounts
               if a.detail and a.status != Status.CONNECTED.value]
    if len(answers) == 1:
        return str(answers[0][1])
    return "\n".join(f"{email}: {detail}" for email, detail in answers)


def open_cards(now: datetime, rows: Sequence[Alert] | None = None) -> list[Card]:
    """Every open condition as a card, in the model's order (most urgent first, muted last)."""
    if rows is None:
        rows = list(Alert.select().where(Alert.resolved_at.is_null())
                    .order_by(Alert.position, Alert.id))
    if not rows:
        return []
    accounts = _accounts({e.lower() for r in rows for e in (r.mailboxes or [])})
    campaigns = _campaigns({n for r in rows for n in (r.campaigns or [])})
    resolved = [(r, [accounts[e.lower()] for e in (r.mailboxes or []) if e.lower() in accounts],
                 [campaigns[n] for n in (r.campaigns or []) if n in campaigns]) for r in rows]
    offers = _offers(resolved)
    active = maintenance.active_windows(now) if any(r.muted for r in rows) else []
    cards = []
    for row, named_accounts, _named_campaigns in resolved:
        mailboxes = tuple(
            MailboxRef(e, accounts[e.lower()].id, accounts[e.lower()].status)
            if e.lower() in accounts else MailboxRef(e) for e in (row.mailboxes or []))
        refs = tuple(
            CampaignRef(n, campaigns[n].id, offers.get((row.id, campaigns[n].id)))
            if n in campaigns else CampaignRef(n) for n in (row.campaigns or []))
        cards.append(Card(
            key=row.key, kind=row.kind, severity=severity_of(row.severity), title=row.title,
            message=row.message or "", mailboxes=mailboxes, campaigns=refs,
            deadline=row.deadline, action=row.action, since=row.created_at,
            updated_at=row.updated_at, last_seen=row.last_seen_at, count=row.count or 1,
            muted=bool(row.muted), mute=_mute(row, list(row.mailboxes or []), active),
            details=_details(row, named_accounts), alert_id=row.id,
            account_id=mailboxes[0].id if mailboxes else row.account_id,
            campaign_id=refs[0].id if refs else row.campaign_id,
            position=row.position or 0))
    # Stored in the model's order; muted ones last even if a window began since the last
    # reconcile (the row's `muted` says so only after it).
    return sorted(cards, key=lambda c: (c.muted, c.position, c.alert_id))


def about_campaign(cards: Iterable[Card], campaign_id: int,
                   waiting_for: Iterable[int] = ()) -> list[Card]:
    """The conditions that name this campaign, and those of the mailboxes its leads wait for
    (`waiting_for`: a mailbox the rep disconnected has left the campaign, so its condition no
    longer names it), in the model's order: the campaign view's banners."""
    mailboxes = set(waiting_for)
    return [c for c in cards if any(ref.id == campaign_id for ref in c.campaigns)
            or (c.kind in _HOLDS_LEADS and mailboxes.intersection(c.account_ids))]


def with_mute(card: Card, until: datetime, note: str = "") -> Card:
    """The card as it shows once muted (until the next reconcile says so itself)."""
    notes = (note,) if note else ()
    return replace(card, muted=True, mute=Mute(until, notes))


@dataclass(frozen=True)
class MuteChoice:
    """One of the Mute… choices: its words and the window's end (naive UTC)."""

    label: str
    until: datetime


def mute_choices(now: datetime) -> list[MuteChoice]:
    """For 1 hour; until tomorrow 09:00 on the rep's clock (this computer's zone)."""
    local = now.replace(tzinfo=UTC).astimezone()
    tomorrow = (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    return [MuteChoice("For 1 hour", now + timedelta(hours=1)),
            MuteChoice("Until tomorrow 09:00",
                       tomorrow.astimezone(UTC).replace(tzinfo=None))]


def mute_mailboxes(emails: Sequence[str], until: datetime, note: str, now: datetime
                   ) -> list[maintenance.Window]:
    """A maintenance window for these mailboxes until `until` (naive UTC). Raises InvalidInput
    (a time in the past, a note too long)."""
    return maintenance.add_window(list(emails), None, False, until.isoformat(), now, note=note)
