"""Words and numbers as the window shows them (no widgets here)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape

from mailmonitor.services.accounts.providers import PRESETS, preset_for_host
from mailmonitor.services.common.reasons import Status

_CLI_ASIDE = re.compile(r"\s*\([^()]*--[a-z][\w-]*[^()]*\)")


def sentence(message: object) -> str:
    """A service's message as the window says it: a sentence, without the command line's
    option names ("the IMAP host is missing (--imap-host)" → "The IMAP host is missing.")."""
    text = _CLI_ASIDE.sub("", str(message)).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def esc(text: str) -> str:
    """Text safe inside a rich-text label (quotes stay as they are: labels are not attributes)."""
    return escape(text, quote=False)


def relative_time(then: datetime | None, now: datetime) -> str:
    """'just now', '2 min ago', '3 h ago', 'yesterday', '5 days ago' (naive UTC in)."""
    if then is None:
        return "never"
    seconds = (now - then).total_seconds()
    if seconds < -60:
        return "in the future"
    if seconds < 45:
        return "just now"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{max(1, minutes)} min ago"
    hours = int(seconds // 3600)
    if hours < 24:
        return f"{hours} h ago"
    days = int(seconds // 86400)
    return "yesterday" if days == 1 else f"{days} days ago"


def local_time(value: datetime | None) -> str:
    if value is None:
        return "never"
    return value.replace(tzinfo=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def provider_name(kind: str, imap_host: str) -> str:
    """'Gmail', 'Yahoo' (a known host), else 'IMAP/SMTP'."""
    if kind in PRESETS:
        return PRESETS[kind].name
    preset = preset_for_host(imap_host) if imap_host else None
    return preset.name if preset is not None else "IMAP/SMTP"


SUMMARY_ORDER = (
    (Status.CONNECTED.value, "connected"),
    (Status.CHECKING.value, "checking"),
    (Status.WARNING.value, "retrying"),
    (Status.DISCONNECTED.value, "need{s} attention"),
    (Status.OFFLINE.value, "offline"),
    (Status.STOPPED.value, "stopped"),
)


def _status_words(counts: Mapping[str, int]) -> str:
    parts = []
    for status, words in SUMMARY_ORDER:
        n = counts.get(status, 0)
        if n:
            parts.append(f"{n} " + words.replace("{s}", "s" if n == 1 else ""))
    return " · ".join(parts)


NO_OWNER = "—"


def owner_text(owner: str) -> str:
    """An Owner cell: the member's name, or a dash for nobody."""
    return owner or NO_OWNER


def owner_tooltip(owner: str, me: str) -> str:
    if not owner:
        return "No owner: only the admins hear of its alerts"
    return f"Owned by {esc(owner)}" + (" (you)" if owner == me else "")


def status_summary(counts: Mapping[str, int], scope: str | None = None) -> str:
    """'3 connected · 1 retrying · 1 needs attention' (only the statuses present); with a scope
    (a team database's filter), 'Mine: 3 connected · …' or 'Mine: no mailboxes'."""
    text = _status_words(counts)
    if scope is None:
        return text or "No mailboxes yet"
    return f"{scope}: {text or 'no mailboxes'}"


def count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def duration_words(seconds: int) -> str:
    if seconds % 3600 == 0 and seconds >= 3600:
        return count(seconds // 3600, "hour")
    if seconds % 60 == 0 and seconds >= 60:
        return count(seconds // 60, "minute")
    return count(seconds, "second")
