"""The Mine / Everyone filter of the Mailboxes and Campaigns tabs (issue 15): "Mine" first on a
team database (PostgreSQL), with everyone's rows one choice away; no filter on a personal SQLite
database. Real window, real database on both backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailmonitor.models import Account, set_this_member
from mailmonitor.services.team import members
from mailmonitor.ui.main_window import MainWindow
from tests.factories import make_account, make_campaign

pytestmark = [pytest.mark.ui, pytest.mark.both_databases]


@pytest.fixture
def team(db: Path) -> Iterator[None]:
    set_this_member("bob")
    make_account("bob@x.test")
    make_campaign("Bob's", [Account.get(Account.email == "bob@x.test")])
    members.register_this_member()
    set_this_member("alice")
    alice = make_account("alice@x.test")
    make_account("alice2@x.test")
    make_campaign("Alice's", [alice])
    members.register_this_member()
    yield
    set_this_member(None)


def shown(tab: Any, column: int) -> list[str]:
    proxy = tab.proxy
    return sorted(proxy.index(i, column).data() for i in range(proxy.rowCount()))


def test_mine_first_on_a_team_database_and_everyone_sees_everything(
        team: None, db_backend: str, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    window = make_window()
    accounts, campaigns = window.accounts_tab, window.campaigns_tab
    everything = ["alice2@x.test", "alice@x.test", "bob@x.test"]
    if db_backend == "sqlite":  # a personal database: everything is yours, no filter
        assert accounts.owner_filter.isHidden() and campaigns.owner_filter.isHidden()
        assert shown(accounts, 1) == everything
        assert shown(campaigns, 0) == ["Alice's", "Bob's"]
        return
    assert not accounts.owner_filter.isHidden()
    assert accounts.owner_filter.currentText() == campaigns.owner_filter.currentText() == "Mine"
    assert shown(accounts, 1) == ["alice2@x.test", "alice@x.test"]
    assert shown(campaigns, 0) == ["Alice's"]

    accounts.owner_filter.setCurrentIndex(accounts.owner_filter.findText("Everyone"))
    campaigns.owner_filter.setCurrentIndex(campaigns.owner_filter.findText("Everyone"))
    assert shown(accounts, 1) == everything
    assert shown(campaigns, 0) == ["Alice's", "Bob's"]

    # Bob hands a mailbox to Alice: it appears under her "Mine" without a restart.
    accounts.owner_filter.setCurrentIndex(accounts.owner_filter.findText("Mine"))
    members.set_owner(Account.get(Account.email == "bob@x.test"), "alice")
    qtbot.waitUntil(lambda: shown(accounts, 1) == everything, timeout=3000)
