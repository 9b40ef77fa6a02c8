"""A check's bookkeeping in the rep's words: why it ran ("scheduled, confirmed by a second
check", not "schedule+confirm") and how long each step took ("connect 12 ms · sign-in 31 ms",
not a Python dict). Qt-free."""

from __future__ import annotations

from collections.abc import Mapping

TRIGGER_WORDS = {
    "schedule": "scheduled",
    "manual": "Test Connection",
    "reconnect": "reconnect",
    "switch": "sign-in method switched",
    "send": "before sending",
    "cli": "command line",
    "online": "back online",
    "wake": "after sleep",
    "demo": "demo start",
    "confirm": "confirmed by a second check",
    "held": "held back by the login budget",
}

PHASE_WORDS = {
    "connect": "connect", "tls": "TLS", "greeting": "greeting", "ehlo": "EHLO",
    "auth": "sign-in", "select": "inbox", "noop": "NOOP", "logout": "sign-out",
    "quit": "sign-out",
}


def trigger_words(trigger: str | None) -> str:
    parts = [p for p in (trigger or "schedule").split("+") if p]
    words = [TRIGGER_WORDS.get(part, part.replace("_", " ")) for part in parts]
    return ", ".join(words) if words else "scheduled"


def phases_words(phases: Mapping[str, object] | None) -> str:
    if not phases:
        return ""
    out = []
    for name, ms in phases.items():
        try:
            value = float(ms)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        out.append(f"{PHASE_WORDS.get(name, name)} {value:.0f} ms")
    return " · ".join(out)
