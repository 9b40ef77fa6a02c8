"""App-wide settings as key/value rows, with typed defaults."""

from __future__ import annotations

import copy
import time
from typing import Any

import peewee as pw

from mailmonitor.models.base import BaseModel, JSONField, db

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
    # Re-measured 2026-12-02 (benchmarks/bench_check_cli.py, 4/6/8/16 at once on a loaded
    # machine): no candidate was steadily better in sweep time or stalls, so 6 stays. The
    # command line's `check` has no window to keep smooth and checks 16 at once.
    "max_concurrent_checks": 6,
    "connection_timeout_seconds": 20,
    "cert_warning_days": 14,
    # The rep's time zone (IANA name) for daily limits and warm-up days; None = the computer's.
    "time_zone": None,
    # Alert channels (services/alerts): the last alert id folded into a digest, and how long
    # before leads are stopped the rep is warned on every channel
    "notify_cursor": 0,  # (before the attention model) the last alert id the channels took
    "notify_change_cursor": 0,  # the last AlertChange id the channels took
    "keyring_problem": None,  # {"text", "since"} while the keyring cannot be read
    "attention_min_failures": 2,  # transient trouble needs the rep after this many failures …
    "attention_min_minutes": 5,  # … and this many minutes
    "reminder_hours": 24,  # remind the channels while a mailbox stays broken; 0 = off
    "stop_warning_hours": 24,
    # Proactive warnings: remind to change passwords every N days (None: never); the team's
    # Google client is still in "Testing" (its sign-ins end after 7 days)
    "password_rotation_days": None,
    "google_app_testing": False,
    # A provider change (resources/policies.json) that hits mailboxes is announced this many
    # days before its date
    "policy_warning_days": 30,
    # The login budget (services/monitoring/login_budget.py): at most this many failed logins to
    # one server (across its mailboxes) and of one mailbox within the minutes below; a check
    # that would exceed it is held back. mailcow bans an address after 10 in 10 minutes.
    "login_budget_server": 3,
    "login_budget_mailbox": 3,
    "login_budget_minutes": 10,
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
    # The team's Google / Microsoft client registrations (services/auth/registration.py; the
    # Google client secret lives in the keyring). None: not set up here.
    "google_client_id": None,
    "google_auth_uri": None,
    "google_token_uri": None,
    "ms_client_id": None,
    "ms_authority": None,
    # A team database out of reach this long stops `run --headless` with exit status 1 (its
    # service manager starts it again); services/team/reachability.py
    "team_database_give_up_minutes": 10,
}


class Setting(BaseModel):
    key = pw.CharField(primary_key=True)
    value = JSONField(null=True)


# Settings read within the last second, per database: a sweep records hundreds of checks and
# each reads the same few settings. set_setting() forgets them at once; another process's
# change is seen within SETTINGS_TTL.
SETTINGS_TTL = 1.0
_recent: dict[tuple[int, str], tuple[float, Any]] = {}


def forget_settings() -> None:
    """Another database is bound (open_db): nothing read from the last one is kept."""
    _recent.clear()


def get_setting(key: str) -> Any:
    database = db.obj
    memo_key = (id(database), key)
    now = time.monotonic()
    hit = _recent.get(memo_key)
    if hit is not None and now - hit[0] < SETTINGS_TTL:
        return copy.deepcopy(hit[1])
    row = Setting.get_or_none(Setting.key == key)
    value = DEFAULTS.get(key) if row is None else row.value
    _recent[memo_key] = (now, value)
    return copy.deepcopy(value)


def set_setting(key: str, value: Any) -> None:
    if key not in DEFAULTS:
        raise KeyError(f"unknown setting {key!r}")
    _recent.clear()
    # An upsert both SQLite (3.24+) and PostgreSQL understand.
    Setting.insert(key=key, value=value).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: value}).execute()


def all_settings() -> dict[str, Any]:
    values = dict(DEFAULTS)
    values.update({row.key: row.value for row in Setting.select()})
    return values
