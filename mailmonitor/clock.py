"""An injectable clock: every time-based rule asks one of these, so tests never sleep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)


class FakeClock:
    """A clock for tests: naive UTC, moved by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 23, 9, 0, 0)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


class FileClock:
    """A clock another process moves: the naive-UTC ISO time written in a file (read at every
    call). `mailmonitor run --headless` uses it when MAILMONITOR_CLOCK_FILE is set, so a test can
    walk a real runner through days and kill it in between. Never set it for real use."""

    def __init__(self, path: str) -> None:
        self.path = path

    def now(self) -> datetime:
        with open(self.path, encoding="ascii") as handle:
            return datetime.fromisoformat(handle.read().strip()).replace(tzinfo=None)


def clock_from_env() -> Clock:
    import os

    path = os.environ.get("MAILMONITOR_CLOCK_FILE", "").strip()
    return FileClock(path) if path else SystemClock()


def utcnow() -> datetime:
    """Naive UTC now; the database stores naive UTC everywhere."""
    return SystemClock().now()
