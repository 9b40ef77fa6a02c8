"""Settings → Team's members (issue 15): the rep changes their own member name (what they own
follows it, also in the window's Owner column; a taken name is refused and changes nothing),
and on a team database (PostgreSQL) an admin ticks who else is an admin. By keyboard: Tab
reaches every control, Space ticks, Enter renames, Esc cancels."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import Qt

from mailmonitor.models import Account, Campaign, TeamMember, set_this_member, this_member
from mailmonitor.services.team import local, members
from mailmonitor.ui.main_window import MainWindow
from mailmonitor.ui.models import AccountsModel
from mailmonitor.ui.team_members import ADMIN, NAME, RenameDialog
from mailmonitor.ui.team_settings import TeamDialog
from tests.factories import make_account, make_campaign
from tests.ui.helpers import answer_discard
from tests.ui.test_keyboard_walk import Keys

pytestmark = pytest.mark.ui

TEAM = pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)


@pytest.fixture
def started(db: Path | str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """As cli._main starts a copy: its data folder, its member (alice, from team.json)."""
    monkeypatch.delenv(local.MEMBER_ENV, raising=False)
    local.write(data_dir, member="alice")
    local.apply(data_dir)
    yield data_dir
    local._started.clear()
    set_this_member(None)


@pytest.fixture
def team(started: Path) -> None:
    """alice (this copy, the first member: admin) owns two mailboxes and a campaign; bob and
    carol own one mailbox each."""
    members.register_this_member()
    mine = [make_account("alice@x.test"), make_account("alice2@x.test")]
    make_campaign("Alice's", mine[:1])
    for name in ("bob", "carol"):
        members.add_member(name)
        make_account(f"{name}@x.test", owner=name)


def open_team(window: MainWindow) -> TeamDialog:
    dialog = window.open_settings().open_team()
    assert isinstance(dialog, TeamDialog)
    return dialog


def table_rows(dialog: TeamDialog) -> list[tuple[str, bool, bool, str, str]]:
    """(member, admin ticked, tickable, mailboxes, campaigns) per row."""
    table = dialog.members.table
    rows = []
    for i in range(table.rowCount()):
        tick = table.item(i, ADMIN)
        rows.append((table.item(i, NAME).text(), tick.checkState() == Qt.CheckState.Checked,
                     bool(tick.flags() & Qt.ItemFlag.ItemIsUserCheckable),
                     table.item(i, 2).text(), table.item(i, 3).text()))
    return rows


def closed(dialog: RenameDialog) -> bool:
    return not shiboken6.isValid(dialog) or not dialog.isVisible()  # (deleted on close)


def admins() -> dict[str, bool]:
    return {m.name: bool(m.admin) for m in TeamMember.select()}


def owners() -> dict[str, str]:
    return {a.email: a.owner for a in Account.select()} | {
        c.name: c.owner for c in Campaign.select()}


@TEAM
def test_an_admin_ticks_who_else_is_an_admin_with_the_keyboard(
        team: None, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    window = make_window()
    window.show()
    dialog = open_team(window)
    section = dialog.members
    assert not section.table.isHidden() and not section.heading.isHidden()
    assert table_rows(dialog) == [("alice (you)", True, True, "2", "1"),
                                  ("bob", False, True, "1", "0"),
                                  ("carol", False, True, "1", "0")]
    assert "Tick Admin (Space)" in section.admin_note.text()
    keys = Keys(qtbot)
    seen = keys.tab_round(dialog, [section.rename_button, section.table, dialog.url,
                                   dialog.test_button])
    at = seen.index(section.rename_button)  # a round, from the top of the page
    down = seen[at:] + seen[:at]
    assert [w for w in down if w in (section.rename_button, dialog.url, section.table,
                                     dialog.test_button)] == [
        section.rename_button, dialog.url, section.table, dialog.test_button]

    # The last admin stays one: unticking alice is refused, the tick comes back.
    section.table.setFocus()
    section.table.setCurrentCell(0, ADMIN)
    qtbot.keyClick(section.table, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: section.result_text.startswith("alice is the last admin"),
                    timeout=5000)
    assert section.result_text.endswith("(nothing was changed).")
    assert "✖" in section.result.text()
    assert table_rows(dialog)[0][1] is True and admins()["alice"] is True

    # Space on bob's row ticks him; then alice can step down.
    section.table.setCurrentCell(1, ADMIN)
    qtbot.keyClick(section.table, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: admins()["bob"] and section.result_text == "bob is an admin now.",
                    timeout=5000)
    assert table_rows(dialog)[1][1] is True
    assert section.table.currentRow() == 1  # the focus stays where the rep was
    section.table.setCurrentCell(0, ADMIN)
    qtbot.keyClick(section.table, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: section.result_text == "alice is no longer an admin.", timeout=5000)
    assert admins() == {"alice": False, "bob": True, "carol": False}
    # No longer an admin: the ticks are read-only for alice now.
    assert [row[2] for row in table_rows(dialog)] == [False, False, False]
    assert "Only an admin can change who is one." in section.admin_note.text()
    qtbot.keyClick(section.table, Qt.Key.Key_Space)
    assert admins() == {"alice": False, "bob": True, "carol": False}
    keys.escape_closes(dialog)


@TEAM
def test_the_rep_renames_themselves_and_what_they_own_follows(
        team: None, started: Path, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    window = make_window()
    window.show()
    owner_of = {window.accounts_model.row(i).email: window.accounts_model.index(
        i, AccountsModel.OWNER) for i in range(window.accounts_model.rowCount())}
    assert owner_of["alice@x.test"].data() == "alice"
    dialog = open_team(window)
    section = dialog.members
    assert "<b>alice</b>" in section.me.text()
    keys = Keys(qtbot)

    # Esc cancels: nothing changes.
    section.rename_button.setFocus()
    qtbot.keyClick(section.rename_button, Qt.Key.Key_Space)
    rename = section.rename_dialog
    assert isinstance(rename, RenameDialog) and rename.isVisible()
    assert rename.focusWidget() is rename.name and rename.name.selectedText() == "alice"
    assert "2 mailboxes and 1 campaign you own move to the new name" in " ".join(
        w.text() for w in rename.findChildren(type(section.me)))
    keys.tab_round(rename, [rename.rename_button, rename.cancel_button])
    qtbot.keyClicks(rename.name, "Someone")
    keys.press(rename, Qt.Key.Key_Escape)
    answer_discard(rename, discard=True)  # typed: asked first
    assert closed(rename)
    assert this_member() == "alice" and owners()["alice@x.test"] == "alice"

    # A taken name (whatever the case): refused in the dialog, which stays open.
    before = owners()
    rename = section.open_rename()
    rename.name.setText("BOB")
    qtbot.keyClick(rename.name, Qt.Key.Key_Return)  # Enter = Rename
    qtbot.waitUntil(lambda: not rename.error.isHidden(), timeout=5000)
    assert rename.error.text() == ("bob is already a member: choose another name (nothing was "
                                   "changed)")
    assert rename.isVisible() and rename.focusWidget() is rename.name
    assert owners() == before and this_member() == "alice"
    assert sorted(admins()) == ["alice", "bob", "carol"]

    # A new name: the rows, the member, team.json and the window follow.
    rename.name.setText("Alice Smith")
    qtbot.keyClick(rename.name, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: closed(rename), timeout=5000)
    assert section.result_text == ("alice is Alice Smith now (2 mailboxes and 1 campaign moved "
                                   "along).")
    assert "<b>Alice Smith</b>" in section.me.text()
    assert table_rows(dialog)[0] == ("Alice Smith (you)", True, True, "2", "1")
    assert this_member() == "Alice Smith"
    assert json.loads((started / "team.json").read_text()) == {"member": "Alice Smith"}
    assert owners() == {"alice@x.test": "Alice Smith", "alice2@x.test": "Alice Smith",
                        "bob@x.test": "bob", "carol@x.test": "carol", "Alice's": "Alice Smith"}
    qtbot.waitUntil(lambda: owner_of["alice@x.test"].data() == "Alice Smith", timeout=3000)
    assert owner_of["bob@x.test"].data() == "bob"
    assert dialog.focusWidget() is section.rename_button


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_a_personal_database_has_a_name_but_no_members_list(
        started: Path, make_window: Callable[..., MainWindow], qtbot: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    members.register_this_member()
    make_account("me@x.test")
    window = make_window()
    dialog = open_team(window)
    section = dialog.members
    assert section.table.isHidden() and section.heading.isHidden()
    assert not section.rename_button.isHidden() and section.rename_button.isEnabled()
    rename = section.open_rename()
    rename.name.setText("Al")
    rename.rename()
    qtbot.waitUntil(lambda: closed(rename), timeout=5000)
    # Moved into a team later, what the rep owns is theirs under this name.
    assert Account.get().owner == "Al" and this_member() == "Al"
    assert local.read(started) == {"member": "Al"}
    dialog.reject()

    # MAILMONITOR_MEMBER names this copy: the Team page says so and cannot rename it.
    monkeypatch.setenv(local.MEMBER_ENV, "Al")
    dialog = open_team(window)
    assert not dialog.members.rename_button.isEnabled()
    assert "MAILMONITOR_MEMBER" in dialog.members.rename_button.toolTip()
    assert "set by MAILMONITOR_MEMBER" in dialog.members.me.text()
