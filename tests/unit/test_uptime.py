"""Uptime over 24 h / 7 d / 30 d from a seeded check history with answers worked out by hand,
and `accounts list --json` showing them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

from mailmonitor.clock import utcnow
from mailmonitor.models import Account, Check, db
from mailmonitor.services.monitoring.uptime import Segment, segments_from, timeline, uptimes
from tests.factories import make_account

NOW = datetime(2026, 11, 30, 12, 0, 0)
H = timedelta(hours=1)


def seed(account: Account, rows: list[tuple[datetime, str]]) -> None:
    with db.atomic():
        Check.insert_many([{"account": account.id, "checked_at": at, "status": status,
                            "reason": None if status == "connected" else "x", "detail": ""}
                           for at, status in rows]).execute()


def every_5_min(start: datetime, end: datetime, status: str) -> list[tuple[datetime, str]]:
    rows, at = [], start
    while at < end:
        rows.append((at, status))
        at += timedelta(minutes=5)
    return rows


def test_uptime_from_a_seeded_history(db: object) -> None:
    account = make_account("a@ex.test", check_interval_seconds=300)
    rows = [(NOW - timedelta(days=30, hours=1), "disconnected"),  # before every window
            (NOW - timedelta(days=7), "connected")]  # then mailmonitor was not running
    rows += every_5_min(NOW - 24 * H, NOW - 12 * H, "connected")
    rows += [(NOW - 12 * H, "disconnected")]  # not re-checked: a rejected password
    rows += every_5_min(NOW - 9 * H, NOW - 6 * H, "connected")
    rows += every_5_min(NOW - 6 * H, NOW - 4 * H, "offline")  # this computer had no network
    rows += every_5_min(NOW - 4 * H, NOW, "connected")
    seed(account, rows)
    shares = uptimes([account], NOW)[account.id]
    # 24 h: 3 h down, 2 h offline not counted: 19 of 22 hours.
    assert shares["uptime_24h"] == round(100 * 19 / 22, 2) == 86.36
    # 7 d: plus 65 min trusted after the lone check 7 days ago; the silence after it is unknown.
    up, seen = 19 + 65 / 60, 22 + 65 / 60
    assert shares["uptime_7d"] == round(100 * up / seen, 2) == 87.0
    # 30 d: the disconnection from before the window lasted 23 days (it is never re-checked).
    assert shares["uptime_30d"] == round(100 * up / (seen + 23 * 24), 2) == 3.49


def test_no_history_is_no_figure(db: object) -> None:
    account = make_account("new@ex.test", status="checking")
    assert uptimes([account], NOW)[account.id] == {
        "uptime_24h": None, "uptime_7d": None, "uptime_30d": None}


def test_the_timeline_names_unknown_gaps_and_merges_equal_neighbours() -> None:
    checks = [(NOW - 10 * H, "connected"), (NOW - 9 * H, "connected"),
              (NOW - 2 * H, "disconnected")]
    segments = segments_from(checks, NOW - 12 * H, NOW, timedelta(minutes=65))
    assert segments == [
        Segment(NOW - 12 * H, NOW - 10 * H, "unknown"),
        Segment(NOW - 10 * H, NOW - 9 * H + timedelta(minutes=65), "connected"),
        Segment(NOW - 9 * H + timedelta(minutes=65), NOW - 2 * H, "unknown"),
        Segment(NOW - 2 * H, NOW, "disconnected"),
    ]


def test_timeline_of_an_account(db: object) -> None:
    account = make_account("t@ex.test")
    seed(account, every_5_min(NOW - 2 * H, NOW, "connected"))
    [*_, last] = timeline(account, NOW, timedelta(hours=3))
    assert last.status == "connected" and last.end == NOW


def test_accounts_list_json_has_uptime(db: object, cli: Callable[..., tuple[int, str, str]]
                                       ) -> None:
    account = make_account("u@ex.test")
    now = utcnow()
    seed(account, [(now - 3 * H, "disconnected"), *every_5_min(now - 2 * H, now, "connected")])
    code, out, _ = cli("accounts", "list", "--json")
    assert code == 0
    [row] = json.loads(out)
    assert row["uptime_24h"] == row["uptime_7d"] == row["uptime_30d"] == round(
        100 * 2 / 3, 2)


def test_one_pass_figures_match_the_timeline(db: object) -> None:
    """`uptimes` (one pass, for lists) and the drawn timeline agree on every window."""
    from mailmonitor.services.monitoring.uptime import WINDOWS, share_connected

    account = make_account("m@ex.test", check_interval_seconds=300)
    rows = [(NOW - timedelta(days=20), "disconnected"), (NOW - timedelta(days=12), "warning"),
            *every_5_min(NOW - 50 * H, NOW - 30 * H, "connected"),
            (NOW - 30 * H, "stopped"), *every_5_min(NOW - 10 * H, NOW, "connected")]
    seed(account, rows)
    fast = uptimes([account], NOW)[account.id]
    for name, span in WINDOWS.items():
        assert fast[name] == share_connected(timeline(account, NOW, span)), name


def test_maintenance_is_left_out_of_uptime_and_drawn_on_the_timeline(db: object) -> None:
    """A window the rep muted (the provider's announced maintenance) is not downtime."""
    from mailmonitor.services.monitoring import maintenance
    from mailmonitor.services.monitoring.uptime import WINDOWS, muted_spans, share_connected

    account = make_account("m@ex.test", check_interval_seconds=300)
    other = make_account("o@ex.test", check_interval_seconds=300)
    rows = [*every_5_min(NOW - 24 * H, NOW - 6 * H, "connected"),
            *every_5_min(NOW - 6 * H, NOW - 4 * H, "disconnected"),  # the maintenance
            *every_5_min(NOW - 4 * H, NOW, "connected")]
    seed(account, rows)
    seed(other, rows)
    maintenance.add_window(["m@ex.test"], None, False, (NOW - 3 * H).isoformat(), NOW - 7 * H,
                           starts=(NOW - 6 * H - timedelta(minutes=30)).isoformat(),
                           note="provider maintenance")
    shares = uptimes([account, other], NOW)
    # 6.5 h muted of 24: the 2 h down fall inside it, so all that is left was up.
    assert shares[account.id]["uptime_24h"] == 100.0
    assert shares[other.id]["uptime_24h"] == round(100 * 22 / 24, 2)  # not muted: counted
    assert muted_spans(account, NOW) == [(NOW - 6.5 * H, NOW - 3 * H)]
    assert muted_spans(other, NOW) == []
    for name, span in WINDOWS.items():  # the drawn timeline and the list agree
        assert shares[account.id][name] == share_connected(
            timeline(account, NOW, span), muted_spans(account, NOW, span)), name
