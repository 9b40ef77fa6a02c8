"""Screenshots of the team view (issue 15): the Mailboxes and Campaigns tabs on a team database
with "Mine" first, the Owner column (everyone's mailboxes, sorted by owner), Settings → Team on
the team database (your name, the members and admins), and Settings → Team before and after
moving a personal database into it.
Starts a private PostgreSQL server (tests/servers/postgres.py, TLS) in a temp folder.

Usage: QT_QPA_PLATFORM=offscreen python tools/team_screenshots.py [OUT_DIR]"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keyring  # noqa: E402
import PySide6  # noqa: E402, F401  (before qasync)
import qasync  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QStyleFactory  # noqa: E402

from mailmonitor.app import apply_style, build_main_window  # noqa: E402
from mailmonitor.clock import SystemClock  # noqa: E402
from mailmonitor.memory_keyring import MemoryKeyring  # noqa: E402
from mailmonitor.models import DB_FILENAME, close_db, open_db, set_this_member  # noqa: E402
from mailmonitor.services.monitoring.account_state import update_status  # noqa: E402
from mailmonitor.services.team import local, members  # noqa: E402
from mailmonitor.ui.main_window import MainWindow  # noqa: E402
from mailmonitor.ui.models import AccountsModel  # noqa: E402
from mailmonitor.ui.team_settings import TeamDialog  # noqa: E402
from tests.factories import make_account, make_campaign, make_leads  # noqa: E402
from tests.servers.certs import shared_test_pki  # noqa: E402
from tests.servers.postgres import PostgresServer  # noqa: E402
from tools.screenshots import fake_check, save, settle  # noqa: E402


def seed_team() -> None:
    now = SystemClock().now()
    for owner, boxes, campaign in (
            ("bob", ["bob@northwind.example", "bob.sales@northwind.example"], "Bob — EMEA"),
            ("alice", ["alice@northwind.example", "alice.out@northwind.example",
                       "alice.m365@northwind.example"], "Alice — Q4 outreach")):
        set_this_member(owner)
        members.register_this_member()
        accounts = [make_account(email) for email in boxes]
        made = make_campaign(campaign, accounts)
        made.status = "active"
        made.save()
        make_leads(made, accounts[0], 40)
    set_this_member("alice")
    from mailmonitor.models import Account

    broken = Account.get(Account.email == "alice.out@northwind.example")
    update_status(broken, "disconnected", "invalid_credentials",
                  "535 5.7.8 Username and Password not accepted", now)


def wait_for(app: QApplication, done: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:  # type: ignore[operator]
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    keyring.set_keyring(MemoryKeyring())
    app = QApplication(sys.argv[:1])
    app.setStyle(QStyleFactory.create("Fusion"))
    apply_style(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    pki = shared_test_pki()
    with PostgresServer(pki) as server:
        server.create_database("team")
        server.create_database("empty")
        url = server.url("team", sslmode="verify-full", sslrootcert=str(pki.ca_cert))
        empty = server.url("empty", sslmode="verify-full", sslrootcert=str(pki.ca_cert))

        team_dir = Path(tempfile.mkdtemp(prefix="mm-team-shots-"))
        local.apply(team_dir)
        local.database_for(url, team_dir, DB_FILENAME)
        open_db(url)
        seed_team()
        window: MainWindow = build_main_window(loop=loop, check_fn=fake_check, coalesce_ms=0)
        window.resize(1180, 640)
        window.show()
        settle(window)
        window.notice.hide()
        save(window, out, "35-team-mine-filter")
        window.accounts_tab.owner_filter.setCurrentIndex(1)
        settle(window)
        save(window, out, "36-team-everyone")
        tab = window.accounts_tab
        tab.view.sortByColumn(AccountsModel.OWNER, Qt.SortOrder.AscendingOrder)
        tab.view.clearSelection()
        settle(window)
        save(window, out, "39-owner-column")
        members.set_admin("alice", True)  # as the team's admin sees the page
        members.set_admin("bob", False)
        members_page = window.open_settings().open_team()
        assert isinstance(members_page, TeamDialog)
        members_page.url.setText(url)
        members_page.url.setCursorPosition(0)
        settle(window)
        save(members_page, out, "40-team-members")
        members_page.discard()
        window.hide()
        close_db()

        personal_dir = Path(tempfile.mkdtemp(prefix="mm-personal-shots-"))
        set_this_member(None)
        local.apply(personal_dir)
        local.database_for(None, personal_dir, DB_FILENAME)
        open_db(personal_dir / DB_FILENAME)
        a = make_account("rep@northwind.example")
        make_leads(make_campaign("Spring", [a]), a, 25)
        window = build_main_window(loop=loop, check_fn=fake_check, coalesce_ms=0)
        window.show()
        settle(window)
        dialog = window.open_settings().open_team()
        assert dialog is not None
        dialog.url.setText(empty)
        dialog.test()  # type: ignore[attr-defined]
        wait_for(app, lambda: dialog.result_text.startswith(("Connected", "Cannot")))  # type: ignore[attr-defined]
        save(dialog, out, "37-team-settings-tested")
        dialog.move_data()  # type: ignore[attr-defined]
        wait_for(app, lambda: dialog.restart_button.isVisible())  # type: ignore[attr-defined]
        save(dialog, out, "38-team-settings-moved")
        close_db()
    return 0


if __name__ == "__main__":
    sys.exit(main())
