"""The table models: what each status looks like (colour, icon shape, label, tooltip) and that a
status change updates one row (dataChanged), never the whole model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QIcon

from mailmonitor.clock import FakeClock
from mailmonitor.services.common.reasons import REASONS, STATUS_LABELS, Status
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.ui.bridge import EventBridge
from mailmonitor.ui.icons import render_svg
from mailmonitor.ui.models import (
    AccountsModel,
    CampaignsModel,
    LeadsModel,
    Role,
    StatusFilterProxy,
)
from mailmonitor.ui.palette import STATUS_LOOKS, status_color, worst_status
from tests.factories import make_account, make_campaign, make_leads

pytestmark = pytest.mark.ui

STATUS_CASES = [
    ("connected", None),
    ("warning", "timeout"),
    ("disconnected", "invalid_credentials"),
    ("offline", None),
    ("stopped", None),
    ("checking", None),
]


@pytest.fixture
def accounts(db: Path) -> dict[str, Any]:
    return {status: make_account(f"{status}@x.example", status=status, reason=reason,
                                 detail="535 5.7.8 rejected" if reason else "")
            for status, reason in STATUS_CASES}


def cell(model: AccountsModel, email: str, column: int) -> QModelIndex:
    row = next(i for i in range(model.rowCount()) if model.row(i).email == email)
    return model.index(row, column)


@pytest.mark.parametrize(("status", "reason"), STATUS_CASES)
def test_each_status_has_label_colour_icon_and_tooltip(accounts: dict[str, Any], qapp: Any,
                                                      status: str, reason: str | None) -> None:
    model = AccountsModel(FakeClock())
    index = cell(model, f"{status}@x.example", AccountsModel.STATUS)
    assert index.data(Qt.ItemDataRole.DisplayRole) == STATUS_LABELS[Status(status)]
    assert index.data(Qt.ItemDataRole.ForegroundRole) == status_color(status)
    icon = index.data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(icon, QIcon) and not icon.isNull()
    assert index.data(Role.STATUS) == status
    tooltip = index.data(Qt.ItemDataRole.ToolTipRole)
    if reason:
        assert REASONS[reason].explanation in tooltip
        assert REASONS[reason].action in tooltip
        assert "535 5.7.8" in tooltip
        reason_cell = cell(model, f"{status}@x.example", AccountsModel.REASON)
        assert reason_cell.data() == REASONS[reason].label
    else:
        assert STATUS_LABELS[Status(status)] in tooltip


def test_status_icons_differ_by_shape_not_only_colour(qapp: Any) -> None:
    # Rendered in one colour, every status still looks different (colour-blind reps).
    images = {status: render_svg(look.icon, "#000000", 24).toImage()
              for status, look in STATUS_LOOKS.items()}
    statuses = list(images)
    for i, a in enumerate(statuses):
        for b in statuses[i + 1:]:
            assert images[a] != images[b], f"{a} and {b} have the same shape"


def test_dark_theme_colours_differ_and_stay_distinct(qapp: Any) -> None:
    light = {s: status_color(s, dark=False).name() for s in STATUS_LOOKS}
    dark = {s: status_color(s, dark=True).name() for s in STATUS_LOOKS}
    assert len(set(light.values())) == len(light)
    assert len(set(dark.values())) == len(dark)
    assert all(status_color(s, dark=True).lightness() > status_color(s, dark=False).lightness()
               for s in STATUS_LOOKS)


def test_a_status_change_updates_one_row_without_reset(
        accounts: dict[str, Any], qapp: Any, clock: FakeClock,
        settle: Callable[[], None]) -> None:
    model = AccountsModel(clock)
    bridge = EventBridge(coalesce_ms=0)
    bridge.accountChanged.connect(model.refresh_account)
    resets: list[bool] = []
    changed: list[tuple[int, int, int, int]] = []
    model.modelReset.connect(lambda: resets.append(True))
    model.dataChanged.connect(lambda a, b, _roles=None: changed.append(
        (a.row(), b.row(), a.column(), b.column())))
    connected = accounts["connected"]
    row = next(i for i in range(model.rowCount()) if model.row(i).id == connected.id)

    update_status(connected, "disconnected", "app_password_required", "534 5.7.9", clock.now())
    settle()

    assert resets == []
    assert changed == [(row, row, 0, model.columnCount() - 1)]
    assert model.index(row, AccountsModel.REASON).data() == "App Password Required"
    assert model.counts["disconnected"] == 2
    bridge.close()


def test_checking_shows_while_a_check_runs(accounts: dict[str, Any], qapp: Any) -> None:
    model = AccountsModel(FakeClock())
    account = accounts["connected"]
    model.set_checking(account.id, True)
    assert cell(model, account.email, 0).data() == "Checking…"
    assert model.counts["checking"] == 2
    model.set_checking(account.id, False)
    assert cell(model, account.email, 0).data() == "Connected"


def test_relative_last_checked_and_latency(db: Path, qapp: Any, clock: FakeClock) -> None:
    make_account("a@x.example", checked_at=clock.now().replace(minute=0) , last_latency_ms=42)
    clock.advance(minutes=2)
    model = AccountsModel(clock)
    assert model.index(0, AccountsModel.CHECKED).data() == "2 min ago"
    assert model.index(0, AccountsModel.LATENCY).data() == "42 ms"
    assert model.index(0, AccountsModel.PROVIDER).data() == "IMAP/SMTP"


def test_filter_by_status_and_sort_worst_first(accounts: dict[str, Any], qapp: Any) -> None:
    model = AccountsModel(FakeClock())
    proxy = StatusFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(AccountsModel.STATUS, Qt.SortOrder.AscendingOrder)
    first = [proxy.index(i, 0).data(Role.STATUS) for i in range(proxy.rowCount())]
    assert first == ["disconnected", "warning", "offline", "checking", "stopped", "connected"]
    proxy.set_statuses(frozenset({"disconnected"}))
    assert proxy.rowCount() == 1
    proxy.set_statuses(None)
    proxy.setFilterFixedString("warning@")
    assert proxy.rowCount() == 1


def test_worst_status_for_the_tray() -> None:
    assert worst_status(["connected", "stopped"]) == "connected"
    assert worst_status(["connected", "offline", "warning"]) == "warning"
    assert worst_status(["warning", "disconnected"]) == "disconnected"


def test_campaign_row_follows_its_mailboxes(db: Path, qapp: Any, clock: FakeClock,
                                           settle: Callable[[], None]) -> None:
    ava = make_account("ava@x.example")
    ben = make_account("ben@x.example")
    campaign = make_campaign("Q4", [ava, ben])
    make_leads(campaign, ava, 5)
    make_leads(campaign, ben, 5, prefix="b", state="replied")
    model = CampaignsModel()
    bridge = EventBridge(coalesce_ms=0)
    bridge.accountChanged.connect(model.account_changed)
    bridge.leadsBatch.connect(model.refresh_leads)
    bridge.campaignChanged.connect(model.refresh_campaign)
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    assert model.index(0, CampaignsModel.MAILBOXES).data() == "2 of 2 connected"
    assert model.index(0, CampaignsModel.PROGRESS).data(Role.PROGRESS) == 0.5

    update_status(ben, "disconnected", "invalid_credentials", "535", clock.now())
    update_status(ava, "disconnected", "invalid_credentials", "535", clock.now())
    settle()

    assert resets == []
    assert model.index(0, CampaignsModel.MAILBOXES).data() == "0 of 2 connected"
    assert model.index(0, CampaignsModel.MAILBOXES).data(Qt.ItemDataRole.ForegroundRole) == \
        status_color("disconnected")
    assert model.index(0, CampaignsModel.STATUS).data() == "Paused: no mailbox can send"
    assert "5 waiting" in model.index(0, CampaignsModel.LEADS).data()
    bridge.close()


def test_leads_load_a_page_at_a_time(db: Path, qapp: Any) -> None:
    ava = make_account("ava@x.example")
    campaign = make_campaign("Big", [ava])
    make_leads(campaign, ava, 1200)
    make_leads(campaign, ava, 30, prefix="waiting", state="halted")
    model = LeadsModel(campaign.id)
    assert model.total() == 1230
    assert model.rowCount() == LeadsModel.PAGE
    assert model.canFetchMore()
    model.fetchMore()
    model.fetchMore()
    assert model.rowCount() == 1230 and not model.canFetchMore()
    model.set_state_filter(("halted",))
    assert (model.total(), model.rowCount()) == (30, 30)
    assert model.index(0, LeadsModel.STATE).data() == "Waiting for mailbox"
    assert model.index(0, LeadsModel.MAILBOX).data() == "ava@x.example"
    assert model.index(0, LeadsModel.STEP).data() == "Step 1 of 3"


def test_lead_counts_from_a_worker_do_not_overwrite_newer_ones(db: Path, qapp: Any) -> None:
    ava = make_account("ava@x.example")
    first = make_campaign("First", [ava])
    second = make_campaign("Second", [ava])
    make_leads(first, ava, 4)
    model = CampaignsModel(with_lead_counts=False)
    assert model.index(0, CampaignsModel.LEADS).data() == "No leads"
    stamps = model.lead_stamps()
    from mailmonitor.services.campaigns.setup import lead_counts

    counts = lead_counts()  # computed "in the worker"…
    make_leads(second, ava, 2, prefix="new")
    model.refresh_leads([second.id])  # …while a newer refresh already landed
    model.set_lead_counts(counts, stamps)
    assert model.index(0, CampaignsModel.LEADS).data() == "4 leads"
    assert model.index(1, CampaignsModel.LEADS).data() == "2 leads"


def test_a_sending_limit_says_when_it_resumes_in_the_reps_zone(db: Path, qapp: Any,
                                                                 clock: FakeClock) -> None:
    from datetime import timedelta

    from mailmonitor.models import set_setting

    set_setting("time_zone", "America/Los_Angeles")
    until = clock.now().replace(hour=20, minute=15, second=0, microsecond=0) + timedelta(days=1)
    make_account("q@x.example", status="warning", reason="sending_limit", send_limit_until=until)
    model = AccountsModel(clock)
    text = model.index(0, AccountsModel.REASON).data()
    # 20:15 UTC is 12:15 (PST) or 13:15 (PDT) in Los Angeles, never the UTC time.
    assert text in ("Sending limit reached — resumes at 12:15",
                    "Sending limit reached — resumes at 13:15")
