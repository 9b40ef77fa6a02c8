"""Saving the app's settings (the window's Settings dialog) and what follows from them."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailmonitor.models import Account, db, get_setting, set_setting
from mailmonitor.models.account import DEFAULT_CHECK_INTERVAL_SECONDS
from mailmonitor.services.common import bounds

if TYPE_CHECKING:
    from mailmonitor.services.deliverability.settings import DeliverabilitySettings

AUTOSTART_ENTRY = """[Desktop Entry]
Type=Application
Name=mailmonitor
Comment=Keeps outreach mailboxes connected and campaigns running
Exec={command}
Icon=mailmonitor
Terminal=false
X-GNOME-Autostart-enabled=true
"""


# Settings a rep types, and their row in the one table of bounds (None is "off" where allowed).
BOUNDED_SETTINGS = ("check_interval_seconds", "transient_window_minutes",
                    "grace_period_minutes", "long_wait_days", "auto_reallocate_minutes",
                    "password_rotation_days", "round_trip_timeout_seconds",
                    "attention_min_failures", "attention_min_minutes", "reminder_hours")


def checked_settings(values: dict[str, Any]) -> dict[str, Any]:
    """The values, each number held to its bounds (common.bounds); raises InvalidInput and
    nothing is stored."""
    checked = dict(values)
    for key in BOUNDED_SETTINGS:
        if checked.get(key) is not None:
            checked[key] = bounds.number(key, checked[key])
    return checked


def save_settings(values: dict[str, Any],
                  deliverability: DeliverabilitySettings | None = None) -> None:
    """Store the settings (and the Deliverability page's, checked by
    `services.deliverability.settings.validate`) in one transaction. A new check interval also
    applies to mailboxes that follow the default (those with a custom interval keep theirs).
    A value out of its bounds raises InvalidInput and nothing is stored."""
    from mailmonitor.services.deliverability import settings as deliverability_settings

    values = checked_settings(values)
    old_interval = int(get_setting("check_interval_seconds"))
    checked = (deliverability_settings.checked(deliverability) if deliverability is not None
               else None)  # a bad value: InvalidSetting, nothing written
    with db.atomic():
        if checked is not None:
            deliverability_settings.store(checked)
        for key, value in values.items():
            set_setting(key, value)
        new_interval = int(values.get("check_interval_seconds", old_interval))
        if new_interval != old_interval:
            Account.update(check_interval_seconds=new_interval).where(
                Account.check_interval_seconds.in_(
                    sorted({old_interval, DEFAULT_CHECK_INTERVAL_SECONDS}))
            ).execute()
    if "start_at_login" in values:
        apply_start_at_login(bool(values["start_at_login"]))


def autostart_file() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "autostart" / "mailmonitor.desktop"


def apply_start_at_login(enabled: bool) -> bool:
    """XDG autostart entry on Linux desktops; elsewhere the setting is only stored (the
    installer's job). Returns True when an entry exists afterwards."""
    if not sys.platform.startswith("linux"):
        return False
    path = autostart_file()
    if not enabled:
        path.unlink(missing_ok=True)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    command = f"{sys.executable} -m mailmonitor"
    path.write_text(AUTOSTART_ENTRY.format(command=command), encoding="utf-8")
    return True
