"""The cards the window renders, without Qt: one per stored condition in the attention model's
order, with what only a window adds — the ids behind the names, per campaign the way out for
its waiting leads (issue 11: only actions that can succeed now), the maintenance that mutes it,
the servers' answers for Details, and the deadline in words with the time left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from mailmonitor.clock import FakeClock
from mailmonitor.models import Alert
from mailmonitor.services.alerts import reconciler
from mailmonitor.services.alerts.cards import (
    Card,
    about_campaign,
    clock_words,
    mute_choices,
    mute_mailboxes,
    needing,
    open_cards,
    summary_line,
)
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.monitoring.account_state import update_status
from tests.factories import make_account, make_campaign, make_leads, reload


def test_one_card_per_condition_in_the_models_order_with_the_ids_behind_the_names(
        db: Path, clock: FakeClock) -> None:
    ava, ben, cleo = (make_account(f"{n}@x.test") for n in ("ava", "ben", "cleo"))
    solo = make_campaign("Solo", [ava])
    shared = make_campaign("Shared", [ben, cleo])
    make_leads(solo, ava, 2)
    make_leads(shared, ben, 3)
    update_status(ava, "disconnected", "token_expired", "invalid_grant: Token has been expired",
                  clock.now())
    update_status(ben, "disconnected", "token_expired", "invalid_grant: Token revoked",
                  clock.now())
    reconciler.reconcile(clock.now())
    (card,) = open_cards(clock.now())
    assert card.title == "2 mailboxes on imap.example.com are disconnected: Token Expired"
    assert card.severity == "critical" and card.severity_word == "Critical"
    assert card.emails == ["ava@x.test", "ben@x.test"]
    assert card.account_ids == [ava.id, ben.id] and card.account_id == ava.id
    assert [(c.name, c.id) for c in card.campaigns] == [("Shared", shared.id),
                                                        ("Solo", solo.id)]
    assert card.action == "reconnect" and card.action_label == "Reconnect"
    # Each server's exact answer for Details; the message stays plain words.
    assert card.details == ("ava@x.test: invalid_grant: Token has been expired\n"
                            "ben@x.test: invalid_grant: Token revoked")
    assert "invalid_grant" not in card.message
    # The way out per campaign: cleo can take Shared's waiting leads; Solo has nobody left.
    assert {c.name: c.offer for c in card.campaigns} == {"Shared": "reallocate",
                                                        "Solo": "add_mailbox"}
    assert summary_line([card]) == f"1 thing needs you — {card.title}"


def test_no_way_out_is_offered_where_no_lead_waits(db: Path, clock: FakeClock) -> None:
    ava, ben = make_account("ava@x.test"), make_account("ben@x.test")
    campaign = make_campaign("Q4", [ava, ben])
    make_leads(campaign, ben, 2)  # none of ava's
    update_status(ava, "disconnected", "invalid_credentials", "535", clock.now())
    reconciler.reconcile(clock.now())
    (card,) = open_cards(clock.now())
    assert [(c.name, c.offer) for c in card.campaigns] == [("Q4", None)]
    # Once it is back, its condition goes: no card offers to reconnect a working mailbox.
    update_status(reload(ava), "connected", None, "", clock.now())
    reconciler.reconcile(clock.now())
    assert open_cards(clock.now()) == []


def test_a_deadline_in_words_with_the_time_left(db: Path, clock: FakeClock) -> None:
    finn = make_account("finn@x.test")
    make_leads(make_campaign("Founders", [finn, make_account("eve@x.test")]), finn, 3)
    lifecycle.disconnect(finn, clock.now())
    reconciler.reconcile(clock.now())
    (card,) = [c for c in open_cards(clock.now()) if c.kind == "grace_ending"]
    assert card.deadline == clock.now() + timedelta(hours=1)
    later = clock.now() + timedelta(minutes=20)
    assert card.deadline_text(later) == \
        f"Emailed leads stopped for good in 40 min — {clock_words(card.deadline, later)}"
    local = card.deadline.replace(tzinfo=UTC).astimezone()
    assert clock_words(card.deadline, later) == local.strftime("%a %H:%M")
    assert clock_words(card.deadline, card.deadline - timedelta(days=9)) == \
        local.strftime("%a %d %b %H:%M")


def test_a_muted_condition_says_until_when_and_why_and_needs_nobody(
        db: Path, clock: FakeClock) -> None:
    ava, ben = make_account("ava@x.test"), make_account("ben@x.test")
    update_status(ava, "disconnected", "invalid_credentials", "535", clock.now())
    update_status(ben, "disconnected", "app_password_required", "534", clock.now())
    reconciler.reconcile(clock.now())
    until = clock.now() + timedelta(hours=2)
    mute_mailboxes(["ava@x.test"], until, "provider maintenance", clock.now())
    reconciler.reconcile(clock.now())
    cards = open_cards(clock.now())
    assert [(c.emails, c.muted) for c in cards] == [(["ben@x.test"], False),
                                                     (["ava@x.test"], True)]  # muted last
    muted = cards[1]
    assert muted.mute is not None and muted.mute.until == until
    assert muted.mute_text(clock.now()) == \
        f"Muted until {clock_words(until, clock.now())} (provider maintenance)"
    assert needing(cards) == [cards[0]]
    assert summary_line(cards) == f"1 thing needs you — {cards[0].title}"
    assert summary_line([muted]) == "Nothing needs you right now"


def test_rows_stored_before_the_attention_model_still_show(db: Path, clock: FakeClock) -> None:
    ava = make_account("ava@x.test")
    Alert.create(key=f"account:{ava.id}:disconnected", kind="account_disconnected",
                 severity="error", account=ava, title="ava@x.test is disconnected",
                 message="Reconnect it.", created_at=clock.now(), updated_at=clock.now())
    (card,) = open_cards(clock.now())
    assert (card.severity, card.action, card.mailboxes) == ("critical", None, ())
    assert card.account_id == ava.id


def test_the_campaign_view_shows_its_conditions_and_those_of_the_mailboxes_its_leads_wait_for(
        db: Path, clock: FakeClock) -> None:
    def card(key: str, kind: str, account_ids: tuple[int, ...] = (),
             campaign_ids: tuple[int, ...] = ()) -> Card:
        from mailmonitor.services.alerts.cards import CampaignRef, MailboxRef

        return Card(key, kind, "critical", key, "", mailboxes=tuple(
            MailboxRef(f"{i}@x.test", i) for i in account_ids),
            campaigns=tuple(CampaignRef(f"C{i}", i) for i in campaign_ids))

    cards = [card("grace", "grace_ending", (7,)), card("dns", "dns_problem", (7,)),
             card("broken", "mailbox_broken", (8,), (1,)), card("other", "leads_flagged",
                                                                 campaign_ids=(2,))]
    assert [c.key for c in about_campaign(cards, 1, waiting_for=[7])] == ["grace", "broken"]
    assert [c.key for c in about_campaign(cards, 2)] == ["other"]


def test_mute_choices_end_in_an_hour_and_tomorrow_at_nine_on_the_reps_clock() -> None:
    now = datetime(2026, 11, 23, 21, 30)
    hour, tomorrow = mute_choices(now)
    assert (hour.label, hour.until) == ("For 1 hour", now + timedelta(hours=1))
    local = tomorrow.until.replace(tzinfo=UTC).astimezone()
    assert tomorrow.label == "Until tomorrow 09:00"
    assert (local.hour, local.minute) == (9, 0)
    assert local.date() == (now.replace(tzinfo=UTC).astimezone() + timedelta(days=1)).date()
