"""Spec §4.5: re-allocating the leads of broken mailboxes to the campaign's connected ones."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Campaign, Lead
from mailmonitor.models.campaign import PAUSE_NO_MAILBOX, PAUSE_USER
from mailmonitor.services.campaigns.reallocation import (
    apply_reallocation,
    plan_reallocation,
    reallocate,
    split_by_capacity,
)
from mailmonitor.services.campaigns.rules import CampaignError
from mailmonitor.services.monitoring.account_state import update_status
from tests.attention_support import changes, conditions
from tests.factories import (
    add_mailbox,
    lead_states,
    make_account,
    make_campaign,
    make_lead,
    make_leads,
    record_send,
    reload,
)

pytestmark = pytest.mark.both_databases  # model and campaign rules: SQLite and PostgreSQL


def counts_by_mailbox(campaign: Campaign, states: tuple[str, ...] | None = None
                      ) -> dict[int | None, int]:
    query = Lead.select(Lead.mailbox, Lead.id).where(Lead.campaign == campaign)
    if states:
        query = query.where(Lead.state.in_(states))
    result: dict[int | None, int] = {}
    for mailbox_id, _ in query.tuples():
        result[mailbox_id] = result.get(mailbox_id, 0) + 1
    return result


class TestSplit:
    def test_three_to_one(self) -> None:
        assert split_by_capacity(40, {1: 30, 2: 10}, {1: 30, 2: 10}) == {1: 30, 2: 10}
        assert split_by_capacity(4, {1: 30, 2: 10}, {}) == {1: 3, 2: 1}

    def test_parts_always_add_up(self) -> None:
        for count in (0, 1, 2, 7, 99, 1001):
            shares = split_by_capacity(count, {1: 7, 2: 3, 3: 1}, {})
            assert sum(shares.values()) == count

    def test_falls_back_to_daily_caps_when_nothing_is_left_today(self) -> None:
        assert split_by_capacity(30, {1: 0, 2: 0}, {1: 20, 2: 10}) == {1: 20, 2: 10}

    def test_falls_back_to_even_split_when_every_cap_is_zero(self) -> None:
        assert split_by_capacity(10, {1: 0, 2: 0}, {1: 0, 2: 0}) == {1: 5, 2: 5}


@pytest.fixture
def broken_a(db: Path) -> tuple[Campaign, Account, Account, Account]:
    """Campaign C: A disconnected with 40 pending leads; B and C connected (no leads yet)."""
    a = make_account("a@example.com", status="disconnected", reason="invalid_credentials")
    b = make_account("b@example.com", daily_limit=30)
    c = make_account("c@example.com", daily_limit=10)
    campaign = make_campaign("C", [a, b, c])
    make_leads(campaign, a, 40, state="halted")
    return campaign, a, b, c


class TestBalance:
    def test_balanced_by_remaining_daily_capacity(
            self, broken_a: tuple[Campaign, Account, Account, Account], clock: FakeClock) -> None:
        campaign, _a, b, c = broken_a
        plan = reallocate(campaign, clock.now())
        assert plan.counts() == {b.id: 30, c.id: 10}
        assert plan.total == 40
        assert counts_by_mailbox(campaign) == {b.id: 30, c.id: 10}
        assert lead_states(campaign) == {"pending": 40}

    def test_todays_sends_reduce_the_remaining_capacity(self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com", status="disconnected", reason="tls_error")
        b = make_account("b@example.com", daily_limit=50)
        c = make_account("c@example.com", daily_limit=50)
        campaign = make_campaign("C", [a, b, c])
        other = make_campaign("Other", [b, c])
        make_leads(campaign, a, 8, state="halted")
        sent_lead = make_lead(other, "x@leads.example", b, cursor=1)
        today, yesterday = clock.now(), clock.now() - timedelta(days=1)
        for _ in range(20):  # B: 50 - 20 = 30 left
            record_send(sent_lead, b, today)
        for _ in range(40):  # C: 50 - 40 = 10 left
            record_send(sent_lead, c, today)
        for _ in range(30):  # yesterday does not count
            record_send(sent_lead, b, yesterday)
        record_send(sent_lead, c, today, state="failed")  # a failed send does not count either
        plan = plan_reallocation(campaign, clock.now())
        assert plan.counts() == {b.id: 6, c.id: 2}

    def test_uses_the_warm_up_ramp(self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com", status="disconnected", reason="tls_error")
        # Day 3 of a 10:5 ramp = 20 a day, although the limit is 100.
        b = make_account("b@example.com", daily_limit=100, warmup_start=10, warmup_step=5,
                         warmup_started_on=clock.now().date() - timedelta(days=2))
        c = make_account("c@example.com", daily_limit=10)
        campaign = make_campaign("C", [a, b, c])
        make_leads(campaign, a, 30, state="halted")
        assert plan_reallocation(campaign, clock.now()).counts() == {b.id: 20, c.id: 10}

    def test_only_connected_mailboxes_are_targets(self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com", status="disconnected", reason="tls_error")
        w = make_account("w@example.com", status="warning", reason="timeout")
        b = make_account("b@example.com")
        campaign = make_campaign("C", [a, w, b])
        make_leads(campaign, a, 5, state="halted")
        make_leads(campaign, w, 5, prefix="w")
        plan = reallocate(campaign, clock.now())
        assert plan.counts() == {b.id: 5}
        assert counts_by_mailbox(campaign) == {b.id: 5, w.id: 5}  # retrying mailbox keeps its own

    def test_hundred_thousand_leads_split_exactly(self, db: Path, clock: FakeClock) -> None:
        broken = [make_account(f"x{i}@example.com", status="disconnected", reason="tls_error")
                  for i in range(2)]
        limits = [37, 21, 13]
        targets = [make_account(f"t{i}@example.com", daily_limit=n) for i, n in enumerate(limits)]
        campaign = make_campaign("Big", [*broken, *targets])
        make_leads(campaign, broken[0], 60_000, prefix="p", state="halted")
        make_leads(campaign, broken[1], 40_000, prefix="q", state="halted")
        plan = plan_reallocation(campaign, clock.now())
        assert plan.total == 100_000
        all_ids = [i for ids in plan.moves.values() for i in ids]
        assert len(set(all_ids)) == 100_000
        for target, limit in zip(targets, limits, strict=True):
            assert abs(len(plan.moves[target.id]) - 100_000 * limit / sum(limits)) < 1
        assert apply_reallocation(plan, clock.now()) == 100_000
        stored = counts_by_mailbox(campaign)
        assert stored == {t.id: len(plan.moves[t.id]) for t in targets}
        assert sum(stored.values()) == 100_000
        assert lead_states(campaign) == {"pending": 100_000}


class TestWhoMoves:
    def test_contacted_leads_stay_unless_included(self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com", status="disconnected", reason="token_expired")
        b = make_account("b@example.com")
        campaign = make_campaign("C", [a, b])
        make_leads(campaign, a, 6, state="halted")
        make_leads(campaign, a, 4, prefix="sent", cursor=1, state="halted")
        plan = reallocate(campaign, clock.now())
        assert (plan.total, plan.kept_contacted) == (6, 4)
        assert counts_by_mailbox(campaign) == {a.id: 4, b.id: 6}
        assert lead_states(campaign) == {"halted": 4, "pending": 6}
        plan = reallocate(campaign, clock.now(), include_contacted=True)
        assert (plan.total, plan.kept_contacted) == (4, 0)
        assert counts_by_mailbox(campaign) == {b.id: 10}
        assert lead_states(campaign) == {"active": 4, "pending": 6}

    def test_moved_leads_keep_cursor_due_time_and_history(
            self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com", status="disconnected", reason="token_expired")
        b = make_account("b@example.com")
        campaign = make_campaign("C", [a, b])
        due = clock.now() + timedelta(hours=7)
        lead = make_lead(campaign, "mid@leads.example", a, cursor=2, state="halted",
                         next_due_at=due, last_message_id="<m2@x>", first_subject="Hi")
        record_send(lead, a, clock.now() - timedelta(days=2), step=0)
        record_send(lead, a, clock.now() - timedelta(days=1), step=1)
        clock.advance(minutes=1)
        reallocate(campaign, clock.now(), include_contacted=True)
        stored = reload(lead)
        assert (stored.mailbox_id, stored.state, stored.cursor, stored.next_due_at) == (
            b.id, "active", 2, due)
        assert (stored.messages_sent, stored.last_message_id, stored.first_subject) == (
            2, "<m2@x>", "Hi")
        assert stored.updated_at == clock.now()
        assert stored.sends.count() == 2

    def test_unassigned_and_detached_leads_move_finished_ones_do_not(
            self, db: Path, clock: FakeClock) -> None:
        gone = make_account("gone@example.com")
        b = make_account("b@example.com")
        campaign = make_campaign("C", [b])
        add_mailbox(campaign, gone, active=False)  # left the campaign
        make_leads(campaign, None, 3, prefix="u", state="unassigned")
        make_leads(campaign, gone, 2, prefix="g")
        for state in ("replied", "bounced", "completed", "campaign_stopped"):
            make_lead(campaign, f"{state}@leads.example", gone, state=state)
        plan = reallocate(campaign, clock.now())
        assert plan.counts() == {b.id: 5}
        assert counts_by_mailbox(campaign, ("pending",)) == {b.id: 5}
        assert counts_by_mailbox(campaign, ("replied", "bounced", "completed",
                                            "campaign_stopped")) == {gone.id: 4}

    def test_other_campaigns_are_not_touched(self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com", status="disconnected", reason="token_expired")
        b = make_account("b@example.com")
        campaign, other = make_campaign("C", [a, b]), make_campaign("Other", [a])
        make_leads(campaign, a, 3, state="halted")
        make_leads(other, a, 3, state="halted")
        reallocate(campaign, clock.now())
        assert counts_by_mailbox(other) == {a.id: 3}
        assert lead_states(other) == {"halted": 3}


class TestRefusal:
    def test_refused_with_a_clear_message_when_no_mailbox_is_connected(
            self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com", status="disconnected", reason="token_expired")
        w = make_account("w@example.com", status="warning", reason="timeout")
        campaign = make_campaign("Spring outreach", [a, w])
        make_leads(campaign, a, 3, state="halted")
        with pytest.raises(CampaignError) as info:
            reallocate(campaign, clock.now())
        message = str(info.value)
        assert "Spring outreach" in message
        assert "add and connect a mailbox first" in message
        assert counts_by_mailbox(campaign) == {a.id: 3}
        assert lead_states(campaign) == {"halted": 3}


class TestAfterwards:
    def test_auto_paused_campaign_resumes_after_reallocation(
            self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com")
        campaign = make_campaign("C", [a])
        make_leads(campaign, a, 4, cursor=1)
        update_status(a, "disconnected", "token_expired", "invalid_grant", clock.now())
        assert (reload(campaign).status, reload(campaign).pause_reason) == (
            "paused", PAUSE_NO_MAILBOX)
        [card] = conditions(clock.now())  # the pause is told on the mailbox's card
        assert card.kind == "mailbox_broken"
        assert "“C” is paused: no mailbox can send" in card.message
        add_mailbox(campaign, make_account("new@example.com"))
        reallocate(reload(campaign), clock.now(), include_contacted=True)
        stored = reload(campaign)
        assert (stored.status, stored.pause_reason) == ("active", None)
        assert lead_states(campaign) == {"active": 4}
        [card] = conditions(clock.now())  # a is still broken; the campaign is not paused
        assert card.kind == "mailbox_broken" and "paused" not in card.message

    def test_rep_paused_campaign_stays_paused(self, db: Path, clock: FakeClock) -> None:
        a = make_account("a@example.com", status="disconnected", reason="token_expired")
        b = make_account("b@example.com")
        campaign = make_campaign("C", [a, b], status="paused", pause_reason=PAUSE_USER)
        make_leads(campaign, a, 2, state="halted")
        reallocate(campaign, clock.now())
        assert (reload(campaign).status, reload(campaign).pause_reason) == ("paused", PAUSE_USER)

    def test_the_waiting_leads_on_the_mailboxs_card_follow_the_reallocation(
            self, db: Path, clock: FakeClock) -> None:
        # Issue 25: no "leads halted" alert of its own; the mailbox's card says how many wait,
        # in words true now (a change of the count is not news for the channels).
        a, b = make_account("a@example.com"), make_account("b@example.com")
        campaign = make_campaign("C", [a, b])
        make_leads(campaign, a, 5)
        make_leads(campaign, a, 2, prefix="sent", cursor=1)
        update_status(a, "disconnected", "token_expired", "invalid_grant", clock.now())
        [card] = conditions(clock.now())
        assert "7 leads of “C” wait at their step." in card.message
        reallocate(campaign, clock.now())
        [card] = conditions(clock.now())
        assert "2 leads of “C” wait at their step." in card.message  # contacted ones still wait
        reallocate(campaign, clock.now(), include_contacted=True)
        [card] = conditions(clock.now())
        assert "wait at" not in card.message
        assert "No lead waits for it: the campaigns' other mailboxes carry them." in card.message
        assert changes() == [("opened", "mailbox_broken")]
