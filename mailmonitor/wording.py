"""Numbers in words, as alerts, the command line and the window say them (no Qt, no database):
"1 lead", "2,000 leads", "3 days", "1 hour", "10 minutes"."""

from __future__ import annotations

from datetime import timedelta

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


def count(n: int, singular: str, plural: str | None = None) -> str:
    """'1 lead', '2,000 leads' (`plural` for irregular words)."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def duration_words(duration: timedelta | float) -> str:
    """A duration in its largest whole unit: '3 days', '1 hour', '90 minutes', '45 seconds'.

    A unit is used only when it divides the duration exactly, so nothing is rounded away
    (36 hours stays '36 hours', not '1 day'); fractions of a second are dropped."""
    seconds = int(duration.total_seconds() if isinstance(duration, timedelta) else duration)
    for name, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            return count(seconds // size, name)
    return count(seconds, "second")


def verb(n: int, singular: str, plural: str) -> str:
    """The verb that agrees with ``n``: verb(1, "waits", "wait") → "waits"."""
    return singular if n == 1 else plural
