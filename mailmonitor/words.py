"""Counting in the rep's words: "1 lead waits", "3 leads wait" (never "the 1 leads"). Qt-free."""

from __future__ import annotations


def count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def verb(n: int, singular: str, plural: str) -> str:
    """The verb that agrees with ``n``: verb(1, "waits", "wait") → "waits"."""
    return singular if n == 1 else plural
