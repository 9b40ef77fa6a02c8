"""The one table of bounds for every number and text a rep enters (spec §7: "numbers are
bounded at input"): `accounts add`, `edit` and `import`, `campaigns create` and `edit`,
`notify add`, the settings, and the window's fields (their spin boxes take their ranges from
here). Every path checks a value with `number(key, value)` or `text(key, value)`, so a daily
limit, a gap or a port is held to the same range whichever way it came in, and a bad value is
named as itself in one line.

An empty value where one is needed is refused ("the IMAP host is empty"), never taken for
"leave it as it is" or "0".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_SHOWN_VALUE = 60  # characters of a bad value quoted back to the rep


class InvalidInput(ValueError):
    """Bad input, with a message meant for the rep."""


def shown(value: object) -> str:
    """A value quoted back in a message, shortened: a 1 MB cell must not become a 1 MB line."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_VALUE else text[:MAX_SHOWN_VALUE - 5] + "…" + text[-4:]


@dataclass(frozen=True)
class Bound:
    """A number a rep enters: `what` names it in messages; `unit` follows the limits."""

    what: str
    low: int
    high: int
    unit: str = ""
    whole: bool = True  # fractions refused (a delay in days may have them)
    grouped: bool = True  # 100,000 — but a port is 65535

    def words(self, value: float) -> str:
        if self.grouped and float(value).is_integer():
            return f"{int(value):,}"
        return f"{value:g}" if isinstance(value, float) else str(value)

    def limit_words(self, value: int) -> str:
        """`86,400 seconds`, `1 minute`, `65535`."""
        unit = self.unit
        if value == 1 and unit:  # "at least 1 minute", "1 email on the first day"
            head, _, tail = unit.lstrip().partition(" ")
            unit = " " + (head[:-1] if head.endswith("s") else head) + (f" {tail}" if tail
                                                                          else "")
        return self.words(value) + unit

    @property
    def range_words(self) -> str:
        return f"{self.words(self.low)}–{self.words(self.high)}{self.unit}"


@dataclass(frozen=True)
class TextBound:
    """A text a rep enters."""

    what: str
    longest: int
    required: bool = False  # empty is refused
    one_line: bool = True
    no_spaces: bool = False


NUMBERS: dict[str, Bound] = {
    # A mailbox (accounts add / edit / import, Add mailbox, Edit mailbox, Edit Warm-up).
    "daily_limit": Bound("daily limit", 0, 100_000, " emails a day"),
    "min_gap_seconds": Bound("minimum gap", 0, 86_400, " seconds"),
    "warmup_start": Bound("warm-up start", 1, 100_000, " emails on the first day"),
    "warmup_step": Bound("warm-up step", 0, 100_000, " more emails each day"),
    "imap_port": Bound("IMAP port", 1, 65_535, grouped=False),
    "smtp_port": Bound("SMTP port", 1, 65_535, grouped=False),
    "relay_port": Bound("relay port", 1, 65_535, grouped=False),
    "password_rotation_days": Bound("password reminder", 1, 3_650, " days"),
    "sign_in_timeout_seconds": Bound("--timeout", 1, 3_600, " seconds", whole=False),
    # A campaign (campaigns create / edit, New campaign, Edit campaign).
    "delay_days": Bound("delay_days", 0, 3_650, " days", whole=False),
    "steps": Bound("steps", 1, 100),
    "auto_reallocate_minutes": Bound("automatic re-allocation", 1, 43_200, " minutes"),
    # Settings (the window's Settings dialog; `deliverability settings`; `check`).
    "check_interval_seconds": Bound("check interval", 60, 14_400, " seconds"),
    "transient_window_minutes": Bound("retry before alerting", 5, 1_440, " minutes"),
    "grace_period_minutes": Bound("grace period", 5, 10_080, " minutes"),
    "long_wait_days": Bound("stop contacted leads after", 1, 60, " days"),
    "attention_min_failures": Bound("failed checks before retrying needs you", 1, 10),
    "attention_min_minutes": Bound("minutes before retrying needs you", 0, 240, " minutes"),
    "reminder_hours": Bound("reminder every", 1, 168, " hours"),  # 0: off
    "round_trip_timeout_seconds": Bound("round-trip timeout", 1, 3_600, " seconds"),
    "check_concurrency": Bound("--concurrency", 1, 64),  # more only trips providers' limits
}

TEXTS: dict[str, TextBound] = {
    "email": TextBound("the email address", 320, required=True),
    "sender_name": TextBound("the sender name", 200),
    "signature": TextBound("the signature", 10_000, one_line=False),
    "imap_host": TextBound("the IMAP host", 253, required=True, no_spaces=True),
    "smtp_host": TextBound("the SMTP host", 253, required=True, no_spaces=True),
    "relay_host": TextBound("the relay host", 253, required=True, no_spaces=True),
    "username": TextBound("the user name", 320, no_spaces=True),
    "password": TextBound("the password", 1_000, required=True),
    "ca_file": TextBound("the CA file", 4_096),
    "campaign_name": TextBound("the campaign name", 200, required=True),
    "subject": TextBound("a step's subject", 1_000),
    "body": TextBound("a step's body", 1_000_000, one_line=False),
    "window": TextBound("the sending window", 200, required=True),
    "steps_file": TextBound("the steps file (--steps)", 4_096, required=True),
    "channel_name": TextBound("the channel name", 80, required=True),
    "webhook_url": TextBound("the webhook URL", 2_000, required=True, no_spaces=True),
    "channel_email": TextBound("the alert address", 320, required=True),
    "relay_from": TextBound("the relay's sender address (--relay-from)", 320, required=True),
    "mailbox": TextBound("the mailbox", 320, required=True),
}


def bound(key: str) -> Bound:
    return NUMBERS[key]


def number(key: str, value: object, what: str | None = None) -> int:
    """A whole number within the table's bounds for `key`; raises InvalidInput naming the
    value. Accepts what a command line, a CSV cell, JSON or a spin box gives."""
    result = within(NUMBERS[key], value, what)
    return int(result)


def fraction(key: str, value: object, what: str | None = None) -> float:
    """A finite number within the bounds for `key` (fractions allowed)."""
    return float(within(NUMBERS[key], value, what))


def within(limits: Bound, value: object, what: str | None = None) -> float:
    """`value` checked against `limits` (a bound outside the table, e.g. a count)."""
    name = what or limits.what
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidInput(f"{name} is empty (give a number, {limits.range_words})")
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be a number, not {shown(value)}")
    if isinstance(value, str):
        raw = value.strip()
        try:
            parsed = float(raw) if not limits.whole else int(raw)
        except ValueError:
            try:  # "1e3" or "2.0": a number, but is it whole?
                parsed = float(raw)
            except ValueError:
                kind = "a whole number" if limits.whole else "a number"
                raise InvalidInput(f"{name} {shown(value)} is not {kind}") from None
    elif isinstance(value, int | float):
        parsed = value
    else:
        raise InvalidInput(f"{name} must be a number, not {shown(value)}")
    if isinstance(parsed, float):
        if math.isnan(parsed):
            raise InvalidInput(f"{name} {shown(value)} is not a number")
        if limits.whole and math.isfinite(parsed) and not parsed.is_integer():
            raise InvalidInput(f"{name} {shown(value)} is not a whole number")
    if parsed > limits.high:
        raise InvalidInput(f"{name} {_quoted(value)} is too large (at most "
                           f"{limits.limit_words(limits.high)})")
    if parsed < limits.low:
        raise InvalidInput(f"{name} {_quoted(value)} is too small (at least "
                           f"{limits.limit_words(limits.low)})")
    return parsed


def _quoted(value: object) -> str:
    """A number as the rep typed it (a long one shortened)."""
    text = value.strip() if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_SHOWN_VALUE else shown(text)


def text(key: str, value: str | None, what: str | None = None) -> str:
    """The text, stripped at both ends, within the bounds for `key`; raises InvalidInput."""
    limits = TEXTS[key]
    name = what or limits.what
    stripped = (value or "").strip() if limits.one_line else (value or "")
    if not stripped.strip():
        if limits.required:
            raise InvalidInput(f"{name} is empty")
        return ""
    if len(stripped) > limits.longest:
        raise InvalidInput(f"{name} is too long ({len(stripped):,} characters; at most "
                           f"{limits.longest:,})")
    if limits.one_line and ("\n" in stripped or "\r" in stripped):
        raise InvalidInput(f"{name} must be one line")
    if limits.no_spaces and any(c.isspace() for c in stripped):
        raise InvalidInput(f"{name} {shown(stripped)} may not contain spaces")
    if any(ord(c) < 32 and c not in "\t\r\n" for c in stripped):
        raise InvalidInput(f"{name} contains control characters")
    return stripped


def required(key: str, value: str | None) -> str:
    """A value that must not be empty (a command line's `--webhook ""`), otherwise unchecked
    here: the caller checks its form."""
    if value is None or not str(value).strip():
        raise InvalidInput(f"{TEXTS[key].what} is empty")
    return str(value)
