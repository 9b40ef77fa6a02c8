"""The demo tour, end to end (issue 23): `mailmonitor demo`'s data against its own servers;
every broken demo mailbox is fixed from the window with the hint shown where the fix is typed
(Cleo's new password, Dan's app password, Eve's moved server, Finn whom the rep disconnected),
and the demo's servers do what the app does: replies are read over IMAP, copies of sent emails
saved in Sent, a test email goes round."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from mailmonitor.app import build_main_window
from mailmonitor.demo import DemoContext, seed_demo
from mailmonitor.demo_servers import DemoServers
from mailmonitor.models import Account, Lead, LeadState, close_db
from mailmonitor.services.monitoring.checker import credentials_for
from mailmonitor.services.placement import overview
from mailmonitor.services.reconnect.flow import Page
from mailmonitor.services.sending import replies
from mailmonitor.services.sending.sender import SentCopies
from mailmonitor.ui.main_window import MainWindow

pytestmark = pytest.mark.ui


@pytest.fixture
def demo(memory_keyring: Any, qloop: qasync.QEventLoop) -> Iterator[DemoContext]:
    servers = DemoServers().start()
    folder = Path(tempfile.mkdtemp(prefix="mm-demo-tour-"))
    context = seed_demo(folder, servers)
    asyncio.set_event_loop(qloop)  # seeding ran its own loop for the first sweep
    yield context
    close_db()
    servers.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def window(demo: DemoContext, qloop: qasync.QEventLoop, qapp: QApplication
           ) -> Iterator[MainWindow]:
    main = build_main_window(loop=qloop, hints=demo.hints, title_suffix=" — demo",
                             coalesce_ms=0, use_tray=False, demo=True)
    yield main
    qloop.run_until_complete(main.ctx.cancel_all())
    main.ctx.bridge.close()
    main.hide()
    main.deleteLater()
    qapp.processEvents()


def idle(loop: qasync.QEventLoop, window: MainWindow) -> None:
    loop.run_until_complete(asyncio.wait_for(window.ctx.idle(), timeout=20))


def account(email: str) -> Account:
    found: Account = Account.get(Account.email == email)
    return found


def reconnect_with_the_hint(window: MainWindow, loop: qasync.QEventLoop, qtbot: Any,
                            email: str, typed: str) -> None:
    wizard = window.open_wizard(account(email).id, Page.CONNECTION)
    page = wizard.connection_page
    assert page.hint.isVisibleTo(wizard) and typed in page.hint.text(), page.hint.text()
    qtbot.keyClicks(page.password, typed)
    qtbot.keyClick(page.password, Qt.Key.Key_Return)  # Next: a real test
    idle(loop, window)
    assert wizard.stack.currentWidget() is wizard.ready_page, \
        wizard.connection_page.failure.text.text()
    qtbot.keyClick(wizard.focusWidget(), Qt.Key.Key_Return)  # Save & Resume
    idle(loop, window)
    assert account(email).status == "connected"


def test_every_broken_demo_mailbox_is_fixed_from_the_window(
        demo: DemoContext, window: MainWindow, qloop: qasync.QEventLoop, qtbot: Any) -> None:
    broken = {a.email: a.status for a in Account.select() if a.status != "connected"}
    assert broken == {"cleo@northwind.example": "disconnected",
                      "dan@gmail-demo.example": "disconnected",
                      "eve@fieldsales.example": "warning",
                      "finn@northwind.example": "stopped"}
    reconnect_with_the_hint(window, qloop, qtbot, "cleo@northwind.example", "new-password-2026")
    reconnect_with_the_hint(window, qloop, qtbot, "dan@gmail-demo.example",
                            "abcd efgh ijkl mnop")
    reconnect_with_the_hint(window, qloop, qtbot, "finn@northwind.example", "finn-pass")

    # Eve's server moved: the hint is where servers are typed, and the new port is tested.
    eve = account("eve@fieldsales.example")
    edit = window.open_account(eve.id).edit_servers()
    assert edit.hint.isVisibleTo(edit) and str(demo.servers.imap_port) in edit.hint.text()
    edit.imap.port.setValue(demo.servers.imap_port)
    edit.save_button.click()
    idle(qloop, window)
    assert account("eve@fieldsales.example").status == "connected"


def test_the_demo_servers_do_what_the_app_does(demo: DemoContext, window: MainWindow) -> None:
    ava = account("ava@northwind.example")
    creds = credentials_for(ava, None, 10)
    now = window.ctx.clock.now()
    # The reply waiting in Ava's INBOX is read over IMAP: its lead is Replied.
    report = replies.poll_account(ava, creds, now)
    assert report.replied == 1
    assert Lead.select().where((Lead.mailbox == ava)
                               & (Lead.state == LeadState.REPLIED)).count() >= 1
    # A copy of a sent email goes to Sent.
    copies = SentCopies(ava, creds, 10)
    assert copies.save(b"From: ava@northwind.example\r\nSubject: copy\r\n\r\nhi\r\n", now)
    copies.close()
    assert demo.servers.folder(ava.email, "Sent")
    # A test email goes from Ava to herself and is found in the Inbox, then deleted.
    result = overview.test_sending_and_receiving(ava.id, now)
    assert result.outcome == "inbox", result.summary()
