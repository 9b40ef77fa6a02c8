"""Checking what a rep types or imports: addresses, endpoints, sending windows, warm-up."""

from __future__ import annotations

import csv
import io
import ipaddress
import re
import unicodedata
from collections.abc import Sequence
from datetime import time
from email.utils import formataddr
from pathlib import Path
from typing import TYPE_CHECKING

from mailmonitor.models.account import KINDS, SECURITIES
from mailmonitor.services.common import bounds
from mailmonitor.services.common.bounds import MAX_SHOWN_VALUE as MAX_SHOWN_VALUE
from mailmonitor.services.common.bounds import InvalidInput as InvalidInput
from mailmonitor.services.common.bounds import shown as shown

if TYPE_CHECKING:
    from email.headerregistry import Address

# (email.headerregistry, zoneinfo and idna are imported where they are used: `mailmonitor
# check` imports this module and needs none of them.)

# Numbers are bounded at input (spec §7): a limit, a gap or a delay that no calendar can hold is
# bad input, not something for the sending loop to overflow on later. The one table is
# `bounds.NUMBERS`; these names are what older callers read.
MAX_DAILY_LIMIT = bounds.NUMBERS["daily_limit"].high
MAX_MIN_GAP_SECONDS = bounds.NUMBERS["min_gap_seconds"].high
MAX_DELAY_DAYS = bounds.NUMBERS["delay_days"].high
MAX_SHOWN_ERRORS = 5  # a long list of bad rows: the first few, then the count


def summarize_errors(errors: Sequence[str], shown_count: int = MAX_SHOWN_ERRORS) -> str:
    """`line 2: …; line 3: …; and 99,995 more` — one readable line however many rows are bad."""
    head = "; ".join(errors[:shown_count])
    rest = len(errors) - shown_count
    return head + (f"; and {rest:,} more" if rest > 0 else "")


_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
# A local part's characters: RFC 5322 atoms, plus any non-ASCII letter, digit or symbol (RFC
# 6531); never a space, a control character or a quote.
_LOCAL_UTF8 = re.compile(r"^(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]|[^\x00-\x7f\s])+$")


def normalize_email(value: str) -> str:
    """A plain address (local@domain); raises InvalidInput otherwise. The domain is lower-cased
    and, when internationalized, kept in Unicode (`jürgen@bücher.de`, also when typed as
    `xn--bcher-kva.de`): that is how the rep reads it; `wire_address` gives what goes on the
    wire. A non-ASCII local part is accepted here; only a server that announces SMTPUTF8 can
    take it (sender.py refuses it otherwise, saying so)."""
    text = unicodedata.normalize("NFC", (value or "").strip())
    if not text:
        raise InvalidInput("the email address is empty")
    if text.count("@") != 1 or len(text) > 320:
        raise InvalidInput(f"{shown(value)} is not a valid email address")
    local, domain = text.split("@")
    if (not local or len(local.encode("utf-8")) > 64 or not _LOCAL_UTF8.match(local)
            or local.startswith(".") or local.endswith(".") or ".." in local):
        raise InvalidInput(f"{shown(value)} is not a valid email address")
    unicode_domain = display_domain(domain)
    if unicode_domain is None:
        raise InvalidInput(f"{shown(value)} is not a valid email address")
    return f"{local}@{unicode_domain}"


def display_domain(domain: str) -> str | None:
    """A domain as the rep reads it (lower case; an IDN in Unicode), or None when it is not a
    valid domain name (IDNA 2008 / UTS 46 for internationalized ones)."""
    domain = domain.rstrip(".").lower()
    if domain.isascii() and "xn--" not in domain:
        labels = domain.split(".")
        if not domain or len(domain) > 253 or not all(_LABEL.match(label) for label in labels):
            return None
        return domain
    import idna

    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
        unicode_domain: str = idna.decode(ascii_domain)
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    labels = ascii_domain.split(".")
    if len(ascii_domain) > 253 or len(labels) < 2 or not all(_LABEL.match(label)
                                                               for label in labels):
        return None
    return unicode_domain


def ascii_domain(domain: str) -> str:
    """The domain as DNS and SMTP carry it: `bücher.de` → `xn--bcher-kva.de`."""
    if domain.isascii():
        return domain
    import idna

    return idna.encode(domain, uts46=True).decode("ascii")


def wire_address(address: str) -> str:
    """The address as an SMTP envelope or a header carries it: the domain in punycode, the
    local part as it is (non-ASCII only under SMTPUTF8: `needs_smtputf8`)."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{ascii_domain(domain)}" if local else address


def no_smtputf8(host: str, address: str) -> str:
    """Why an address with non-ASCII characters before the @ cannot go through this server."""
    return (f"{host} does not accept addresses with non-ASCII characters before the @ such as "
            f"{address} (it does not announce SMTPUTF8)")


def address_header(name: str, address: str) -> str | Address:
    """A From/To header value: `Name <local@xn--…>`; an address with a non-ASCII local part as
    an Address object (formataddr refuses it; it goes into UTF-8 headers, RFC 6532)."""
    wire = wire_address(address)
    if needs_smtputf8(address):
        local, _, domain = wire.rpartition("@")
        from email.headerregistry import Address

        return Address(display_name=name, username=local, domain=domain)
    return formataddr((name, wire))


def needs_smtputf8(address: str) -> bool:
    """A non-ASCII local part (`jürgen@…`): only a server that announces SMTPUTF8 (RFC 6531)
    can carry it; an internationalized domain alone travels as punycode."""
    return not address.rpartition("@")[0].isascii()


def same_address(a: str, b: str) -> bool:
    """Addresses are one identity case-insensitively (spec §7)."""
    return a.strip().lower() == b.strip().lower()


def validate_host(value: str, what: str) -> str:
    """A host name (mail.example.com) or an IP address; nothing else: `127.0.0.1:993` (the port
    has its own option) and `http://evil/` are refused."""
    host = (value or "").strip()
    bad = InvalidInput(f"{what} {shown(value)} is not a host name or IP address"
                       + (" (give the port with its own option)" if re.fullmatch(
                           r"[^:/\s]+:\d+", host) else ""))
    if not host or len(host) > 253:
        raise bad
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise bad from None
    labels = ascii_host.rstrip(".").split(".")
    if not all(_LABEL.match(label) for label in labels) or ascii_host.rstrip(".").replace(
            ".", "").isdigit():
        raise bad
    return host.rstrip(".")


def is_loopback_host(host: str) -> bool:
    """This computer itself."""
    name = (host or "").strip().lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def local_address(name: str) -> bool | None:
    """For an IP address: whether it is this computer or the local network (loopback,
    private, link-local); None when `name` is a host name, not an address."""
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    return address.is_loopback or address.is_private or address.is_link_local


def is_local_host(host: str) -> bool:
    """This computer or the local network: where a plain (unencrypted) connection is the
    rep's own business. Names other than `localhost` count as remote (a name may resolve
    anywhere); `monitoring.network.reachable_offline` is the lenient twin for reachability."""
    name = (host or "").strip().lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    return local_address(name) is True


def validate_port(value: str | int | None, what: str) -> int:
    """`what` is "IMAP port", "SMTP port" or "relay port" (the table's keys)."""
    key = what.lower().replace(" ", "_")
    return bounds.number(key if key in bounds.NUMBERS else "imap_port", value, what)



def validate_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    text = (value or "").strip().lower()
    if text not in choices:
        raise InvalidInput(f"{what} must be one of {', '.join(choices)}, not {value!r}")
    return text


def validate_security(value: str, what: str) -> str:
    return validate_choice(value, SECURITIES, what)


def validate_kind(value: str) -> str:
    return validate_choice(value, KINDS, "kind")


def validate_non_negative(value: str | int | float, what: str, maximum: int | None = None,
                          unit: str = "") -> int:
    """A whole number from 0 to `maximum` (for values outside the table, e.g. a count)."""
    limits = bounds.Bound(what, 0, maximum if maximum is not None else 2**63, unit)
    return int(bounds.within(limits, value))


def validate_daily_limit(value: str | int) -> int:
    return bounds.number("daily_limit", value)


def validate_min_gap(value: str | int) -> int:
    return bounds.number("min_gap_seconds", value)


def validate_delay_days(value: object, what: str = "delay_days") -> float:
    """A step's delay in days: a finite number from 0 to ten years (fractions allowed)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{what} must be a number of days ≥ 0, not {shown(value)}")
    return bounds.fraction("delay_days", value, what)


def parse_warmup(value: str) -> tuple[int, int]:
    """`START:STEP`, e.g. 5:5 — START emails on the first day, STEP more each day."""
    if not (value or "").strip():
        raise InvalidInput("the warm-up is empty (give START:STEP, e.g. 5:5, or off)")
    match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", value or "")
    if not match:
        raise InvalidInput(f"warm-up {shown(value)} must look like START:STEP, e.g. 5:5")
    return (bounds.number("warmup_start", match.group(1)),
            bounds.number("warmup_step", match.group(2)))


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
    until_midnight = (match.group(3), match.group(4)) == ("24", "00")  # 24:00 = midnight
    try:
        start = time(int(match.group(1)), int(match.group(2)))
        end = time(0, 0) if until_midnight else time(int(match.group(3)), int(match.group(4)))
    except ValueError:
        raise InvalidInput(f"sending hours {shown(parts[1])} are not valid times "
                           "(00:00 to 23:59, or 24:00 for midnight)") from None
    if start == end:
        raise InvalidInput("the sending window's start and end must differ")
    tz = parts[2] if len(parts) == 3 else "UTC"
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


MAX_CSV_BYTES = 50_000_000  # a CSV of leads or accounts; larger is not a list a rep made


def read_csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line number, row) pairs. Raises InvalidInput for unreadable or malformed CSV."""
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise InvalidInput(f"{path} is larger than {MAX_CSV_BYTES // 1_000_000} MB: split it")
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text (save the CSV as UTF-8)") from None
    if "\x00" in text:
        raise InvalidInput(f"{path} is not a CSV file")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InvalidInput(f"{path}: malformed CSV at line {reader.line_num}: {exc}") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InvalidInput(f"{path} is empty: it needs a header row")
    header = [cell.strip().lower().replace("-", "_").replace(" ", "_") for cell in rows[0]]
    if len(set(header)) != len(header):
        raise InvalidInput(f"{path}: the header repeats a column name")
    result: list[tuple[int, dict[str, str]]] = []
    line = 1
    for cells in rows[1:]:
        line += 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            result.append((line, {"__error__": f"has {len(cells)} cells, the header has "
                                                f"{len(header)}"}))
            continue
        result.append((line, dict(zip(header, (c.strip() for c in cells), strict=True))))
    return header, result
