"""The rep's deliverability settings, checked and stored together: the one-click unsubscribe URL
(`unsubscribe_url`), the footer line of every campaign email (`unsubscribe_footer`) and the daily
round trip (`round_trip_daily`, `round_trip_timeout_seconds`). The window's Settings →
Deliverability page and `mailmonitor deliverability settings` both go through `validate` and
`save`; what is stored is exactly what `unsubscribe.config` and `daily` read.

A bad value raises `InvalidSetting` (its `field` names the setting) and nothing is stored."""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from mailmonitor.models import db, get_setting, set_setting
from mailmonitor.services.common import bounds
from mailmonitor.services.common.validation import InvalidInput, is_loopback_host
from mailmonitor.services.deliverability import unsubscribe

URL_MAX = 500  # the List-Unsubscribe header is folded only between its links (< 998 a line)
FOOTER_MAX = unsubscribe.FOOTER_MAX
# Seconds; the one table of bounds (common.bounds), also for `check --round-trip-timeout`.
TIMEOUT_MIN = bounds.NUMBERS["round_trip_timeout_seconds"].low
TIMEOUT_MAX = bounds.NUMBERS["round_trip_timeout_seconds"].high
SAMPLE_TOKEN = "Xb3kQ9mZ2rT7wLpA"  # a token as `unsubscribe.token_for` makes them (16 chars)
URL_EXAMPLE = "https://example.com/unsubscribe/{token}"


class InvalidSetting(InvalidInput):
    """A value the rep typed that cannot be stored; `field` is the setting's key."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class DeliverabilitySettings:
    unsubscribe_url: str | None = None  # None: only the mailto List-Unsubscribe
    unsubscribe_footer: str = ""
    round_trip_daily: bool = False
    round_trip_timeout_seconds: int = 120

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def current() -> DeliverabilitySettings:
    """What is stored now (the defaults where nothing is)."""
    return DeliverabilitySettings(
        unsubscribe_url=get_setting("unsubscribe_url") or None,
        unsubscribe_footer=str(get_setting("unsubscribe_footer") or ""),
        round_trip_daily=bool(get_setting("round_trip_daily")),
        round_trip_timeout_seconds=int(get_setting("round_trip_timeout_seconds")))


def check_url(text: str | None) -> str | None:
    """The one-click URL, or None for "mailto only" (empty). Raises InvalidSetting."""
    url = (text or "").strip()
    if not url:
        return None

    def bad(message: str) -> InvalidSetting:
        return InvalidSetting("unsubscribe_url", message)

    if len(url) > URL_MAX:
        raise bad(f"The unsubscribe URL is longer than {URL_MAX} characters.")
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        raise bad("The unsubscribe URL may not contain spaces or non-ASCII characters "
                  "(percent-encode them, e.g. %20).")
    if any(c in url for c in "<>,\"'\\"):
        raise bad("The unsubscribe URL may not contain < > , quotes or backslashes "
                  "(percent-encode them).")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # an impossible port raises here
    except ValueError:
        raise bad(f"The unsubscribe URL is not a valid web address, e.g. {URL_EXAMPLE}"
                  ) from None
    if parts.scheme not in ("https", "http") or not host:
        raise bad(f"The unsubscribe URL must start with https:// and name a host, e.g. "
                  f"{URL_EXAMPLE}")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise bad("The unsubscribe URL must use https:// (plain http:// only for this "
                  "computer: localhost or 127.0.0.1).")
    if "{token}" not in url:
        raise bad(f"The unsubscribe URL must contain {{token}} where each lead's token goes, "
                  f"e.g. {URL_EXAMPLE}")
    if "{token}" in host or "{token}" in parts.netloc:
        raise bad("{token} belongs in the path or query of the unsubscribe URL, not in its "
                  "host.")
    return url


def check_footer(text: str | None) -> str:
    """The footer line as emails will carry it (runs of spaces as one). Raises InvalidSetting."""
    raw = text or ""

    def bad(message: str) -> InvalidSetting:
        return InvalidSetting("unsubscribe_footer", message)

    if "\n" in raw or "\r" in raw or any(unicodedata.category(c) in ("Zl", "Zp") for c in raw):
        raise bad("The footer is one line: remove the line breaks.")
    if any(unicodedata.category(c) == "Cc" and c != "\t" for c in raw):
        raise bad("The footer may not contain control characters.")
    footer = " ".join(raw.split())
    if len(footer) > FOOTER_MAX:
        raise bad(f"The footer is {len(footer)} characters long; at most {FOOTER_MAX}.")
    if "{token}" in footer:
        raise bad("The footer is sent as written: {token} is only filled in in the "
                  "one-click URL.")
    if "{{" in footer:
        raise bad("The footer is sent as written: {{fields}} are not filled in there.")
    return footer


def check_timeout(value: Any) -> int:
    """Whole seconds, TIMEOUT_MIN..TIMEOUT_MAX. Raises InvalidSetting."""
    message = (f"The round-trip timeout must be a whole number of seconds from {TIMEOUT_MIN} "
               f"to {TIMEOUT_MAX}.")
    if isinstance(value, bool):
        raise InvalidSetting("round_trip_timeout_seconds", message)
    try:
        seconds = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise InvalidSetting("round_trip_timeout_seconds", message) from None
    if not TIMEOUT_MIN <= seconds <= TIMEOUT_MAX:
        raise InvalidSetting("round_trip_timeout_seconds", message)
    return seconds


_UNCHANGED: Any = object()


def validate(unsubscribe_url: Any = _UNCHANGED, unsubscribe_footer: Any = _UNCHANGED,
             round_trip_daily: Any = _UNCHANGED, round_trip_timeout_seconds: Any = _UNCHANGED,
             base: DeliverabilitySettings | None = None) -> DeliverabilitySettings:
    """The settings with the given values changed (the others as stored, or as `base`),
    every value checked. Raises InvalidSetting for the first bad one; stores nothing."""
    values = base or current()
    if unsubscribe_url is not _UNCHANGED:
        values = replace(values, unsubscribe_url=check_url(unsubscribe_url))
    if unsubscribe_footer is not _UNCHANGED:
        values = replace(values, unsubscribe_footer=check_footer(unsubscribe_footer))
    if round_trip_daily is not _UNCHANGED:
        if not isinstance(round_trip_daily, bool):
            raise InvalidSetting("round_trip_daily", "The daily round trip is on or off.")
        values = replace(values, round_trip_daily=round_trip_daily)
    if round_trip_timeout_seconds is not _UNCHANGED:
        values = replace(values,
                         round_trip_timeout_seconds=check_timeout(round_trip_timeout_seconds))
    return values


def store(values: DeliverabilitySettings) -> None:
    """Write the four settings (inside the caller's transaction). `values` come from
    `validate`."""
    for key, value in values.to_json().items():
        set_setting(key, value)


def checked(values: DeliverabilitySettings) -> DeliverabilitySettings:
    """`values` with every field checked (a hand-made value is refused like a typed one)."""
    return validate(values.unsubscribe_url, values.unsubscribe_footer, values.round_trip_daily,
                    values.round_trip_timeout_seconds, base=values)


def save(values: DeliverabilitySettings) -> DeliverabilitySettings:
    """Check, then store the settings in one transaction; nothing is written when one is
    bad."""
    checked_values = checked(values)
    with db.atomic():
        store(checked_values)
    return checked_values


# --- what the rep sees before saving -----------------------------------------------------------

def one_click_preview(url: str | None) -> str:
    """A lead's one-click link, with a sample token (the composer's own replacement)."""
    return unsubscribe.one_click_url(url, SAMPLE_TOKEN) if url else ""
