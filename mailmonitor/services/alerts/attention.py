"""The attention model: from the state now to the set of conditions that need the rep.

A pure function (no database, no clock, no Qt): `derive(state)` takes what is true now —
mailboxes with their status, reason, grace period and stop deadline, campaigns with their pause
and waiting leads, domains whose DNS is wrong, channels that fail, maintenance windows — and
returns the conditions, most urgent first. Every surface renders this one list: the alerts list,
the banner, the tray, the status bar, `mailmonitor alerts` and the alert channels (through the
reconciler, which stores them and records each change once).

The rules that shape it (Alertmanager's grouping, inhibition and silences, as properties of one
view rather than of each rule):

- **one card per cause**: mailboxes that fail with the same reason on the same server are one
  condition naming all of them; a domain's DNS problem is one condition listing its mailboxes;
  a campaign paused because its mailboxes broke belongs to those mailboxes' card.
- **inhibition**: a mailbox whose contacted leads are about to be stopped is named by that
  condition (with its deadline), not again in its reason's card; a campaign condition is left out
  when a mailbox condition already explains it.
- **noise control**: transient trouble (status Retrying) becomes a condition only after it lasted
  `min_failures` failed checks and `min_minutes`; one success ends it. A mailbox that was
  disconnected and is only Retrying now keeps a condition at once: its trouble is not over, and
  its reconnect is news.
- **silences**: a mailbox inside a maintenance window gives no condition of its own; a condition
  of only muted mailboxes is kept, marked muted, so the list can show it greyed out and the
  channels stay quiet.
- **provider changes seen coming**: a dated change of a provider (services/common/policies.py)
  that hits mailboxes of the team is one warning naming them, from `policy_warning_days` before
  its date until no mailbox fits it any more; a mailbox it already broke is named by its own
  card, whose advice names the change.
- **order**: deadlines first (soonest first), then broken mailboxes that hold leads, then other
  critical conditions, then warnings, then notes; muted ones last.

Titles name no relative time and no counts that change while the cause stays the same (the time
left is rendered from `deadline`): a title that changes is a change of the condition, which the
channels hear of.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from mailmonitor.services.common.policies import UPCOMING, Change, MailboxProfile, hits_each
from mailmonitor.services.common.reasons import SENDING_REASONS, Status, advice_for, label_for
from mailmonitor.wording import count, verb

CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITY_RANK = {CRITICAL: 0, WARNING: 1, INFO: 2}

# Actions: what the condition's main button does (the window, `alerts --json`).
RECONNECT = "reconnect"
RESUME_SENDING = "resume_sending"
REALLOCATE = "reallocate"
ADD_MAILBOX = "add_mailbox"
CHECK_NOW = "check_now"
CHECK_DNS = "check_dns"
ROUND_TRIP = "round_trip"
CHECK_SENT = "check_sent"
RESUME_CAMPAIGN = "resume_campaign"
SHOW_LEADS = "show_leads"
NOTIFICATIONS = "notifications"
SWITCH_SIGN_IN = "switch_sign_in"  # a provider stops the mailbox's way of signing in
EDIT_SENDING = "edit_sending"  # its daily limits

POLICY_KIND = "provider_change"

SENDING_LIMIT_REASON = "sending_limit"


@dataclass(frozen=True)
class CampaignLink:
    """A campaign a mailbox sends for, and how many of its leads wait for that mailbox there."""

    id: int
    name: str
    halted: int = 0


@dataclass(frozen=True)
class MailboxFacts:
    id: int
    email: str
    status: str
    reason: str | None = None
    detail: str = ""
    server: str = ""  # the host its checks talk to (grouping key)
    since: datetime | None = None  # when the current status began
    transient_since: datetime | None = None  # start of the current run of transient trouble
    failures: int = 0  # consecutive failed checks
    # Disconnected before this trouble and not connected since: Retrying now continues a
    # trouble the rep already knows of (not a blip to wait out).
    was_broken: bool = False
    checked_at: datetime | None = None
    campaigns: tuple[CampaignLink, ...] = ()
    halted: int = 0  # its leads waiting at their step
    at_risk: int = 0  # its contacted leads that a stop would end for good
    stop_at: datetime | None = None  # when those are stopped as things stand
    stop_warned: bool = False  # the stop's warning period has begun
    detached: bool = False  # a two-step disconnect inside its grace period
    grace_until: datetime | None = None
    grace_leads: int = 0  # leads it gets back if it is connected again in time
    sign_in_ends: datetime | None = None  # a Google/Microsoft sign-in's known end
    sign_in_why: str = ""
    password_due: datetime | None = None  # the rep's rotation reminder
    rotation_days: int | None = None
    cert_expires_at: datetime | None = None
    send_limit_until: datetime | None = None
    send_problem_kind: str | None = None  # "refused" | "error"
    send_problem: str = ""
    send_problem_at: datetime | None = None
    unknown_sends: int = 0
    unknown_detail: str = ""
    round_trip_label: str | None = None  # a failed test email since the last reconnect
    round_trip_detail: str = ""
    round_trip_at: datetime | None = None
    muted: bool = False  # inside a maintenance window

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].lower()


@dataclass(frozen=True)
class CampaignFacts:
    id: int
    name: str
    status: str
    pause_reason: str | None = None
    pause_detail: str = ""
    paused_at: datetime | None = None
    mailbox_ids: tuple[int, ...] = ()
    usable: bool = False  # a mailbox of it can send now
    unassigned: int = 0  # leads no mailbox can take
    flagged: int = 0  # leads that need the rep (a missing field, …)
    flagged_latest: str = ""


@dataclass(frozen=True)
class DomainFacts:
    domain: str
    problems: str  # "SPF and DMARC"
    detail: str  # what each finding says and how to fix it
    checked_at: datetime | None = None


@dataclass(frozen=True)
class ChannelFacts:
    id: int
    name: str
    error: str
    since: datetime | None = None


@dataclass(frozen=True)
class PolicyMailbox:
    """A mailbox as the provider changes see it (every live mailbox: a healthy one can be hit)."""

    id: int
    status: str
    profile: MailboxProfile
    muted: bool = False

    @property
    def email(self) -> str:
        return self.profile.email


@dataclass(frozen=True)
class Thresholds:
    min_failures: int = 2  # transient trouble: failed checks before it needs the rep …
    min_minutes: float = 5.0  # … and how long it lasted
    cert_warning_days: int = 14
    sign_in_warning: timedelta = timedelta(days=1)
    password_warning: timedelta = timedelta(days=3)
    policy_warning_days: int = 30  # a provider change is announced this long before its date


def _utc_words(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class AttentionState:
    now: datetime
    mailboxes: tuple[MailboxFacts, ...] = ()
    campaigns: tuple[CampaignFacts, ...] = ()
    domains: tuple[DomainFacts, ...] = ()
    channels: tuple[ChannelFacts, ...] = ()
    keyring_problem: str | None = None
    keyring_since: datetime | None = None
    everything_muted: bool = False
    # The providers' dated changes (services/common/policies.py) and the mailboxes they may hit.
    changes: tuple[Change, ...] = ()
    policy_mailboxes: tuple[PolicyMailbox, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)
    # The rep's clock for the words ("Mon 14:02"); UTC when none is given (tests, the CLI's
    # machine values stay in `deadline`).
    time_words: Callable[[datetime], str] = _utc_words


@dataclass(frozen=True)
class Condition:
    key: str
    kind: str
    severity: str
    title: str
    message: str
    mailboxes: tuple[str, ...] = ()
    account_ids: tuple[int, ...] = ()
    campaigns: tuple[str, ...] = ()
    campaign_ids: tuple[int, ...] = ()
    deadline: datetime | None = None
    action: str | None = None
    since: datetime | None = None
    count: int = 1
    last_seen: datetime | None = None
    muted: bool = False
    detail: str = ""  # the server's exact answer, shown under Details
    holds_leads: int = 0

    def sort_key(self) -> tuple[object, ...]:
        tier = 0 if self.deadline is not None else \
            1 if self.severity == CRITICAL and self.holds_leads else \
            2 if self.severity == CRITICAL else 3 if self.severity == WARNING else 4
        return (self.muted, tier, self.deadline or datetime.max, -self.holds_leads,
                SEVERITY_RANK.get(self.severity, 1), self.since or datetime.max,
                self.title.lower(), self.key)


# --- mailboxes -------------------------------------------------------------------------------

def _names(items: Iterable[str]) -> str:
    names = list(items)
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _campaign_effects(group: list[MailboxFacts], campaigns: dict[int, CampaignFacts],
                      paused_words: str = "it resumes where it left off") -> list[str]:
    """What the mailboxes' state does to their campaigns, in words true now."""
    sentences: list[str] = []
    seen: set[int] = set()
    for mailbox in group:
        for link in mailbox.campaigns:
            campaign = campaigns.get(link.id)
            if campaign is None or campaign.id in seen:
                continue
            seen.add(campaign.id)
            waiting = sum(lk.halted for m in group for lk in m.campaigns if lk.id == campaign.id)
            if campaign.status == "paused" and campaign.pause_reason == "no_active_mailbox":
                sentences.append(f"“{campaign.name}” is paused: no mailbox can send; "
                                 f"{paused_words}.")
            elif waiting:
                sentences.append(f"{count(waiting, 'lead')} of “{campaign.name}” "
                                 f"{verb(waiting, 'waits', 'wait')} at "
                                 f"{verb(waiting, 'its', 'their')} step.")
    if not seen:
        sentences.append("It sends for no campaign right now." if len(group) == 1 else
                         "They send for no campaign right now.")
    elif not sentences:
        sentences.append("No lead waits for " + ("it" if len(group) == 1 else "them")
                         + ": the campaigns' other mailboxes carry them.")
    return sentences


def _campaign_refs(group: list[MailboxFacts]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    links: dict[int, str] = {}
    for mailbox in group:
        for link in mailbox.campaigns:
            links.setdefault(link.id, link.name)
    ordered = sorted(links.items(), key=lambda item: item[1].lower())
    return tuple(name for _, name in ordered), tuple(cid for cid, _ in ordered)


def _mailbox_condition(kind: str, key: str, severity: str, title: str, message: str,
                       group: list[MailboxFacts], *, action: str | None,
                       deadline: datetime | None = None, since: datetime | None = None,
                       detail: str = "", muted: bool = False) -> Condition:
    names, ids = _campaign_refs(group)
    starts = [m.since for m in group if m.since is not None]
    seen = [m.checked_at for m in group if m.checked_at is not None]
    return Condition(
        key=key, kind=kind, severity=severity, title=title, message=message,
        mailboxes=tuple(m.email for m in group), account_ids=tuple(m.id for m in group),
        campaigns=names, campaign_ids=ids, deadline=deadline, action=action,
        since=since if since is not None else (min(starts) if starts else None),
        count=max(1, sum(m.failures for m in group)), last_seen=max(seen) if seen else None,
        muted=muted, detail=detail, holds_leads=sum(m.halted for m in group))


def _group(mailboxes: Iterable[MailboxFacts], key: Callable[[MailboxFacts], str]
           ) -> dict[str, list[MailboxFacts]]:
    groups: dict[str, list[MailboxFacts]] = {}
    for mailbox in sorted(mailboxes, key=lambda m: m.email.lower()):
        groups.setdefault(key(mailbox), []).append(mailbox)
    return groups


def _live(group: list[MailboxFacts]) -> tuple[list[MailboxFacts], bool]:
    """The members that are not muted, or all of them (marked muted) when every one is."""
    loud = [m for m in group if not m.muted]
    return (loud, False) if loud else (group, True)


def _stop_conditions(state: AttentionState, campaigns: dict[int, CampaignFacts]
                     ) -> tuple[list[Condition], set[int]]:
    found: list[Condition] = []
    named: set[int] = set()
    for mailbox in state.mailboxes:
        if not (mailbox.stop_warned and mailbox.at_risk and mailbox.stop_at is not None):
            continue
        named.add(mailbox.id)
        when = state.time_words(mailbox.stop_at)
        why = "its grace period ends" if mailbox.detached else \
            label_for(mailbox.status, mailbox.reason)
        effects = " ".join(_campaign_effects([mailbox], campaigns))
        found.append(_mailbox_condition(
            "leads_stopping", f"stop:{mailbox.id}", CRITICAL,
            f"Leads of {mailbox.email} will be stopped at {when} unless you reconnect",
            f"{count(mailbox.at_risk, 'lead')} already received email from this mailbox "
            f"({why}), so {verb(mailbox.at_risk, 'its', 'their')} follow-ups can only come "
            f"from it. At {when} {verb(mailbox.at_risk, 'it is', 'they are')} set to Campaign "
            "Stopped for good; its other leads move to the campaigns' other mailboxes. "
            f"Reconnect it to keep them all. {effects}",
            [mailbox], action=RECONNECT, deadline=mailbox.stop_at, detail=mailbox.detail,
            muted=mailbox.muted))
    return found, named


def _grace_conditions(state: AttentionState, named: set[int]) -> list[Condition]:
    found = []
    for mailbox in state.mailboxes:
        if not mailbox.detached or mailbox.id in named or not mailbox.grace_leads \
                or mailbox.grace_until is None:
            continue
        deadline = max(mailbox.grace_until, mailbox.stop_at or mailbox.grace_until)
        when = state.time_words(deadline)
        found.append(_mailbox_condition(
            "grace_ending", f"grace:{mailbox.id}", CRITICAL,
            f"Connect {mailbox.email} again before {when} to keep its leads",
            f"You disconnected it. Until {when} the same address gets its "
            f"{count(mailbox.grace_leads, 'lead')} back. After that, leads it already emailed "
            "are stopped for good and the others move to the campaigns' other mailboxes.",
            [mailbox], action=RECONNECT, deadline=deadline, muted=mailbox.muted))
    return found


def _broken_conditions(state: AttentionState, campaigns: dict[int, CampaignFacts],
                       named: set[int]) -> list[Condition]:
    broken = [m for m in state.mailboxes if m.status == Status.DISCONNECTED.value
              and not m.detached and m.id not in named]
    found = []
    for key, group in _group(broken, lambda m: f"{m.reason}:{m.server.lower()}").items():
        members, muted = _live(group)
        reason = members[0].reason
        label = label_for(Status.DISCONNECTED.value, reason)
        held = reason in SENDING_REASONS
        what = "stopped sending" if held else "is disconnected"
        if len(members) == 1:
            title = f"{members[0].email} {what}: {label}"
        else:
            title = (f"{len(members)} mailboxes on {members[0].server or 'one server'} "
                     f"{'stopped sending' if held else 'are disconnected'}: {label}")
        advice = advice_for(reason, "\n".join(m.detail for m in members))
        if len(members) > 1:
            advice = f"{_names(m.email for m in members)}. {advice}"
        at_risk = [m for m in members if m.at_risk and m.stop_at is not None]
        deadline = min((m.stop_at for m in at_risk if m.stop_at is not None), default=None)
        sentences = [advice, *_campaign_effects(members, campaigns,
                                                "it resumes where it left off after you "
                                                + ("resume sending" if held else "reconnect"))]
        if deadline is not None:
            sentences.append(f"Leads it already emailed are stopped for good at "
                             f"{state.time_words(deadline)} unless you reconnect before.")
        details = "\n".join(f"{m.email}: {m.detail}" if len(members) > 1 else m.detail
                            for m in members if m.detail)
        found.append(_mailbox_condition(
            "mailbox_broken", f"broken:{key}", CRITICAL, title,
            " ".join(s for s in sentences if s), members,
            action=RESUME_SENDING if held else RECONNECT, deadline=deadline,
            detail=details, muted=muted))
    return found


def _retrying_conditions(state: AttentionState, campaigns: dict[int, CampaignFacts]
                         ) -> list[Condition]:
    limits = state.thresholds
    lasting = [m for m in state.mailboxes
               if m.status == Status.WARNING.value and m.reason != SENDING_LIMIT_REASON
               and (m.was_broken or (
                   m.failures >= limits.min_failures
                   and state.now - (m.transient_since or m.since or state.now)
                   >= timedelta(minutes=limits.min_minutes)))]
    found = []
    for key, group in _group(lasting, lambda m: f"{m.reason}:{m.server.lower()}").items():
        members, muted = _live(group)
        label = label_for(Status.WARNING.value, members[0].reason)
        title = f"{members[0].email}: {label}" if len(members) == 1 else \
            f"{len(members)} mailboxes on {members[0].server or 'one server'}: {label}"
        sentences = [f"{_names(m.email for m in members)}." if len(members) > 1 else "",
                     "mailmonitor keeps retrying by itself (1, 5, 15, then 60 minutes apart); "
                     "sending from " + ("it" if len(members) == 1 else "them") + " waits.",
                     *_campaign_effects(members, campaigns)]
        found.append(_mailbox_condition(
            "mailbox_retrying", f"retrying:{key}", WARNING, title,
            " ".join(s for s in sentences if s), members, action=CHECK_NOW,
            since=min((m.transient_since or m.since or state.now) for m in members),
            detail="\n".join(m.detail for m in members if m.detail), muted=muted))
    return found


def _mailbox_warnings(state: AttentionState, campaigns: dict[int, CampaignFacts]
                      ) -> list[Condition]:
    now, limits, words = state.now, state.thresholds, state.time_words
    found: list[Condition] = []
    for m in sorted(state.mailboxes, key=lambda m: m.email.lower()):
        if m.reason == SENDING_LIMIT_REASON and m.send_limit_until is not None \
                and now < m.send_limit_until:
            found.append(_mailbox_condition(
                "sending_limit", f"limit:{m.id}", WARNING,
                f"{m.email} reached its provider's sending limit",
                f"It sends again at {words(m.send_limit_until)}; its leads keep their place "
                f"and the other mailboxes keep sending. The server said: {m.detail}",
                [m], action=None, muted=m.muted))
        if m.send_problem_kind and m.status == Status.CONNECTED.value:
            error = m.send_problem_kind == "error"
            found.append(_mailbox_condition(
                "send_problem", f"send:{m.id}", CRITICAL if error else WARNING,
                f"Sending from {m.email} stopped after an unexpected error" if error else
                f"The server refuses to send mail from {m.email} for now",
                ("It failed in a way mailmonitor did not expect" if error else "It said")
                + f": {m.send_problem}. mailmonitor tries again in an hour; the leads keep "
                "their place and the other mailboxes keep sending.",
                [m], action=None, since=m.send_problem_at, muted=m.muted))
        if m.unknown_sends:
            found.append(_mailbox_condition(
                "send_unknown", f"unknown:{m.id}", WARNING,
                f"Emails from {m.email} may or may not have been sent", m.unknown_detail,
                [m], action=CHECK_SENT, muted=m.muted))
        if m.round_trip_label and m.status == Status.CONNECTED.value:
            found.append(_mailbox_condition(
                "round_trip_failed", f"roundtrip:{m.id}", WARNING,
                f"Test email from {m.email}: {m.round_trip_label}", m.round_trip_detail,
                [m], action=ROUND_TRIP, since=m.round_trip_at, muted=m.muted))
        if m.status != Status.CONNECTED.value:
            continue
        if m.sign_in_ends is not None and now >= m.sign_in_ends - limits.sign_in_warning:
            found.append(_mailbox_condition(
                "sign_in_expiring", f"signin:{m.id}", WARNING,
                f"The sign-in of {m.email} ends at {words(m.sign_in_ends)}",
                f"{m.sign_in_why}. Sign in again with Reconnect before then and nothing "
                "stops; campaigns keep their place either way.",
                [m], action=RECONNECT, deadline=m.sign_in_ends, muted=m.muted))
        if m.password_due is not None and now >= m.password_due - limits.password_warning:
            found.append(_mailbox_condition(
                "password_rotation", f"password:{m.id}", INFO,
                f"The password of {m.email} is due for a change on {words(m.password_due)}",
                f"You asked to be reminded every {m.rotation_days} days. Change it at the "
                "provider, then Reconnect with the new one: campaigns keep their place.",
                [m], action=RECONNECT, muted=m.muted))
    return found


def _certificate_conditions(state: AttentionState) -> list[Condition]:
    soon = [m for m in state.mailboxes if m.cert_expires_at is not None
            and m.cert_expires_at - state.now <= timedelta(days=state.thresholds.cert_warning_days)
            and m.status != Status.STOPPED.value]
    found = []
    for server, group in _group(soon, lambda m: m.server.lower()).items():
        members, muted = _live(group)
        expires = min(m.cert_expires_at for m in members if m.cert_expires_at is not None)
        left = max(0, (expires - state.now).days)
        found.append(_mailbox_condition(
            "certificate_expiring", f"cert:{server}", WARNING,
            f"The certificate of {server or members[0].email} expires on {expires:%Y-%m-%d}",
            f"In {count(left, 'day')}; {_names(m.email for m in members)} "
            f"{verb(len(members), 'uses', 'use')} it. Ask the mail provider to renew it; "
            "sending continues until then.", members, action=None, deadline=expires,
            muted=muted))
    return found


def _domain_conditions(state: AttentionState) -> list[Condition]:
    by_domain = _group((m for m in state.mailboxes if m.status != Status.STOPPED.value),
                       lambda m: m.domain)
    found = []
    for domain in sorted(state.domains, key=lambda d: d.domain):
        group = by_domain.get(domain.domain)
        if not group:
            continue
        members, muted = _live(group)
        are = "is" if " and " not in domain.problems else "are"
        found.append(_mailbox_condition(
            "dns_problem", f"dns:{domain.domain}", WARNING,
            f"{domain.domain}: {domain.problems} {are} missing or wrong",
            f"{domain.detail} Providers may refuse or file as spam the mail of "
            f"{_names(m.email for m in members)} until this is fixed.",
            members, action=CHECK_DNS, since=domain.checked_at, muted=muted))
    return found


def policy_conditions(changes: Iterable[Change], mailboxes: Iterable[PolicyMailbox],
                      now: datetime, warning_days: int) -> list[Condition]:
    """One warning per provider change that hits mailboxes of the team: from `warning_days`
    before its date (with the date as the deadline) and, once in effect, for as long as mailboxes
    still fit it. A mailbox disconnected by an answer that carries the change's marker is left
    out: its own card names the change (inhibition). Mailboxes the rep stopped are not hit."""
    today = now.date()
    pool = sorted((m for m in mailboxes if m.status != Status.STOPPED.value),
                  key=lambda m: m.email.lower())
    profiles = [m.profile for m in pool]
    found = []
    for change in changes:
        if today < change.effective - timedelta(days=warning_days):
            continue
        hit = [m for m, status in zip(pool, hits_each(change, profiles, today), strict=True)
               if status is not None
               and not (m.status == Status.DISCONNECTED.value and change.marks(m.profile.answer))]
        if not hit:
            continue
        loud = [m for m in hit if not m.muted]
        members, muted = (loud, False) if loud else (hit, True)
        upcoming = change.status_on(today) == UPCOMING
        title = (f"{change.provider}: {change.title} from {change.date_words}" if upcoming else
                 f"{change.provider}: {change.title} (in effect since {change.date_words})")
        who = _names(m.email for m in members)
        found.append(Condition(
            key=f"policy:{change.id}", kind=POLICY_KIND, severity=WARNING, title=title,
            message=f"{change.what} It hits {who}. {change.fix}",
            mailboxes=tuple(m.email for m in members), account_ids=tuple(m.id for m in members),
            deadline=datetime.combine(change.effective, time()) if upcoming else None,
            action=change.action, muted=muted))
    return found


# --- campaigns and the rest -------------------------------------------------------------------

def _about_campaign(c: CampaignFacts, cause: str, kind: str, severity: str, title: str,
                    message: str, action: str | None, muted: bool,
                    since: datetime | None = None) -> Condition:
    return Condition(f"campaign:{c.id}:{cause}", kind, severity, title, message,
                     campaigns=(c.name,), campaign_ids=(c.id,), action=action, since=since,
                     muted=muted)


def _campaign_conditions(state: AttentionState, explained: set[int]) -> list[Condition]:
    found = []
    muted = state.everything_muted
    for c in sorted(state.campaigns, key=lambda c: c.name.lower()):
        if c.status == "paused" and c.pause_reason == "error":
            found.append(_about_campaign(
                c, "error", "campaign_error", CRITICAL,
                f"Campaign “{c.name}” paused after an unexpected error",
                f"Sending it failed in a way mailmonitor did not expect ({c.pause_detail}), so "
                "it was paused and the other campaigns keep sending. Its leads keep their "
                "place. Resume it to try again.", RESUME_CAMPAIGN, muted, c.paused_at))
        elif c.status == "paused" and c.pause_reason == "no_active_mailbox" \
                and not explained.intersection(c.mailbox_ids):
            found.append(_about_campaign(
                c, "paused", "campaign_paused", WARNING,
                f"Campaign “{c.name}” is paused: none of its mailboxes can send",
                "Add a connected mailbox to it (or reconnect one of its mailboxes); it resumes "
                "where it left off.", ADD_MAILBOX, muted, c.paused_at))
        if c.unassigned and c.status in ("active", "paused"):
            found.append(_about_campaign(
                c, "unassigned", "leads_unassigned", WARNING,
                f"Leads of “{c.name}” wait for a mailbox",
                f"{count(c.unassigned, 'lead')} {verb(c.unassigned, 'has', 'have')} no mailbox "
                "that can send to " + ("it" if c.unassigned == 1 else "them") + ". "
                + ("Re-allocate them to the campaign's connected mailboxes."
                   if c.usable else "Add a connected mailbox to the campaign first."),
                REALLOCATE if c.usable else ADD_MAILBOX, muted))
        if c.flagged and c.status in ("active", "paused"):
            found.append(_about_campaign(
                c, "flagged", "leads_flagged", WARNING, f"Leads of “{c.name}” need you",
                f"{count(c.flagged, 'lead')} {verb(c.flagged, 'is', 'are')} skipped until "
                f"fixed; {verb(c.flagged, 'it keeps its', 'they keep their')} place. "
                f"Latest: {c.flagged_latest}", SHOW_LEADS, muted))
    return found


def _system_conditions(state: AttentionState) -> list[Condition]:
    found = []
    if state.keyring_problem:
        found.append(Condition(
            "keyring", "keyring_unavailable", CRITICAL,
            "The system keyring is unavailable: mailboxes cannot be checked",
            f"{state.keyring_problem} The mailboxes keep their last status until it works "
            "again.", since=state.keyring_since, muted=state.everything_muted))
    for channel in sorted(state.channels, key=lambda c: c.id):
        found.append(Condition(
            f"channel:{channel.id}", "channel_failing", WARNING,
            f"Alerts to {channel.name} are not getting through",
            f"{channel.error} Check the channel in Settings → Notifications and use Send test.",
            action=NOTIFICATIONS, since=channel.since, muted=state.everything_muted))
    return found


def derive(state: AttentionState) -> list[Condition]:
    """Every condition that needs the rep now, most urgent first."""
    campaigns = {c.id: c for c in state.campaigns}
    conditions, named = _stop_conditions(state, campaigns)
    conditions += _grace_conditions(state, named)
    broken = _broken_conditions(state, campaigns, named)
    retrying = _retrying_conditions(state, campaigns)
    conditions += broken + retrying
    # The mailboxes whose cards already say what happens to their campaigns.
    explained = {i for c in conditions for i in c.account_ids}
    explained |= {m.id for m in state.mailboxes if m.detached}
    conditions += _mailbox_warnings(state, campaigns)
    conditions += _certificate_conditions(state)
    conditions += _domain_conditions(state)
    conditions += policy_conditions(state.changes, state.policy_mailboxes, state.now,
                                    state.thresholds.policy_warning_days)
    conditions += _campaign_conditions(state, explained)
    conditions += _system_conditions(state)
    return sorted(conditions, key=Condition.sort_key)


def time_left(deadline: datetime, now: datetime) -> str:
    """'in 42 min', 'in 3 h', 'in 2 days', 'now' — the time left rendered at display time."""
    seconds = (deadline - now).total_seconds()
    if seconds <= 60:
        return "now"
    minutes = seconds / 60
    if minutes < 90:
        return f"in {int(minutes)} min"
    hours = minutes / 60
    if hours < 36:
        return f"in {int(hours)} h"
    return f"in {int(hours // 24)} days"
