"""Provider changes seen coming: dated changes of the big providers that will stop or hurt some
mailboxes (Microsoft switching off SMTP sign-in with a password, Gmail's and Outlook.com's rules
for bulk senders, …), shipped with the app as data and matched against the team's mailboxes.

The list is ``mailmonitor/resources/policies.json``: a ``format`` this loader reads, a
``version`` (the day the list was last checked) and one entry per change — ``id``, ``provider``,
``title``, ``what`` changes, the ``effective`` date, who it ``hits`` (provider kinds and host
patterns, sign-in methods, a minimum daily volume of the sending domain), the server answers that
mark it (``markers``, regular expressions), the ``fix``, the window's ``action`` and the
``source`` (plus ``also``: more links). `parse` checks every field and says which one is wrong.

`hits(change, mailbox, today)` is the pure matcher: whether a change hits a mailbox, and whether
it is upcoming or already in effect for it. A server answer that carries a change's marker is
evidence that it is in effect for that mailbox, whatever the date (`marked_by`, `change_advice`:
the words every "what to do" of a reason adds, through `reasons.advice_for`).

The bottom floor (``common``): reads the package's file, imports nothing of mailmonitor.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from fnmatch import translate
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = 1
SHIPPED = Path(__file__).resolve().parents[2] / "resources" / "policies.json"
PROVIDER_KINDS = ("gmail", "microsoft", "imap")
SIGN_IN_METHODS = ("password", "app_password", "oauth2")
# What the window's main button does for a change (the attention model's actions).
ACTIONS = ("switch_sign_in", "check_dns", "edit_sending")
UPCOMING, IN_EFFECT = "upcoming", "in_effect"

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_HOST_PATTERN = re.compile(r"^[a-z0-9*?.-]+$")
_MAX_MARKER = 300
_CHANGE_KEYS = {"id", "provider", "title", "what", "effective", "hits", "markers", "fix",
                "action", "source", "also"}
_HITS_KEYS = {"kinds", "hosts", "sign_in", "min_daily_volume"}


class PolicyError(ValueError):
    """The list of provider changes cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Hits:
    """Who a change hits. Empty means "any": a change without kinds and hosts hits every
    provider's mailboxes (rules about mail *to* Gmail hit senders on any provider)."""

    kinds: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()  # shell-style patterns, lower case ("*.office365.com")
    sign_in: tuple[str, ...] = ()
    min_daily_volume: int | None = None


@dataclass(frozen=True)
class Change:
    id: str
    provider: str
    title: str
    what: str
    effective: date
    hits: Hits
    markers: tuple[re.Pattern[str], ...]
    fix: str
    action: str
    source: str
    also: tuple[str, ...] = ()

    def status_on(self, today: date) -> str:
        return IN_EFFECT if today >= self.effective else UPCOMING

    def marks(self, answer: str) -> bool:
        """Does a server's answer carry one of this change's markers?"""
        return bool(answer) and any(m.search(answer) for m in self.markers)

    @property
    def date_words(self) -> str:
        """"31 December 2026" (no locale, no platform-specific strftime flags)."""
        return f"{self.effective.day} {self.effective:%B %Y}"


@dataclass(frozen=True)
class Radar:
    version: str
    changes: tuple[Change, ...] = ()
    origin: str = ""


@dataclass(frozen=True)
class MailboxProfile:
    """What the matcher knows of a mailbox."""

    email: str
    kind: str  # gmail | microsoft | imap
    imap_host: str
    smtp_host: str
    sign_in: str  # password | app_password | oauth2
    # What the mailboxes of its domain may send in a day (the sum of their daily limits): the
    # providers' volume rules count per sending domain.
    daily_volume: int = 0
    answer: str = ""  # the server's last words about it (its status detail)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(h.lower() for h in (self.imap_host, self.smtp_host) if h)

    @functools.cached_property
    def fit(self) -> tuple[str, str, str, str, int]:
        """What `matches` looks at: mailboxes alike in it are matched once."""
        return (self.kind, self.imap_host.lower(), self.smtp_host.lower(), self.sign_in,
                self.daily_volume)


@dataclass(frozen=True)
class _Field:
    where: str

    def fail(self, message: str) -> PolicyError:
        return PolicyError(f"{self.where}: {message}")


# --- reading the file ---------------------------------------------------------------------------

def _text(value: Any, name: str, at: _Field) -> str:
    if not isinstance(value, str) or not value.strip():
        raise at.fail(f"{name!r} must be a non-empty text")
    return value.strip()


def _list(value: Any, name: str, at: _Field) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise at.fail(f"{name!r} must be a list")
    return value


def _choices(value: Any, name: str, allowed: tuple[str, ...], at: _Field) -> tuple[str, ...]:
    items = _list(value, name, at)
    wrong = [v for v in items if v not in allowed]
    if wrong:
        raise at.fail(f"{name!r} has {wrong[0]!r}; choose from {', '.join(allowed)}")
    return tuple(items)


def _url(value: Any, name: str, at: _Field) -> str:
    url = _text(value, name, at)
    if not url.startswith("https://") or any(c.isspace() for c in url):
        raise at.fail(f"{name!r} must be an https:// link, got {url!r}")
    return url


def _hits(value: Any, at: _Field) -> Hits:
    if not isinstance(value, dict):
        raise at.fail("'hits' must be an object")
    unknown = sorted(set(value) - _HITS_KEYS)
    if unknown:
        raise at.fail(f"'hits' has an unknown field {unknown[0]!r} "
                      f"(known: {', '.join(sorted(_HITS_KEYS))})")
    hosts = []
    for host in _list(value.get("hosts"), "hosts", at):
        if not isinstance(host, str) or not _HOST_PATTERN.match(host.lower()):
            raise at.fail(f"'hosts' has {host!r}: a host name, '*' and '?' allowed")
        hosts.append(host.lower())
    volume = value.get("min_daily_volume")
    if volume is not None and (isinstance(volume, bool) or not isinstance(volume, int)
                               or volume < 1):
        raise at.fail(f"'min_daily_volume' must be a whole number of at least 1, got {volume!r}")
    return Hits(kinds=_choices(value.get("kinds"), "kinds", PROVIDER_KINDS, at),
                hosts=tuple(hosts),
                sign_in=_choices(value.get("sign_in"), "sign_in", SIGN_IN_METHODS, at),
                min_daily_volume=volume)


def _markers(value: Any, at: _Field) -> tuple[re.Pattern[str], ...]:
    found = []
    for marker in _list(value, "markers", at):
        if not isinstance(marker, str) or not marker or len(marker) > _MAX_MARKER:
            raise at.fail(f"'markers' must hold regular expressions of 1 to {_MAX_MARKER} "
                          f"characters, got {marker!r}")
        try:
            found.append(re.compile(marker, re.IGNORECASE))
        except re.error as exc:
            raise at.fail(f"'markers' has {marker!r}, not a regular expression ({exc})"
                          ) from None
    return tuple(found)


def _change(raw: Any, number: int, origin: str) -> Change:
    at = _Field(f"{origin}: change {number}")
    if not isinstance(raw, dict):
        raise at.fail("must be an object")
    ident = raw.get("id")
    if isinstance(ident, str):
        at = _Field(f"{origin}: change {number} ({ident})")
    unknown = sorted(set(raw) - _CHANGE_KEYS)
    if unknown:
        raise at.fail(f"unknown field {unknown[0]!r} (known: {', '.join(sorted(_CHANGE_KEYS))})")
    missing = sorted(k for k in _CHANGE_KEYS - {"also", "markers"} if k not in raw)
    if missing:
        raise at.fail(f"{missing[0]!r} is missing")
    if not isinstance(ident, str) or not _ID.match(ident):
        raise at.fail(f"'id' must be lower-case words joined by '-', got {ident!r}")
    effective = _text(raw["effective"], "effective", at)
    try:
        when = date.fromisoformat(effective)
    except ValueError:
        raise at.fail(f"'effective' must be an ISO date (YYYY-MM-DD), got {effective!r}"
                      ) from None
    if len(effective) != 10:
        raise at.fail(f"'effective' must be an ISO date (YYYY-MM-DD), got {effective!r}")
    action = raw["action"]
    if action not in ACTIONS:
        raise at.fail(f"'action' is {action!r}; choose from {', '.join(ACTIONS)}")
    return Change(
        id=ident, provider=_text(raw["provider"], "provider", at),
        title=_text(raw["title"], "title", at), what=_text(raw["what"], "what", at),
        effective=when, hits=_hits(raw["hits"], at), markers=_markers(raw.get("markers"), at),
        fix=_text(raw["fix"], "fix", at), action=action,
        source=_url(raw["source"], "source", at),
        also=tuple(_url(u, "also", at) for u in _list(raw.get("also"), "also", at)))


def parse(text: str, origin: str = "policies.json") -> Radar:
    """The list of changes in `text`; PolicyError names the first thing wrong."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PolicyError(f"{origin}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{origin}: must be an object with 'format', 'version' and 'changes'")
    fmt = data.get("format")
    if fmt != FORMAT:
        raise PolicyError(f"{origin}: format {fmt!r} is not one this mailmonitor reads "
                          f"(format {FORMAT}); update mailmonitor or the file")
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise PolicyError(f"{origin}: 'version' must be a non-empty text")
    raw_changes = data.get("changes")
    if not isinstance(raw_changes, list):
        raise PolicyError(f"{origin}: 'changes' must be a list")
    changes = tuple(_change(raw, n, origin) for n, raw in enumerate(raw_changes, 1))
    seen: set[str] = set()
    for change in changes:
        if change.id in seen:
            raise PolicyError(f"{origin}: the id {change.id!r} is used twice")
        seen.add(change.id)
    return Radar(version.strip(), changes, origin)


def load(path: Path) -> Radar:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot be read ({exc})") from None
    return parse(text, str(path))


@functools.cache
def shipped() -> Radar:
    """The list shipped with this mailmonitor (read once); PolicyError when it is damaged."""
    return load(SHIPPED)


def known_changes() -> tuple[Change, ...]:
    """The shipped changes, or none when the file is damaged (logged once: a broken data file
    must not stop the alerts or the advice; `mailmonitor policies` says what is wrong)."""
    try:
        return shipped().changes
    except PolicyError as exc:
        _log_damaged(str(exc))
        return ()


@functools.cache
def _log_damaged(message: str) -> None:
    log.error("the list of provider changes is not used: %s", message)


# --- matching -----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _hosts_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{translate(p)})" for p in patterns))


def matches(rule: Hits, mailbox: MailboxProfile) -> bool:
    """Does the mailbox fit who the change is for (provider, sign-in method, volume)?"""
    if rule.min_daily_volume is not None and mailbox.daily_volume < rule.min_daily_volume:
        return False
    if rule.sign_in and mailbox.sign_in not in rule.sign_in:
        return False
    if not (rule.kinds or rule.hosts) or mailbox.kind in rule.kinds:
        return True
    if not rule.hosts:
        return False
    pattern = _hosts_regex(rule.hosts)
    return any(pattern.match(host) for host in mailbox.hosts)


def hits(change: Change, mailbox: MailboxProfile, today: date) -> str | None:
    """Whether `change` hits `mailbox`: None (it does not), "upcoming" or "in_effect". A server
    answer that carries the change's marker says it is in effect for the mailbox already."""
    if matches(change.hits, mailbox):
        return change.status_on(today)
    if change.marks(mailbox.answer):
        return IN_EFFECT
    return None


def hits_each(change: Change, mailboxes: Sequence[MailboxProfile], today: date
              ) -> list[str | None]:
    """`hits` for many mailboxes at once: mailboxes alike in what `matches` looks at (the same
    provider, sign-in method and volume; a team has few such kinds) are matched once, so the
    attention model's reconcile of a thousand mailboxes stays cheap."""
    status = change.status_on(today)
    fits: dict[tuple[str, str, str, str, int], bool] = {}
    found: list[str | None] = []
    for mailbox in mailboxes:
        key = mailbox.fit
        fit = fits.get(key)
        if fit is None:
            fit = fits[key] = matches(change.hits, mailbox)
        found.append(status if fit else IN_EFFECT if change.marks(mailbox.answer) else None)
    return found


def marked_by(answer: str, changes: tuple[Change, ...] | None = None) -> Change | None:
    """The first known change whose marker the server's answer carries."""
    if not answer:
        return None
    return next((c for c in (known_changes() if changes is None else changes)
                 if c.marks(answer)), None)


def change_advice(answer: str, changes: tuple[Change, ...] | None = None) -> str:
    """One sentence or two naming the provider change a server's answer marks, with its fix
    ("" when it marks none)."""
    change = marked_by(answer, changes)
    if change is None:
        return ""
    return (f"This is a known provider change: {change.provider} — {change.title} "
            f"(from {change.date_words}). {change.fix}")


@dataclass(frozen=True)
class ChangeHit:
    """A change that hits one mailbox, and how (for the mailbox's detail)."""

    change: Change
    status: str  # upcoming | in_effect
    marked: bool = field(default=False)  # its server's answer carries the change's marker


def changes_hitting(mailbox: MailboxProfile, today: date,
                    changes: Iterable[Change] | None = None) -> list[ChangeHit]:
    """Every known change that hits the mailbox, soonest first."""
    found = []
    for change in known_changes() if changes is None else changes:
        status = hits(change, mailbox, today)
        if status is not None:
            found.append(ChangeHit(change, status, change.marks(mailbox.answer)))
    return sorted(found, key=lambda h: (h.change.effective, h.change.id))
