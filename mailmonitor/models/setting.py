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
    # Deliverability (services/deliverability)
    "bounce_window_sends": 50,  # the bounce rate is over a mailbox's last N sends ...
    "bounce_window_days": 7,  # ... of the last days
    "bounce_threshold_percent": 5.0,  # over this, the mailbox stops sending
    "bounce_min_hard": 3,  # and only with at least this many hard bounces (1 of 2 is no rate)
    "unsubscribe_url": None,  # one-click URL (RFC 8058); "{token}" is replaced per lead
    "unsubscribe_footer": "",  # optional last line of every campaign email
    "round_trip_timeout_seconds": 120,
    "round_trip_daily": False,  # a round-trip test of every connected mailbox once a day
    "dns_recheck_hours": 24,
    "dns_resolver": None,  # "host[:port]" of the DNS server to ask; None: the system's
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
