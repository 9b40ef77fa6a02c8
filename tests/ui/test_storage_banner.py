"""Issue 22: when the database cannot be written while the window runs, a banner that cannot
be dismissed says so, and nothing is checked or sent any more (nothing may be sent that cannot
be recorded). The failures are SQLite's own, on every connection: the file may not grow by a
page (max_page_count: the next insert fails with SQLITE_FULL, what a full disk gives), or the
database became read-only (query_only: SQLITE_READONLY, what a read-only data folder gives)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import qasync

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, db
from mailmonitor.services.desktop.background import BackgroundWork
from mailmonitor.services.monitoring.probes import Credentials
from mailmonitor.ui.main_window import MainWindow
from tests.factories import make_account, make_campaign, make_leads
from tests.fake_smtp import FakeServer, FakeTransport, fake_credentials

pytestmark = pytest.mark.ui


def cannot_write(how: str) -> None:
    """Every connection opened from now on refuses to grow the file past its size now
    ("full"), or to write at all ("read-only")."""
    database = db.obj
    (pages,) = database.execute_sql("PRAGMA page_count").fetchone()
    pragma = ("max_page_count", int(pages)) if how == "full" else ("query_only", 1)
    database._pragmas = [*database._pragmas, pragma]
    database.close()  # this thread's connection reopens with it; workers open theirs


@pytest.mark.parametrize(("how", "words"), [("full", "The disk is full"),
                                            ("read-only", "read-only")])
def test_a_database_that_cannot_be_written_shows_a_blocking_banner_and_holds_sending(
        make_window: Callable[..., MainWindow], clock: FakeClock, qloop: qasync.QEventLoop,
        settle: Callable[[], None], db: Path, how: str, words: str) -> None:
    window = make_window()
    account = make_account("rep@sales.example", min_gap_seconds=0, daily_limit=1000)
    make_leads(make_campaign("Spring", [account], steps=1), account, 200)
    server = FakeServer()
    work = BackgroundWork(clock, monitor=window.ctx.monitor, kind="window")
    work.send_tick = 0.01
    work.engine.sender.credentials = fake_credentials
    work.engine.sender.save_copy = lambda a: False

    def transport(a: Account, creds: Credentials, timeout: float) -> FakeTransport:
        return FakeTransport(server, a)

    work.engine.sender.transport_factory = transport
    work.engine.lookup = lambda a, ids: None
    cannot_write(how)

    async def main() -> int:
        running = asyncio.ensure_future(work.run())
        deadline = asyncio.get_running_loop().time() + 20
        while window.storage.isHidden():
            assert asyncio.get_running_loop().time() < deadline, "no banner"
            await asyncio.sleep(0.02)
        return await asyncio.wait_for(running, 20)

    assert qloop.run_until_complete(main()) == 1
    settle()
    assert not window.storage.isHidden()
    text = window.storage.text.text()
    assert "Sending is held" in text and words in text
    assert [b.text() for b in window.storage.buttons()] == ["Quit mailmonitor"]
    assert not window.check_all_action.isEnabled()
    assert work.stopping.is_set()
    sent = len(server.delivered)
    assert sent < 200  # it stopped sending as soon as nothing could be recorded
    qloop.run_until_complete(asyncio.sleep(0.3))
    assert len(server.delivered) == sent
