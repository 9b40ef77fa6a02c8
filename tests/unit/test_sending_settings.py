"""Saving a mailbox's sending settings and sender from the window: validated, stored,
announced on the bus; a bad value stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.events import ACCOUNT_CHANGED, bus
from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.sending.settings import (
    SendingSettings,
    save_sender,
    save_sending_settings,
)
from tests.factories import make_account, reload


@pytest.fixture
def announced() -> Iterator[list[int]]:
    seen: list[int] = []

    def handler(account_id: int, *_statuses: str) -> None:
        seen.append(account_id)

    bus.subscribe(ACCOUNT_CHANGED, handler)
    yield seen
    bus.unsubscribe(ACCOUNT_CHANGED, handler)


def test_sending_settings_are_stored_and_announced(db: Path, clock: FakeClock,
                                                   announced: list[int]) -> None:
    ava = make_account("ava@ex.test", daily_limit=40)
    save_sending_settings(ava.id, SendingSettings(daily_limit=25, min_gap_seconds=600,
                                                  warmup_enabled=True, warmup_start=5,
                                                  warmup_step=2), clock.now())
    ava = reload(ava)
    assert (ava.daily_limit, ava.min_gap_seconds) == (25, 600)
    assert (ava.warmup_start, ava.warmup_step, ava.warmup_started_on) == (5, 2, clock.now().date())
    assert announced == [ava.id]


def test_impossible_sending_settings_store_nothing(db: Path, clock: FakeClock,
                                                   announced: list[int]) -> None:
    ava = make_account("ava@ex.test", daily_limit=40)
    with pytest.raises(InvalidInput, match=r"Daily limit 100001 is too large \(at most "
                                           r"100,000 emails a day\)\. Minimum gap -1 is too "
                                           r"small"):
        save_sending_settings(ava.id, SendingSettings(daily_limit=100_001, min_gap_seconds=-1),
                              clock.now())
    assert reload(ava).daily_limit == 40
    assert announced == []


def test_sender_name_and_signature_are_stored_and_announced(db: Path,
                                                            announced: list[int]) -> None:
    ava = make_account("ava@ex.test")
    save_sender(ava.id, "  Ava Stone ", "Ava Stone\nNorthwind\n\n")
    ava = reload(ava)
    assert (ava.name, ava.signature) == ("Ava Stone", "Ava Stone\nNorthwind")
    assert announced == [ava.id]


def test_a_sender_name_over_two_lines_is_refused(db: Path, announced: list[int]) -> None:
    ava = make_account("ava@ex.test", name="Ava")
    with pytest.raises(InvalidInput, match="one line"):
        save_sender(ava.id, "Ava\nBcc: everyone@ex.test", "")
    assert reload(ava).name == "Ava"
    assert announced == []
