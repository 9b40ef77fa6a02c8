"""Checking what a rep types or imports: addresses, endpoints, sending windows, warm-up."""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailmonitor.models.account import KINDS, SECURITIES


class InvalidInput(ValueError):
    """Bad input, with a message meant for the rep."""


_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def normalize_email(value: str) -> str:
    """A plain address (local@domain); raises InvalidInput otherwise. The domain is lower-cased."""
    text = (value or "").strip()
    if not text:
        raise InvalidInput("the email address is empty")
    if text.count("@") != 1:
        raise InvalidInput(f"{value!r} is not a valid email address")
    local, domain = text.split("@")
    domain = domain.rstrip(".").lower()
    if (not local or len(local) > 64 or not _LOCAL.match(local) or local.startswith(".")
            or local.endswith(".") or ".." in local):
        raise InvalidInput(f"{value!r} is not a valid email address")
    labels = domain.split(".")
    if not domain or len(domain) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidInput(f"{value!r} is not a valid email address")
    return f"{local}@{domain}"


def validate_host(value: str, what: str) -> str:
    host = (value or "").strip()
    if not host or " " in host or len(host) > 253:
        raise InvalidInput(f"{what} {value!r} is not a valid host name")
    return host


def validate_port(value: str | int, what: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} {value!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise InvalidInput(f"{what} {port} is out of range (1-65535)")
    return port


def validate_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    text = (value or "").strip().lower()
    if text not in choices:
        raise InvalidInput(f"{what} must be one of {', '.join(choices)}, not {value!r}")
    return text


def validate_security(value: str, what: str) -> str:
    return validate_choice(value, SECURITIES, what)


def validate_kind(value: str) -> str:
    return validate_choice(value, KINDS, "kind")


def validate_non_negative(value: str | int, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} {value!r} is not a whole number") from None
    if number < 0:
        raise InvalidInput(f"{what} must not be negative")
    return number


def parse_warmup(value: str) -> tuple[int, int]:
    """`START:STEP`, e.g. 5:5 — START emails on the first day, STEP more each day."""
    match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", value or "")
    if not match or int(match.group(1)) < 1:
        raise InvalidInput(f"warm-up {value!r} must look like START:STEP, e.g. 5:5")
    return int(match.group(1)), int(match.group(2))


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_days(text: str) -> list[int]:
    days: set[int] = set()
    for part in text.lower().split(","):
        if "-" in part:
            first, last = part.split("-", 1)
            if first not in DAY_NAMES or last not in DAY_NAMES:
                raise InvalidInput(f"unknown weekday in {text!r}")
            a, b = DAY_NAMES.index(first), DAY_NAMES.index(last)
            span = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
            days.update(span)
        elif part in DAY_NAMES:
            days.add(DAY_NAMES.index(part))
        else:
            raise InvalidInput(f"unknown weekday {part!r} (use mon, tue, … sun)")
    return sorted(days)


def parse_window(value: str | None) -> dict[str, object] | None:
    """`always`, or `mon-fri 09:00-17:00 Europe/Berlin` (days, hours, IANA time zone)."""
    text = (value or "always").strip()
    if text.lower() == "always":
        return None
    parts = text.split()
    if len(parts) not in (2, 3):
        raise InvalidInput(f"sending window {value!r} must look like "
                           "\"mon-fri 09:00-17:00 Europe/Berlin\" or \"always\"")
    days = _parse_days(parts[0])
    match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", parts[1])
    if not match:
        raise InvalidInput(f"sending hours {parts[1]!r} must look like 09:00-17:00")
    try:
        start = time(int(match.group(1)), int(match.group(2)))
        end = time(int(match.group(3)) % 24, int(match.group(4))) if match.group(3) != "24" \
            else time(0, 0)
    except ValueError:
        raise InvalidInput(f"sending hours {parts[1]!r} are not valid times") from None
    if start == end:
        raise InvalidInput("the sending window's start and end must differ")
    tz = parts[2] if len(parts) == 3 else "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {tz!r}") from None
    return {"days": days, "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"),
            "tz": tz}


def format_window(window: dict[str, object] | None) -> str:
    if not window:
        return "always"
    days = [DAY_NAMES[int(d)] for d in window["days"]]  # type: ignore[attr-defined]
    return f"{','.join(days)} {window['start']}-{window['end']} {window['tz']}"
