"""The rep's day: daily limits and warm-up days follow the rep's own time zone (setting
`time_zone`; empty means the computer's), daylight saving included.

The database keeps naive UTC everywhere; this module turns a UTC instant into the rep's calendar
day and that day back into its UTC bounds (23 or 25 hours long on the days the clocks change).
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from mailmonitor.models import get_setting

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo


def _zone(name: str) -> ZoneInfo | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # here: `check` needs no time zone

    try:
        return ZoneInfo(name.strip().lstrip(":"))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def system_zone_name() -> str | None:
    """The computer's IANA time zone name (TZ, /etc/localtime, /etc/timezone), or None."""
    candidates = [os.environ.get("TZ", "")]
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        if name and _zone(name) is not None:
            return name.strip().lstrip(":")
    return None


def rep_zone() -> tzinfo:
    """The zone the rep's days are counted in: the setting, else the computer's zone (as a fixed
    offset when the system gives no name, e.g. on some Windows set-ups)."""
    configured = get_setting("time_zone")
    if configured:
        zone = _zone(str(configured))
        if zone is not None:
            return zone
    name = system_zone_name()
    if name:
        zone = _zone(name)
        if zone is not None:
            return zone
    return datetime.now().astimezone().tzinfo or UTC


def rep_today(now: datetime, zone: tzinfo | None = None) -> date:
    """The rep's calendar day at `now` (naive UTC)."""
    return now.replace(tzinfo=UTC).astimezone(zone or rep_zone()).date()


def rep_day_bounds(now: datetime, zone: tzinfo | None = None) -> tuple[datetime, datetime]:
    """Naive-UTC start and end of the rep's day that contains `now`."""
    zone = zone or rep_zone()
    day = rep_today(now, zone)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=zone)
    return (start.astimezone(UTC).replace(tzinfo=None),
            end.astimezone(UTC).replace(tzinfo=None))
