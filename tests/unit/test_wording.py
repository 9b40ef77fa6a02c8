"""One wording for counts and durations (alerts, the disconnect preview, the window)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailmonitor.wording import count, duration_words


@pytest.mark.parametrize(("duration", "words"), [
    (timedelta(days=3), "3 days"),
    (timedelta(days=1), "1 day"),
    (timedelta(hours=1), "1 hour"),
    (timedelta(hours=36), "36 hours"),
    (timedelta(minutes=90), "90 minutes"),
    (timedelta(minutes=1), "1 minute"),
    (600, "10 minutes"),
    (45, "45 seconds"),
    (1, "1 second"),
    (timedelta(minutes=1501), "1,501 minutes"),
])
def test_duration_in_its_largest_exact_unit(duration: timedelta | int, words: str) -> None:
    assert duration_words(duration) == words


def test_count_pluralises_and_groups_thousands() -> None:
    assert count(1, "lead") == "1 lead"
    assert count(2000, "lead") == "2,000 leads"
    assert count(2, "mailbox", "mailboxes") == "2 mailboxes"
