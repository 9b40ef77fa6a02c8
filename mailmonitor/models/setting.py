"""App-wide settings as key/value rows, with typed defaults."""

from __future__ import annotations

from typing import Any

import peewee as pw

from mailmonitor.models.base import BaseModel, JSONField

DEFAULTS: dict[str, Any] = {
    "check_interval_seconds": 300,
    "transient_window_minutes": 60,
    "grace_period_minutes": 60,
    "long_wait_days": 9,
    "reminder_days": [1, 3, 7, 8],
    "auto_resume": True,
    "auto_reallocate_minutes": None,
    "notifications": True,
    "start_at_login": False,
    # Checks at once. On 2 cores, 20 threads of TLS handshakes starved the event loop (200 ms
    # stalls, benchmarks/bench_sweep.py) for no gain in sweep time; 6 keeps them under 30 ms
    # inside the qasync loop. Real providers answer slower than loopback: raise it for hundreds.
    "max_concurrent_checks": 6,
    "connection_timeout_seconds": 20,
    "cert_warning_days": 14,
    # The team's Google / Microsoft client registrations (services/auth/registration.py; the
    # Google client secret lives in the keyring). None: not set up here.
    "google_client_id": None,
    "google_auth_uri": None,
    "google_token_uri": None,
    "ms_client_id": None,
    "ms_authority": None,
}


class Setting(BaseModel):
    key = pw.CharField(primary_key=True)
    value = JSONField(null=True)


def get_setting(key: str) -> Any:
    row = Setting.get_or_none(Setting.key == key)
    return DEFAULTS.get(key) if row is None else row.value


def set_setting(key: str, value: Any) -> None:
    if key not in DEFAULTS:
        raise KeyError(f"unknown setting {key!r}")
    # An upsert both SQLite (3.24+) and PostgreSQL understand.
    Setting.insert(key=key, value=value).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: value}).execute()


def all_settings() -> dict[str, Any]:
    values = dict(DEFAULTS)
    values.update({row.key: row.value for row in Setting.select()})
    return values
