"""Settings → Team (issue 15): the database in use, testing a team database URL on the real
PostgreSQL test server (TLS verified), moving the personal SQLite database into it through the
real `mailmonitor db copy` child process with progress and a clear result, then a restart."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from mailmonitor.models import Campaign, Lead, close_db, open_db
from mailmonitor.services.team import connect, local
from mailmonitor.ui.main_window import MainWindow
from mailmonitor.ui.team_settings import TeamDialog
from tests.factories import make_account, make_campaign, make_leads
from tests.servers.certs import TestPKI
from tests.servers.postgres import PostgresServer

pytestmark = [pytest.mark.ui, pytest.mark.integration]
_names = itertools.count(1)


@pytest.fixture
def started(data_dir: Path) -> Iterator[Path]:
    """As cli._main does at start-up: this copy's data folder and member."""
    local.apply(data_dir)
    local.database_for(None, data_dir, "mailmonitor.sqlite3")
    yield data_dir
    local._started.clear()
    connect._restart["asked"] = False


@pytest.fixture
def team_url(postgres: PostgresServer, test_pki: TestPKI) -> Iterator[str]:
    name = f"teamui_{next(_names)}"
    postgres.create_database(name)
    yield postgres.url(name, sslmode="verify-full", sslrootcert=str(test_pki.ca_cert))
    postgres.drop_database(name)


def open_team(window: MainWindow) -> TeamDialog:
    settings = window.open_settings()
    dialog = settings.open_team()
    assert isinstance(dialog, TeamDialog)
    return dialog


def test_the_team_page_tests_a_url_in_the_background(
        db: Path, started: Path, team_url: str, make_window: Callable[..., MainWindow],
        qtbot: Any) -> None:
    window = make_window()
    dialog = open_team(window)
    assert "your personal database" in dialog.in_use.text()
    assert str(started / "mailmonitor.sqlite3") in dialog.in_use.text()
    assert dialog.test_button.isDefault() and dialog.focusWidget() in (None, dialog.url)

    dialog.url.setText("postgresql://me:secret@db.example/sales")
    qtbot.keyClick(dialog.url, Qt.Key.Key_Return)  # Enter = Test connection
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled() and "✖" in
                    dialog.result_label.text(), timeout=10_000)
    assert "not in the URL" in dialog.result_text and "secret" not in dialog.result_text

    dialog.url.setText(team_url)
    dialog.test()
    qtbot.waitUntil(lambda: dialog.result_text.startswith("Connected"), timeout=15_000)
    assert "encrypted" in dialog.result_text and "empty" in dialog.result_text
    assert not (started / "team.json").exists()  # a test changes nothing

    dialog.use()
    assert json.loads((started / "team.json").read_text())["database_url"] == team_url
    assert dialog.restart_button.isVisible() and dialog.restart_button.isDefault()


def test_move_the_personal_database_into_the_team_one_then_restart(
        db: Path, started: Path, team_url: str, make_window: Callable[..., MainWindow],
        qtbot: Any) -> None:
    a = make_account("a@move.test")
    campaign = make_campaign("Move me", [a])
    make_leads(campaign, a, 12)
    campaign.status = "active"
    campaign.save()
    window = make_window()
    quits: list[bool] = []
    window.quitRequested.connect(lambda: quits.append(True))
    dialog = open_team(window)
    dialog.url.setText(team_url)
    totals: list[int] = []
    dialog.progress.valueChanged.connect(lambda v: totals.append(v))
    dialog.move_data()
    assert Campaign.get_by_id(campaign.id).status == "paused"  # nothing sends meanwhile
    qtbot.waitUntil(lambda: dialog.restart_button.isVisible() or "✖" in
                    dialog.result_label.text(), timeout=60_000)
    assert dialog.result_text.startswith("Copied "), dialog.result_text
    assert "every table's count checked. Campaigns sending there: 1." in dialog.result_text
    assert totals and totals[-1] == dialog.progress.maximum() > 10  # every table reported
    assert json.loads((started / "team.json").read_text())["database_url"] == team_url
    # The personal database keeps its rows, its campaign paused (nothing sent twice).
    assert Campaign.get_by_id(campaign.id).status == "paused"
    personal = Lead.select().count()

    qtbot.mouseClick(dialog.restart_button, Qt.MouseButton.LeftButton)
    assert connect.restart_requested() and quits == [True]

    close_db()
    open_db(team_url)
    try:
        assert Lead.select().count() == personal == 12
        moved = Campaign.get(Campaign.name == "Move me")
        assert moved.status == "active" and moved.owner == campaign.owner
    finally:
        close_db()
        open_db(db)


def test_a_refused_move_leaves_everything_as_it_was(
        db: Path, started: Path, team_url: str, make_window: Callable[..., MainWindow],
        qtbot: Any) -> None:
    a = make_account("mine@move.test")
    campaign = make_campaign("Mine", [a])
    campaign.status = "active"
    campaign.save()
    open_db(team_url)
    make_account("theirs@move.test")
    close_db()
    open_db(db)
    window = make_window()
    dialog = open_team(window)
    dialog.url.setText(team_url)
    dialog.move_data()
    qtbot.waitUntil(lambda: "✖" in dialog.result_label.text(), timeout=60_000)
    assert "already holds data (1 account" in dialog.result_text
    assert "your data stays in your personal database (1 campaigns sending again)" in \
        dialog.result_text
    assert Campaign.get_by_id(campaign.id).status == "active"
    assert not (started / "team.json").exists() and not dialog.restart_button.isVisible()
