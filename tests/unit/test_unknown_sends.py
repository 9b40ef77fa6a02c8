"""The rep settles sends that mailmonitor could not check (spec §6: what cannot be decided is
shown to the rep, not guessed): they went out and stay counted, or they are sent again."""

from __future__ import annotations

from mailmonitor.clock import FakeClock
from mailmonitor.models import Lead, SendRecord
from mailmonitor.services.sending import sendlog
from mailmonitor.services.sending.reconcile import resolve_unknown_sends
from tests.attention_support import conditions
from tests.factories import make_account, make_campaign, make_lead, reload


def unknown_send(lead: Lead, step: int, account, clock: FakeClock) -> SendRecord:
    record = sendlog.start_attempt(reload(lead), step, account, f"<u{lead.id}-{step}@x>",
                                   "Hi", clock.now())
    sendlog.mark_handed_over(record.id, clock.now())
    assert sendlog.mark_sent(reload(record), clock.now(), state="unknown")
    return reload(record)


def world(clock: FakeClock):  # type: ignore[no-untyped-def]
    ava = make_account("ava@ex.test")
    campaign = make_campaign("Q4", [ava], steps=3)
    first = make_lead(campaign, "first@x.test", ava)
    second = make_lead(campaign, "second@x.test", ava)
    sent = sendlog.start_attempt(reload(second), 0, ava, "<s0@x>", "Hi", clock.now())
    assert sendlog.mark_sent(sent, clock.now())
    unknown_send(first, 0, ava, clock)
    unknown_send(second, 1, ava, clock)
    [card] = conditions(clock.now(), "send_unknown")  # the rep is shown what cannot be decided
    assert (card.mailboxes, card.action) == (["ava@ex.test"], "check_sent")
    assert "They are counted as sent and will not be sent again by itself: first@x.test " \
           "(step 1); second@x.test (step 2)." in card.message
    return ava, first, second


def test_sends_the_rep_confirms_stay_counted(db, clock: FakeClock) -> None:
    ava, first, second = world(clock)
    assert resolve_unknown_sends(ava, delivered=True, now=clock.now()) == 0
    assert {r.state for r in SendRecord.select()} == {"sent"}
    assert (reload(first).cursor, reload(second).cursor) == (1, 2)
    assert conditions(clock.now(), "send_unknown") == []


def test_sends_that_did_not_go_out_are_due_again_from_their_step(db, clock: FakeClock) -> None:
    ava, first, second = world(clock)
    clock.advance(hours=1)
    assert resolve_unknown_sends(ava, delivered=False, now=clock.now()) == 2
    first, second = reload(first), reload(second)
    assert (first.cursor, first.messages_sent, first.state, first.last_message_id) == \
        (0, 0, "pending", None)
    assert (second.cursor, second.messages_sent, second.state, second.last_message_id) == \
        (1, 1, "active", "<s0@x>")  # the follow-up threads on the email that did go out
    assert first.next_due_at == second.next_due_at == clock.now()
    failed = SendRecord.select().where(SendRecord.state == "failed").count()
    assert failed == 2 and SendRecord.select().where(SendRecord.state == "sent").count() == 1
    assert conditions(clock.now(), "send_unknown") == []


def test_a_step_already_followed_by_a_later_one_is_not_rewound(db, clock: FakeClock) -> None:
    ava = make_account("ava@ex.test")
    campaign = make_campaign("Q4", [ava], steps=3)
    lead = make_lead(campaign, "l@x.test", ava)
    unknown_send(lead, 0, ava, clock)
    later = sendlog.start_attempt(reload(lead), 1, ava, "<later@x>", "Re: Hi", clock.now())
    assert sendlog.mark_sent(later, clock.now())
    assert resolve_unknown_sends(ava, delivered=False, now=clock.now()) == 0
    assert reload(lead).cursor == 2
