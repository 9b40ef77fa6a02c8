"""The Owner column of the Mailboxes and Campaigns tables and the status bar's "Mine" summary
(issue 15): shown on a team database (PostgreSQL) only, sortable, refreshed when an owner
changes (also through a rename), loaded without a query per row. Real window, real database on
both backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Campaign, set_this_member
from mailmonitor.models import db as database
from mailmonitor.services.alerts.reconciler import reconcile
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.services.team import members
from mailmonitor.ui.main_window import MainWindow
from mailmonitor.ui.models import AccountsModel, CampaignsModel, Role
from mailmonitor.ui.palette import muted_color
from tests.factories import make_account, make_campaign

pytestmark = pytest.mark.ui

TEAM = pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
Display = Qt.ItemDataRole.DisplayRole


@pytest.fixture
def team(db: Path | str) -> Iterator[None]:
    """bob owns two mailboxes (one broken) and a campaign; alice (this copy) owns three and a
    campaign; one mailbox belongs to nobody."""
    set_this_member("bob")
    members.register_this_member()
    bob = make_account("bob@x.test")
    make_account("bob2@x.test", status="disconnected", reason="invalid_credentials")
    make_campaign("Bob's", [bob])
    set_this_member("alice")
    members.register_this_member()
    alice = make_account("alice@x.test")
    make_account("alice2@x.test")
    make_account("alice3@x.test", status="warning", reason="timeout")
    make_campaign("Alice's", [alice])
    make_account("nobody@x.test")
    Account.update(owner="").where(Account.email == "nobody@x.test").execute()
    yield
    set_this_member(None)


def column(tab: Any, number: int, role: int = Display) -> list[Any]:
    """What a tab shows in a column, top to bottom (as sorted and filtered)."""
    proxy = tab.proxy
    return [proxy.index(i, number).data(role) for i in range(proxy.rowCount())]


def by_address(tab: Any, number: int, role: int = Display) -> dict[str, Any]:
    return dict(zip(column(tab, AccountsModel.ADDRESS), column(tab, number, role), strict=True))


def everyone(window: MainWindow) -> None:
    for box in (window.accounts_tab.owner_filter, window.campaigns_tab.owner_filter):
        box.setCurrentIndex(box.findText("Everyone"))


@pytest.mark.both_databases
def test_the_owner_column_shows_on_a_team_database_only(
        team: None, db_backend: str, make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    accounts, campaigns = window.accounts_tab, window.campaigns_tab
    if db_backend == "sqlite":  # a personal database: everything is the rep's
        assert accounts.view.isColumnHidden(AccountsModel.OWNER)
        assert campaigns.view.isColumnHidden(CampaignsModel.OWNER)
        assert set(column(accounts, AccountsModel.OWNER)) == {None}
        accounts.search.setText("alice")  # owners are not searched either (all the rep's)
        assert sorted(column(accounts, AccountsModel.ADDRESS)) == [
            "alice2@x.test", "alice3@x.test", "alice@x.test"]
        return
    header = accounts.view.horizontalHeader()
    assert not accounts.view.isColumnHidden(AccountsModel.OWNER)
    assert accounts.model.headerData(AccountsModel.OWNER, Qt.Orientation.Horizontal) == "Owner"
    # Drawn right after the address; the other columns keep their numbers.
    assert header.visualIndex(AccountsModel.OWNER) == header.visualIndex(
        AccountsModel.ADDRESS) + 1
    assert (AccountsModel.STATUS, AccountsModel.LATENCY, CampaignsModel.PROGRESS) == (0, 5, 4)
    assert column(accounts, AccountsModel.STATUS)[0] == "Retrying"  # ...and read the same
    cheader = campaigns.view.horizontalHeader()
    assert not campaigns.view.isColumnHidden(CampaignsModel.OWNER)
    assert cheader.visualIndex(CampaignsModel.OWNER) == cheader.visualIndex(
        CampaignsModel.NAME) + 1

    everyone(window)
    assert by_address(accounts, AccountsModel.OWNER) == {
        "alice@x.test": "alice", "alice2@x.test": "alice", "alice3@x.test": "alice",
        "bob@x.test": "bob", "bob2@x.test": "bob", "nobody@x.test": "—"}
    assert dict(zip(column(campaigns, CampaignsModel.NAME),
                    column(campaigns, CampaignsModel.OWNER), strict=True)) == {
        "Alice's": "alice", "Bob's": "bob"}
    colours = by_address(accounts, AccountsModel.OWNER, Qt.ItemDataRole.ForegroundRole)
    assert colours["nobody@x.test"] == muted_color() and colours["bob@x.test"] is None
    tips = by_address(accounts, AccountsModel.OWNER, Qt.ItemDataRole.ToolTipRole)
    assert tips["alice@x.test"] == "Owned by alice (you)" and tips["bob@x.test"] == \
        "Owned by bob"
    assert tips["nobody@x.test"] == "No owner: only the admins hear of its alerts"

    # It sorts (a click on the header): nobody's first, then by name, then by address.
    accounts.view.sortByColumn(AccountsModel.OWNER, Qt.SortOrder.AscendingOrder)
    assert column(accounts, AccountsModel.ADDRESS) == [
        "nobody@x.test", "alice2@x.test", "alice3@x.test", "alice@x.test", "bob2@x.test",
        "bob@x.test"]
    accounts.view.sortByColumn(AccountsModel.OWNER, Qt.SortOrder.DescendingOrder)
    assert column(accounts, AccountsModel.OWNER)[:2] == ["bob", "bob"]
    campaigns.view.sortByColumn(CampaignsModel.OWNER, Qt.SortOrder.DescendingOrder)
    assert column(campaigns, CampaignsModel.NAME) == ["Bob's", "Alice's"]
    # The search box finds owners too.
    accounts.search.setText("bob")
    assert sorted(column(accounts, AccountsModel.ADDRESS)) == ["bob2@x.test", "bob@x.test"]


@TEAM
def test_the_owner_column_follows_owner_changes_and_renames(
        team: None, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    window = make_window()
    accounts, campaigns = window.accounts_tab, window.campaigns_tab
    everyone(window)
    members.set_owner(Account.get(Account.email == "bob@x.test"), "alice")
    members.set_owner(Campaign.get(Campaign.name == "Bob's"), "alice")
    qtbot.waitUntil(lambda: by_address(accounts, AccountsModel.OWNER)["bob@x.test"] == "alice",
                    timeout=3000)
    qtbot.waitUntil(lambda: column(campaigns, CampaignsModel.OWNER) == ["alice", "alice"],
                    timeout=3000)
    assert by_address(accounts, AccountsModel.OWNER, Role.OWNER)["bob@x.test"] == "alice"

    # This member's rename: every row they own shows the new name, and stays under "Mine".
    accounts.owner_filter.setCurrentIndex(accounts.owner_filter.findText("Mine"))
    mine = ["alice2@x.test", "alice3@x.test", "alice@x.test", "bob@x.test"]
    assert sorted(column(accounts, AccountsModel.ADDRESS)) == mine
    members.rename_this_member("Alice Smith")
    qtbot.waitUntil(lambda: set(column(accounts, AccountsModel.OWNER)) == {"Alice Smith"},
                    timeout=3000)
    assert sorted(column(accounts, AccountsModel.ADDRESS)) == mine
    qtbot.waitUntil(lambda: column(campaigns, CampaignsModel.OWNER) == ["Alice Smith"] * 2,
                    timeout=3000)
    assert window.summary.text() == "Mine: 3 connected · 1 retrying"


@TEAM
def test_owners_load_without_a_query_per_row(
        team: None, make_window: Callable[..., MainWindow],
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = database.obj
    queries: list[str] = []
    execute = real.execute_sql

    def counted(sql: str, *args: Any, **kwargs: Any) -> Any:
        queries.append(sql)
        return execute(sql, *args, **kwargs)

    monkeypatch.setattr(real, "execute_sql", counted)
    make_window()  # the first reads the settings it caches
    queries.clear()
    make_window()
    small = list(queries)
    assert small, "the counter sees the window's queries"

    with database.atomic():  # 1,000 mailboxes and 50 campaigns of three owners
        Account.insert_many([
            {"email": f"box{i}@scale.test", "name": "Box", "imap_host": "imap.example.com",
             "smtp_host": "smtp.example.com", "status": "connected",
             "owner": ("alice", "bob", "carol")[i % 3]} for i in range(994)]).execute()
        Campaign.insert_many([{"name": f"C{i}", "status": "draft",
                               "owner": ("alice", "bob")[i % 2]} for i in range(48)]).execute()
    queries.clear()
    window = make_window()
    assert window.accounts_model.rowCount() == 1000
    assert window.campaigns_model.rowCount() == 50
    assert len(queries) == len(small), [q[:80] for q in queries]  # as many as for six
    # Reading every row's owner (as a paint or a sort does) asks the database nothing.
    queries.clear()
    everyone(window)
    for tab, number in ((window.accounts_tab, AccountsModel.OWNER),
                        (window.campaigns_tab, CampaignsModel.OWNER)):
        for role in (Display, Role.SORT, Qt.ItemDataRole.ToolTipRole):
            assert None not in column(tab, number, role)
        tab.view.sortByColumn(number, Qt.SortOrder.AscendingOrder)
    assert column(window.accounts_tab, AccountsModel.OWNER)[1] == "alice"
    assert queries == []


@pytest.mark.both_databases
def test_the_summary_counts_what_the_owner_filter_shows(
        team: None, db_backend: str, make_window: Callable[..., MainWindow], qtbot: Any,
        clock: Any) -> None:
    window = make_window()
    box = window.accounts_tab.owner_filter
    if db_backend == "sqlite":  # as before: every mailbox, no "Mine"
        assert window.summary.text() == "4 connected · 1 retrying · 1 needs attention"
        return
    assert window.summary.text() == "Mine: 2 connected · 1 retrying"
    box.setCurrentIndex(box.findText("Everyone"))  # it follows the filter at once
    assert window.summary.text() == "Everyone: 4 connected · 1 retrying · 1 needs attention"
    box.setCurrentIndex(box.findText("Mine"))
    assert window.summary.text() == "Mine: 2 connected · 1 retrying"

    # Bob's broken mailbox becomes alice's: her summary says it needs attention.
    members.set_owner(Account.get(Account.email == "bob2@x.test"), "alice")
    qtbot.waitUntil(lambda: window.summary.text() ==
                    "Mine: 2 connected · 1 retrying · 1 needs attention", timeout=3000)
    # A status change of hers counts too; one of someone else's does not.
    update_status(Account.get(Account.email == "alice3@x.test"), "connected", None, "",
                  clock.now())
    update_status(Account.get(Account.email == "bob@x.test"), "disconnected",
                  "invalid_credentials", "535", clock.now())
    qtbot.waitUntil(lambda: window.summary.text() == "Mine: 3 connected · 1 needs attention",
                    timeout=3000)
    box.setCurrentIndex(box.findText("Everyone"))
    assert window.summary.text() == "Everyone: 4 connected · 2 need attention"
    for email in ("alice@x.test", "alice2@x.test", "alice3@x.test", "bob2@x.test"):
        members.set_owner(Account.get(Account.email == email), "bob")
    box.setCurrentIndex(box.findText("Mine"))
    qtbot.waitUntil(lambda: window.summary.text() == "Mine: no mailboxes", timeout=3000)


@pytest.mark.both_databases
def test_the_tray_speaks_of_what_reaches_the_member(
        team: None, db_backend: str, make_window: Callable[..., MainWindow],
        clock: FakeClock) -> None:
    """A member's tray counts their own mailboxes and names the conditions that reach them
    (their own mailboxes'), with their action; an admin's counts every mailbox and names
    every condition; a personal database's names no scope."""
    reconcile(clock.now())  # as the app's background loop would
    window = make_window()
    tray = window.tray
    entries = [a.text() for a in tray.condition_actions]
    broken = "bob2@x.test is disconnected: Invalid Credentials"
    if db_backend == "sqlite":
        assert tray.tooltip.splitlines() == [
            "mailmonitor — 4 connected · 1 retrying · 1 needs attention", "1 thing needs you:",
            f"• {broken}"]
        assert entries == [f"{broken} — Reconnect"]
        return
    assert tray.tooltip == "mailmonitor — Mine: 2 connected · 1 retrying"  # alice, no admin
    assert tray.status_action.text() == "Mine: 2 connected · 1 retrying"
    assert entries == []  # bob's broken mailbox is bob's (and his admin's) to reconnect
    members.set_admin("alice", True)
    window.member_role_changed()  # as when the Team page closes
    assert tray.tooltip.splitlines() == [
        "mailmonitor — Everyone: 4 connected · 1 retrying · 1 needs attention",
        "1 thing needs you:", f"• {broken}"]
    assert [a.text() for a in tray.condition_actions] == [f"{broken} — Reconnect"]
