"""Provider changes in the attention model, as a table: state in, conditions out. A change that
hits mailboxes of the team is one warning from 30 days before its date (the date as deadline)
and, once in effect, for as long as mailboxes still fit it; a mailbox it already broke is told by
its own card, whose advice names the change. No database, no clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mailmonitor.services.alerts.attention import (
    AttentionState,
    MailboxFacts,
    PolicyMailbox,
    Thresholds,
    derive,
)
from mailmonitor.services.common.policies import Change, MailboxProfile, shipped

SMTP_AUTH_OFF = next(c for c in shipped().changes if c.id == "microsoft-smtp-basic-auth")
GMAIL_BULK = next(c for c in shipped().changes if c.id == "gmail-yahoo-bulk-senders")
REFUSED = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for "
           "the Tenant.")


def m365(i: int, email: str, sign_in: str = "password", status: str = "connected",
         answer: str = "", muted: bool = False) -> PolicyMailbox:
    return PolicyMailbox(i, status, MailboxProfile(
        email, "microsoft", "outlook.office365.com", "smtp.office365.com", sign_in, 100, answer),
        muted)


def at(when: datetime, *mailboxes: PolicyMailbox, changes: tuple[Change, ...] = (SMTP_AUTH_OFF,),
       broken: tuple[MailboxFacts, ...] = (), **thresholds: int) -> AttentionState:
    return AttentionState(now=when, mailboxes=broken, changes=changes,
                          policy_mailboxes=mailboxes, thresholds=Thresholds(**thresholds))


DAY = datetime(2026, 12, 31)  # the change's date (midnight UTC)
TEAM = (m365(1, "ava@northwind.example"), m365(2, "ben@northwind.example", "app_password"),
        m365(3, "cleo@northwind.example", "oauth2"))


@pytest.mark.parametrize(("now", "expected"), [
    (DAY - timedelta(days=31), None),  # before the warning period: nothing yet
    (DAY - timedelta(days=30), "upcoming"),
    (DAY - timedelta(seconds=1), "upcoming"),
    (DAY, "in_effect"),
    (DAY + timedelta(days=400), "in_effect"),  # for as long as mailboxes still fit it
])
def test_a_change_is_announced_thirty_days_ahead_and_stays_while_it_hits(
        now: datetime, expected: str | None) -> None:
    found = derive(at(now, *TEAM))
    if expected is None:
        assert found == []
        return
    [card] = found
    assert (card.kind, card.severity, card.action, card.key) == (
        "provider_change", "warning", "switch_sign_in", "policy:microsoft-smtp-basic-auth")
    assert card.mailboxes == ("ava@northwind.example", "ben@northwind.example")  # not OAuth
    assert card.account_ids == (1, 2)
    assert "It hits ava@northwind.example and ben@northwind.example." in card.message
    assert "Switch the mailbox to Microsoft sign-in (OAuth)" in card.message
    if expected == "upcoming":
        assert card.title == ("Microsoft 365 / Exchange Online: SMTP sign-in with a password is "
                              "switched off from 31 December 2026")
        assert card.deadline == DAY
    else:
        assert card.title.endswith("(in effect since 31 December 2026)")
        assert card.deadline is None


def test_the_warning_period_is_a_setting() -> None:
    assert derive(at(DAY - timedelta(days=40), *TEAM, policy_warning_days=30)) == []
    [card] = derive(at(DAY - timedelta(days=40), *TEAM, policy_warning_days=45))
    assert card.deadline == DAY


def test_mailboxes_that_switched_to_oauth_end_it() -> None:
    switched = (m365(1, "ava@northwind.example", "oauth2"),
                m365(2, "ben@northwind.example", "oauth2"))
    assert derive(at(DAY + timedelta(days=3), *switched)) == []


def test_the_title_stays_while_the_mailboxes_it_names_change() -> None:
    one = derive(at(DAY - timedelta(days=5), TEAM[0]))[0]
    two = derive(at(DAY - timedelta(days=5), *TEAM))[0]
    assert one.title == two.title and one.mailboxes != two.mailboxes


def test_a_mailbox_the_change_already_broke_is_named_by_its_own_card_with_the_change() -> None:
    refused = m365(1, "ava@northwind.example", status="disconnected", answer=REFUSED)
    card_of_ava = MailboxFacts(id=1, email="ava@northwind.example", status="disconnected",
                               reason="auth_method_disabled", detail=REFUSED,
                               server="smtp.office365.com", failures=2)
    cards = derive(at(DAY - timedelta(days=3), refused, TEAM[1], broken=(card_of_ava,)))
    broken = next(c for c in cards if c.kind == "mailbox_broken")
    change = next(c for c in cards if c.kind == "provider_change")
    assert broken.mailboxes == ("ava@northwind.example",)
    assert "SMTP sign-in with a password is switched off (from 31 December 2026)" \
        in broken.message
    assert change.mailboxes == ("ben@northwind.example",)  # ava is not named twice


def test_an_answer_that_marks_the_change_brings_it_to_a_mailbox_the_profile_misses() -> None:
    # An "other provider" mailbox on a relay that answers like Microsoft, still retrying.
    odd = PolicyMailbox(7, "warning", MailboxProfile(
        "dan@fabrikam.example", "imap", "mail.fabrikam.example", "relay.fabrikam.example",
        "password", 50, REFUSED))
    [card] = derive(at(DAY - timedelta(days=3), odd))
    assert card.mailboxes == ("dan@fabrikam.example",)


def test_muted_and_stopped_mailboxes() -> None:
    muted = (m365(1, "ava@northwind.example", muted=True),
             m365(2, "ben@northwind.example", muted=True))
    [card] = derive(at(DAY, *muted))
    assert card.muted  # kept, greyed out, the channels stay quiet
    [card] = derive(at(DAY, muted[0], m365(2, "ben@northwind.example")))
    assert not card.muted and card.mailboxes == ("ben@northwind.example",)
    stopped = m365(1, "ava@northwind.example", status="stopped")
    assert derive(at(DAY, stopped)) == []


def test_a_volume_rule_for_the_whole_team() -> None:
    busy = tuple(PolicyMailbox(i, "connected", MailboxProfile(
        f"rep{i}@northwind.example", "gmail", "imap.gmail.com", "smtp.gmail.com", "oauth2",
        6_000)) for i in range(1, 4))
    [card] = derive(at(datetime(2026, 12, 7), *busy, changes=(GMAIL_BULK,)))
    assert card.action == "check_dns" and len(card.mailboxes) == 3
    assert card.title.startswith("Gmail and Yahoo: Bulk senders must authenticate")
