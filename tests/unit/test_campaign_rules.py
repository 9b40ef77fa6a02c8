"""Spec §4.1–§4.4: what a mailbox's disconnection and reconnection do to campaigns and leads."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.events import CAMPAIGN_CHANGED, LEADS_CHANGED, bus
from mailmonitor.models import Account, Alert, AlertChange, Campaign, Lead, set_setting
from mailmonitor.models.campaign import PAUSE_NO_MAILBOX, PAUSE_USER
from mailmonitor.services.campaigns.rules import (
    CampaignError,
    pause_campaign,
    resume_campaign,
    usable_mailboxes,
)
from mailmonitor.services.monitoring.account_state import record_check, update_status
from tests.attention_support import changes, conditions, kinds
from tests.factories import (
    lead_states,
    make_account,
    make_campaign,
    make_lead,
    make_leads,
    probe_fail,
    probe_ok,
    reload,
)

pytestmark = pytest.mark.both_databases  # model and campaign rules: SQLite and PostgreSQL


def break_account(account: Account, now: datetime, reason: str = "invalid_credentials") -> None:
    update_status(account, "disconnected", reason, "535 5.7.8 rejected", now)


def fix_account(account: Account, now: datetime) -> None:
    update_status(account, "connected", None, "", now)


def snapshot(campaign: Campaign) -> dict[str, tuple[int | None, int, datetime | None, str]]:
    return {
        lead.email: (lead.mailbox_id, lead.cursor, lead.next_due_at, lead.state)
        for lead in Lead.select().where(Lead.campaign == campaign)
    }


def open_alerts(kind: str, now: datetime) -> list[Alert]:
    """The open conditions of this kind after the background loop reconciled at `now`."""
    return conditions(now, kind)


@pytest.fixture
def two_mailboxes(db: Path, clock: FakeClock) -> tuple[Campaign, Account, Account]:
    """Campaign C sends from A and B; each has pending, active and finished leads."""
    a = make_account("a@example.com")
    b = make_account("b@example.com")
    campaign = make_campaign("C", [a, b])
    due = clock.now() + timedelta(days=1)
    make_leads(campaign, a, 5, prefix="a-new")
    make_leads(campaign, a, 4, prefix="a-mid", cursor=2, next_due_at=due)
    make_leads(campaign, a, 2, prefix="a-replied", cursor=1, state="replied")
    make_leads(campaign, a, 2, prefix="a-done", cursor=3, state="completed")
    make_leads(campaign, a, 1, prefix="a-bounced", cursor=1, state="bounced")
    make_leads(campaign, b, 6, prefix="b-new")
    make_leads(campaign, b, 3, prefix="b-mid", cursor=1, next_due_at=due)
    return campaign, a, b


class TestHalt:
    def test_disconnection_halts_exactly_that_mailboxs_sendable_leads(
            self, two_mailboxes: tuple[Campaign, Account, Account], clock: FakeClock) -> None:
        campaign, a, _b = two_mailboxes
        before = snapshot(campaign)
        break_account(a, clock.now())
        after = snapshot(campaign)
        for email, (mailbox, cursor, due, state) in before.items():
            expected = "halted" if mailbox == a.id and state in ("pending", "active") else state
            assert after[email] == (mailbox, cursor, due, expected), email
        assert lead_states(campaign) == {
            "halted": 9, "replied": 2, "completed": 2, "bounced": 1, "pending": 6, "active": 3}

    def test_halt_reaches_the_mailboxs_leads_in_every_campaign_only(
            self, db: Path, clock: FakeClock) -> None:
        a, b = make_account("a@example.com"), make_account("b@example.com")
        c1, c2, c3 = make_campaign("C1", [a]), make_campaign("C2", [a, b]), make_campaign("C3", [b])
        make_leads(c1, a, 3)
        make_leads(c2, a, 3)
        make_leads(c2, b, 3, prefix="b")
        make_leads(c3, b, 3, prefix="b")
        break_account(a, clock.now())
        assert lead_states(c1) == {"halted": 3}
        assert lead_states(c2) == {"halted": 3, "pending": 3}
        assert lead_states(c3) == {"pending": 3}

    def test_warning_does_not_halt_leads(
            self, two_mailboxes: tuple[Campaign, Account, Account], clock: FakeClock) -> None:
        campaign, a, _b = two_mailboxes
        before = snapshot(campaign)
        record_check(a, probe_fail("timeout"), probe_ok(), clock.now())
        assert reload(a).status == "warning"
        assert snapshot(campaign) == before  # sends wait (sender checks can_send); no state change

    def test_a_further_failing_check_changes_nothing_more(
            self, two_mailboxes: tuple[Campaign, Account, Account], clock: FakeClock) -> None:
        campaign, a, _b = two_mailboxes
        record_check(a, probe_fail("tls_error"), probe_ok(), clock.now())
        halted = snapshot(campaign)
        clock.advance(hours=1)
        record_check(a, probe_fail("tls_error"), probe_ok(), clock.now())
        assert snapshot(campaign) == halted


class TestResume:
    def test_reconnect_resumes_halted_leads_at_their_cursor(
            self, two_mailboxes: tuple[Campaign, Account, Account], clock: FakeClock) -> None:
        campaign, a, _b = two_mailboxes
        before = snapshot(campaign)
        break_account(a, clock.now())
        clock.advance(hours=5)
        fix_account(a, clock.now())
        assert snapshot(campaign) == before  # cursor 0 → pending, cursor > 0 → active
        stored = Lead.get(Lead.email == "a-mid0@leads.example")
        assert (stored.state, stored.cursor) == ("active", 2)
        assert stored.updated_at == clock.now()

    def test_reconnect_through_a_passing_check(
            self, two_mailboxes: tuple[Campaign, Account, Account], clock: FakeClock) -> None:
        campaign, a, _b = two_mailboxes
        before = snapshot(campaign)
        record_check(a, probe_fail("invalid_credentials"), probe_ok(), clock.now())
        clock.advance(minutes=30)
        record_check(a, probe_ok(), probe_ok(), clock.now(), trigger="reconnect")
        assert snapshot(campaign) == before

    def test_the_mailboxs_card_says_what_waits_in_each_campaign_until_reconnect(
            self, db: Path, clock: FakeClock) -> None:
        # Issue 25: no "leads halted" alert per campaign; the mailbox's one card says it.
        a, b = make_account("a@example.com"), make_account("b@example.com")
        c1, c2 = make_campaign("C1", [a, b]), make_campaign("C2", [a, make_account(
            "c@example.com", status="stopped")])
        make_leads(c1, a, 4)
        make_leads(c2, a, 2)
        make_campaign("C3", [a, b])  # no leads of a: nothing waits there
        break_account(a, clock.now())
        [card] = conditions(clock.now())
        assert (card.kind, card.campaigns) == ("mailbox_broken", ["C1", "C2", "C3"])
        assert "4 leads of “C1” wait at their step." in card.message
        assert "“C2” is paused: no mailbox can send; it resumes where it left off after you " \
               "reconnect." in card.message
        assert "C3”" not in card.message
        assert reload(c2).status == "paused" and conditions(clock.now(), "campaign_paused") == []
        # Repeated failing checks do not repeat it.
        clock.advance(hours=1)
        record_check(a, probe_fail("invalid_credentials"), probe_ok(), clock.now())
        assert [c.id for c in conditions(clock.now())] == [card.id]
        clock.advance(hours=1)
        fix_account(a, clock.now())
        assert conditions(clock.now()) == []
        assert Alert.get_by_id(card.id).resolved_at == clock.now()
        assert changes() == [("opened", "mailbox_broken"), ("resolved", "mailbox_broken")]

    def test_disconnected_to_warning_to_connected_resumes_and_says_so(
            self, two_mailboxes: tuple[Campaign, Account, Account], clock: FakeClock) -> None:
        campaign, a, _b = two_mailboxes
        before = snapshot(campaign)
        record_check(a, probe_fail("tls_error"), probe_ok(), clock.now())
        assert kinds(clock.now()) == ["mailbox_broken"]
        clock.advance(hours=1)
        record_check(a, probe_fail("timeout"), probe_ok(), clock.now())
        # No longer refused, still not sending: the trouble goes on as Retrying at once (not a
        # blip to wait out), and the broken card gives way to it quietly.
        [retrying] = conditions(clock.now())
        assert (retrying.kind, retrying.title) == (
            "mailbox_retrying", "a@example.com: Retrying: timed out")
        clock.advance(minutes=1)
        record_check(a, probe_ok(), probe_ok(), clock.now())
        assert snapshot(campaign) == before
        assert conditions(clock.now()) == []
        told = [(c.change, c.kind, c.muted, c.event)
                for c in AlertChange.select().order_by(AlertChange.id)]
        assert told == [("opened", "mailbox_broken", False, None),
                        ("opened", "mailbox_retrying", False, None),
                        ("resolved", "mailbox_broken", True, None),
                        ("resolved", "mailbox_retrying", False, "reconnected")]
        assert AlertChange.get(AlertChange.event == "reconnected").message == \
            "9 leads continue where they left off."

    def test_events_announce_the_changes(
            self, two_mailboxes: tuple[Campaign, Account, Account], clock: FakeClock) -> None:
        campaign, a, _b = two_mailboxes
        seen: list[int] = []
        bus.subscribe(LEADS_CHANGED, seen.append)
        break_account(a, clock.now())
        fix_account(a, clock.now())
        assert seen == [campaign.id, campaign.id]


class TestAutoPause:
    def test_paused_when_no_usable_mailbox_is_left(self, db: Path, clock: FakeClock) -> None:
        a, b = make_account("a@example.com"), make_account("b@example.com")
        campaign = make_campaign("C", [a, b])
        make_leads(campaign, a, 2)
        break_account(a, clock.now())
        assert reload(campaign).status == "active"
        [card] = conditions(clock.now())
        assert "paused" not in card.message
        clock.advance(minutes=3)
        break_account(b, clock.now(), reason="token_expired")
        stored = reload(campaign)
        assert (stored.status, stored.pause_reason, stored.paused_at) == (
            "paused", PAUSE_NO_MAILBOX, clock.now())
        # Issue 25: the pause is told on each broken mailbox's card, not on a card of its own.
        cards = conditions(clock.now())
        assert [(c.kind, c.mailboxes, c.severity) for c in cards] == [
            ("mailbox_broken", ["a@example.com"], "critical"),
            ("mailbox_broken", ["b@example.com"], "critical")]
        assert all("“C” is paused: no mailbox can send" in c.message for c in cards)

    def test_not_paused_while_a_mailbox_is_only_retrying(self, db: Path, clock: FakeClock) -> None:
        a, b = make_account("a@example.com"), make_account("b@example.com")
        campaign = make_campaign("C", [a, b])
        record_check(b, probe_fail("rate_limited"), probe_ok(), clock.now())
        break_account(a, clock.now())
        assert reload(b).status == "warning"
        assert reload(campaign).status == "active"
        assert [m.email for m in usable_mailboxes(campaign)] == ["b@example.com"]

    def test_detached_or_removed_mailboxes_do_not_count(self, db: Path, clock: FakeClock) -> None:
        a, b = make_account("a@example.com"), make_account("b@example.com")
        campaign = make_campaign("C", [a])
        make_campaign("Other", [b])
        b.removed_at = clock.now()
        b.save()
        break_account(a, clock.now())
        assert reload(campaign).status == "paused"

    def test_draft_paused_and_completed_campaigns_are_left_alone(
            self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com")
        draft = make_campaign("D", [a], status="draft")
        done = make_campaign("Done", [a], status="completed")
        user = make_campaign("U", [a], status="paused", pause_reason=PAUSE_USER)
        break_account(a, clock.now())
        assert [reload(c).status for c in (draft, done, user)] == ["draft", "completed", "paused"]
        assert reload(user).pause_reason == PAUSE_USER
        assert open_alerts("campaign_paused", clock.now()) == []


class TestAutoResume:
    def test_resumed_on_reconnect(self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com")
        campaign = make_campaign("C", [a])
        make_leads(campaign, a, 3, cursor=1)
        break_account(a, clock.now())
        assert reload(campaign).status == "paused"
        clock.advance(days=2)
        fix_account(a, clock.now())
        stored = reload(campaign)
        assert (stored.status, stored.pause_reason, stored.paused_at) == ("active", None, None)
        assert conditions(clock.now()) == []
        assert lead_states(campaign) == {"active": 3}

    def test_resumed_when_any_one_mailbox_is_back(self, db: Path, clock: FakeClock) -> None:
        a, b = make_account("a@example.com"), make_account("b@example.com")
        campaign = make_campaign("C", [a, b])
        make_leads(campaign, a, 2)
        make_leads(campaign, b, 2, prefix="b")
        break_account(a, clock.now())
        break_account(b, clock.now())
        assert reload(campaign).status == "paused"
        fix_account(b, clock.now())
        assert reload(campaign).status == "active"
        assert lead_states(campaign) == {"halted": 2, "pending": 2}

    def test_rep_paused_campaign_stays_paused_through_disconnect_and_reconnect(
            self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com")
        campaign = make_campaign("C", [a])
        make_leads(campaign, a, 3)
        pause_campaign(campaign, clock.now(), reason=PAUSE_USER)
        paused_at = clock.now()
        clock.advance(minutes=10)
        break_account(a, clock.now())
        clock.advance(minutes=10)
        fix_account(a, clock.now())
        stored = reload(campaign)
        assert (stored.status, stored.pause_reason, stored.paused_at) == (
            "paused", PAUSE_USER, paused_at)
        assert lead_states(campaign) == {"pending": 3}
        assert conditions(clock.now()) == []  # the rep's own pause needs no telling

    def test_rep_pausing_an_auto_paused_campaign_makes_it_theirs(
            self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com")
        campaign = make_campaign("C", [a])
        break_account(a, clock.now())
        pause_campaign(reload(campaign), clock.now(), reason=PAUSE_USER)
        fix_account(a, clock.now())
        assert (reload(campaign).status, reload(campaign).pause_reason) == ("paused", PAUSE_USER)
        assert open_alerts("campaign_paused", clock.now()) == []

    @pytest.mark.parametrize("where", ["setting", "campaign"])
    def test_auto_resume_off_keeps_it_paused(self, db: Path, clock: FakeClock,
                                             where: str) -> None:
        a = make_account("a@example.com")
        campaign = make_campaign("C", [a], auto_resume=(where != "campaign"))
        if where == "setting":
            set_setting("auto_resume", False)
        make_leads(campaign, a, 2)
        break_account(a, clock.now())
        conditions(clock.now())
        fix_account(a, clock.now())
        stored = reload(campaign)
        assert (stored.status, stored.pause_reason) == ("paused", PAUSE_NO_MAILBOX)
        assert lead_states(campaign) == {"pending": 2}  # leads are back; the campaign waits
        # Once its mailbox works, nothing else explains the pause: the campaign's own card.
        [paused] = conditions(clock.now())
        assert (paused.kind, paused.campaigns, paused.action) == (
            "campaign_paused", ["C"], "add_mailbox")


class TestRepActions:
    def test_resume_with_no_usable_mailbox_stays_paused(self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com", status="disconnected", reason="tls_error")
        campaign = make_campaign("C", [a], status="paused", pause_reason=PAUSE_USER)
        assert resume_campaign(campaign, clock.now()) is False
        stored = reload(campaign)
        assert (stored.status, stored.pause_reason) == ("paused", PAUSE_NO_MAILBOX)

    def test_resume_without_any_mailbox_is_refused(self, db: Path, clock: FakeClock) -> None:
        campaign = make_campaign("C", [], status="draft")
        with pytest.raises(CampaignError, match="no mailbox"):
            resume_campaign(campaign, clock.now())
        assert reload(campaign).status == "draft"

    def test_only_active_campaigns_can_be_paused(self, db: Path, clock: FakeClock) -> None:
        campaign = make_campaign("C", [], status="completed")
        with pytest.raises(CampaignError, match="only an active campaign"):
            pause_campaign(campaign, clock.now())

    def test_pause_and_resume_announce_changes(self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com")
        campaign = make_campaign("C", [a])
        seen: list[int] = []
        bus.subscribe(CAMPAIGN_CHANGED, seen.append)
        pause_campaign(campaign, clock.now())
        assert resume_campaign(campaign, clock.now()) is True
        assert reload(campaign).status == "active"
        assert seen == [campaign.id, campaign.id]

    def test_finished_leads_are_never_touched(self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com")
        campaign = make_campaign("C", [a])
        for state in ("replied", "bounced", "completed", "campaign_stopped", "unassigned"):
            make_lead(campaign, f"{state}@leads.example", a, cursor=1, state=state)
        before = snapshot(campaign)
        break_account(a, clock.now())
        fix_account(a, clock.now())
        assert snapshot(campaign) == before


def test_a_campaign_whose_leads_are_all_finished_is_completed(db, clock) -> None:
    from mailmonitor.models import Campaign, Lead
    from mailmonitor.services.campaigns.rules import complete_finished_campaigns
    from tests.factories import make_account, make_campaign, make_leads

    ava = make_account("ava@ex.test")
    done = make_campaign("Done", [ava])
    ids = make_leads(done, ava, 4, cursor=3, state="completed")
    Lead.update(state="replied").where(Lead.id == ids[0]).execute()
    going = make_campaign("Going", [ava])
    make_leads(going, ava, 2, cursor=3, state="completed", prefix="g")
    make_leads(going, ava, 1, cursor=1, prefix="h")
    empty = make_campaign("Empty", [ava])
    assert complete_finished_campaigns(clock.now()) == [done.id]
    assert [Campaign.get_by_id(c.id).status for c in (done, going, empty)] == \
        ["completed", "active", "active"]
