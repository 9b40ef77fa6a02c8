"""The attention model as a table: state in, conditions out (grouping, order, wording). No
database, no clock: `derive` is a pure function."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from mailmonitor.services.alerts.attention import (
    AttentionState,
    CampaignFacts,
    CampaignLink,
    ChannelFacts,
    DomainFacts,
    MailboxFacts,
    derive,
    time_left,
)

NOW = datetime(2026, 12, 7, 10, 0)
Q4 = CampaignLink(1, "Q4 outreach", halted=0)


def mailbox(i: int, email: str, status: str = "connected", **kw: object) -> MailboxFacts:
    base = {"server": "imap.northwind.example", "since": NOW - timedelta(hours=1),
            "checked_at": NOW - timedelta(minutes=1)}
    base.update(kw)
    return MailboxFacts(id=i, email=email, status=status, **base)  # type: ignore[arg-type]


def broken(i: int, email: str, reason: str = "invalid_credentials", **kw: object
           ) -> MailboxFacts:
    kw.setdefault("failures", 2)
    return mailbox(i, email, "disconnected", reason=reason, **kw)


def state(*mailboxes: MailboxFacts, **kw: object) -> AttentionState:
    return AttentionState(now=NOW, mailboxes=mailboxes, **kw)  # type: ignore[arg-type]


def summary(s: AttentionState) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.kind, c.severity, c.mailboxes) for c in derive(s)]


# --- one card per cause ------------------------------------------------------------------------

def test_a_healthy_team_needs_nothing() -> None:
    assert derive(state(mailbox(1, "ava@northwind.example"), mailbox(2, "ben@x.example"))) == []


def test_three_mailboxes_failing_the_same_way_on_one_server_are_one_card() -> None:
    s = state(broken(1, "ava@northwind.example"), broken(2, "ben@northwind.example"),
              broken(3, "cleo@northwind.example"), mailbox(4, "dan@northwind.example"))
    [card] = derive(s)
    assert (card.kind, card.severity, card.action) == ("mailbox_broken", "critical", "reconnect")
    assert card.mailboxes == ("ava@northwind.example", "ben@northwind.example",
                              "cleo@northwind.example")
    assert card.title == ("3 mailboxes on imap.northwind.example are disconnected: "
                          "Invalid Credentials")
    assert "ava@northwind.example, ben@northwind.example and cleo@northwind.example" \
        in card.message


def test_another_reason_or_another_server_is_another_card() -> None:
    s = state(broken(1, "ava@northwind.example"),
              broken(2, "ben@northwind.example", reason="account_disabled"),
              broken(3, "eve@fabrikam.example", server="imap.fabrikam.example"))
    assert sorted(c.mailboxes for c in derive(s)) == [
        ("ava@northwind.example",), ("ben@northwind.example",), ("eve@fabrikam.example",)]


def test_four_mailboxes_of_a_domain_without_spf_are_one_card_listing_four() -> None:
    team = [mailbox(i, f"{n}@northwind.example") for i, n in
            enumerate(["ava", "ben", "cleo", "dan"], 1)]
    s = state(*team, mailbox(5, "eve@fabrikam.example"),
              domains=(DomainFacts("northwind.example", "SPF and DMARC",
                                   "No SPF record. Add one."),))
    [card] = derive(s)
    assert card.kind == "dns_problem" and card.action == "check_dns"
    assert card.title == "northwind.example: SPF and DMARC are missing or wrong"
    assert card.mailboxes == tuple(m.email for m in team)


def test_a_campaign_paused_by_its_broken_mailbox_belongs_to_the_mailboxs_card() -> None:
    dan = broken(1, "dan@northwind.example", campaigns=(CampaignLink(1, "Q4 outreach", 8),),
                 halted=8)
    paused = CampaignFacts(1, "Q4 outreach", "paused", "no_active_mailbox", mailbox_ids=(1,))
    [card] = derive(state(dan, campaigns=(paused,)))
    assert card.kind == "mailbox_broken" and card.campaigns == ("Q4 outreach",)
    assert "“Q4 outreach” is paused: no mailbox can send; it resumes where it left off after " \
           "you reconnect." in card.message


def test_a_paused_campaign_no_mailbox_card_explains_gets_its_own_card() -> None:
    # Its only mailbox was turned off by the rep (Stopped): nothing else says why it waits.
    off = mailbox(1, "ava@northwind.example", "stopped")
    paused = CampaignFacts(1, "Q4 outreach", "paused", "no_active_mailbox", mailbox_ids=(1,))
    assert summary(state(off, campaigns=(paused,))) == [("campaign_paused", "warning", ())]


# --- nothing stale -----------------------------------------------------------------------------

def test_the_words_follow_the_leads_now() -> None:
    waiting = broken(1, "dan@northwind.example", campaigns=(CampaignLink(1, "Q4", 12),),
                     halted=12)
    campaign = CampaignFacts(1, "Q4", "active", mailbox_ids=(1, 2), usable=True)
    assert "12 leads of “Q4” wait at their step." in derive(
        state(waiting, campaigns=(campaign,)))[0].message
    moved = replace(waiting, campaigns=(CampaignLink(1, "Q4", 0),), halted=0)
    message = derive(state(moved, campaigns=(campaign,)))[0].message
    assert "wait at" not in message
    assert "No lead waits for it: the campaigns' other mailboxes carry them." in message


def test_a_mailbox_that_works_again_has_no_condition_at_all() -> None:
    assert derive(state(mailbox(1, "cleo@northwind.example",
                                campaigns=(Q4,)))) == []


def test_a_test_email_before_the_reconnect_is_not_read_as_now() -> None:
    # facts.py leaves out a failed round trip older than the reconnect; a current one shows.
    failing = mailbox(1, "cleo@northwind.example", round_trip_label="landed in Spam",
                      round_trip_detail="Found in Junk after 4 s")
    assert summary(state(failing)) == [("round_trip_failed", "warning",
                                        ("cleo@northwind.example",))]
    assert summary(state(replace(failing, status="disconnected", reason="tls_error"))) == [
        ("mailbox_broken", "critical", ("cleo@northwind.example",))]


# --- noise control -----------------------------------------------------------------------------

@pytest.mark.parametrize(("failures", "minutes", "shown"), [
    (1, 30, False),  # one failure, however long ago
    (2, 4, False),  # two failures, but not 5 minutes yet
    (2, 5, True),
    (6, 60, True),
])
def test_transient_trouble_needs_the_rep_only_once_it_lasted(
        failures: int, minutes: int, shown: bool) -> None:
    flaky = mailbox(1, "ava@northwind.example", "warning", reason="timeout", failures=failures,
                    transient_since=NOW - timedelta(minutes=minutes))
    expected = [("mailbox_retrying", "warning", ("ava@northwind.example",))] if shown else []
    assert summary(state(flaky)) == expected


def test_the_count_is_the_failed_checks_seen() -> None:
    s = state(broken(1, "ava@northwind.example", failures=4),
              broken(2, "ben@northwind.example", failures=3))
    assert derive(s)[0].count == 7


# --- order: deadlines, then broken mailboxes holding leads, then warnings, then notes ----------

def test_most_urgent_first() -> None:
    finn = mailbox(1, "finn@northwind.example", "stopped", detached=True,
                   grace_until=NOW + timedelta(hours=1), grace_leads=8)
    dan = broken(2, "dan@northwind.example", reason="account_disabled",
                 campaigns=(CampaignLink(1, "Q4", 5),), halted=5)
    eve = broken(3, "eve@northwind.example", reason="tls_error")
    note = mailbox(4, "gus@northwind.example", password_due=NOW + timedelta(days=2),
                   rotation_days=60)
    cert = mailbox(5, "hal@fabrikam.example", server="mail.fabrikam.example",
                   cert_expires_at=NOW + timedelta(days=10))
    dns = DomainFacts("fabrikam.example", "SPF", "No SPF record.")
    conditions = derive(state(note, cert, eve, dan, finn, domains=(dns,)))
    assert [c.kind for c in conditions] == [
        "grace_ending",  # the soonest deadline
        "certificate_expiring",  # a deadline too, later
        "mailbox_broken",  # dan holds leads
        "mailbox_broken",  # eve holds none
        "dns_problem",
        "password_rotation",  # a note
    ]
    assert conditions[0].deadline == NOW + timedelta(hours=1)
    assert conditions[0].title.startswith("Connect finn@northwind.example again before ")
    assert conditions[2].mailboxes == ("dan@northwind.example",)


def test_a_stop_about_to_happen_takes_its_mailbox_out_of_the_reason_card() -> None:
    dan = broken(1, "dan@northwind.example", at_risk=3, stop_warned=True,
                 stop_at=NOW + timedelta(hours=20))
    ava = broken(2, "ava@northwind.example")
    conditions = derive(state(dan, ava))
    assert [(c.kind, c.mailboxes) for c in conditions] == [
        ("leads_stopping", ("dan@northwind.example",)),
        ("mailbox_broken", ("ava@northwind.example",))]
    assert conditions[0].deadline == NOW + timedelta(hours=20)
    assert "3 leads already received email from this mailbox" in conditions[0].message


def test_titles_carry_no_relative_time() -> None:
    finn = mailbox(1, "finn@northwind.example", "stopped", detached=True,
                   grace_until=NOW + timedelta(hours=1), grace_leads=8)
    later = replace(state(finn), now=NOW + timedelta(minutes=30))
    assert derive(state(finn))[0].title == derive(later)[0].title
    assert time_left(NOW + timedelta(hours=1), NOW) == "in 60 min"
    assert time_left(NOW + timedelta(hours=5), NOW) == "in 5 h"
    assert time_left(NOW + timedelta(days=3), NOW) == "in 3 days"
    assert time_left(NOW, NOW) == "now"


# --- maintenance windows -----------------------------------------------------------------------

def test_a_muted_mailbox_leaves_a_shared_card() -> None:
    s = state(broken(1, "ava@northwind.example", muted=True), broken(2, "ben@northwind.example"))
    [card] = derive(s)
    assert card.mailboxes == ("ben@northwind.example",) and not card.muted


def test_a_card_of_only_muted_mailboxes_is_kept_muted_and_last() -> None:
    s = state(broken(1, "ava@northwind.example", muted=True),
              broken(2, "eve@fabrikam.example", reason="tls_error",
                     server="imap.fabrikam.example"))
    conditions = derive(s)
    assert [(c.mailboxes, c.muted) for c in conditions] == [
        (("eve@fabrikam.example",), False), (("ava@northwind.example",), True)]


def test_everything_muted_mutes_campaign_and_channel_conditions() -> None:
    s = state(campaigns=(CampaignFacts(1, "Q4", "paused", "error", "boom"),),
              channels=(ChannelFacts(1, "“Ops” (https://hooks.example)", "HTTP 500"),),
              everything_muted=True)
    assert [(c.kind, c.muted) for c in derive(s)] == [
        ("campaign_error", True), ("channel_failing", True)]


# --- campaigns and the rest --------------------------------------------------------------------

def test_leads_that_no_mailbox_can_take_offer_reallocate_or_add_mailbox() -> None:
    usable = CampaignFacts(1, "Q4", "active", mailbox_ids=(1,), usable=True, unassigned=4)
    none = CampaignFacts(2, "Q1", "active", mailbox_ids=(), usable=False, unassigned=1)
    assert [(c.kind, c.action, c.campaigns) for c in derive(state(campaigns=(usable, none)))] \
        == [("leads_unassigned", "add_mailbox", ("Q1",)),
            ("leads_unassigned", "reallocate", ("Q4",))]


def test_a_sign_in_about_to_end_has_its_deadline() -> None:
    ends = NOW + timedelta(hours=20)
    ms = mailbox(1, "ava@contoso.example", sign_in_ends=ends,
                 sign_in_why="Microsoft ends sign-ins that are not used for 90 days")
    [card] = derive(state(ms))
    assert (card.kind, card.deadline, card.action) == ("sign_in_expiring", ends, "reconnect")
    far = replace(ms, sign_in_ends=NOW + timedelta(days=3))
    assert derive(state(far)) == []
