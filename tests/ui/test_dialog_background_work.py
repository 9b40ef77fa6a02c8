"""A dialog's background work ends with the dialog (issue 12 §3): Add mailbox → Test & Add against
a server that accepts and never answers → Cancel used to crash ~40 s later with "Internal C++
object (QPushButton) already deleted" when the abandoned test came back to the deleted dialog.
Against real silent servers on loopback, with the real probes."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from mailmonitor.models import Account
from mailmonitor.ui.add_account import AddAccountDialog
from mailmonitor.ui.context import real_check
from mailmonitor.ui.main_window import MainWindow
from tests.servers.scripted import Script, ScriptedServer
from tests.ui.helpers import answer_discard

pytestmark = pytest.mark.ui


@pytest.fixture
def silent_servers() -> Iterator[tuple[ScriptedServer, ScriptedServer]]:
    with ScriptedServer(Script("imap", silent=True)) as imap, \
            ScriptedServer(Script("smtp", silent=True)) as smtp:
        yield imap, smtp


class WatchedCheck:
    """The real check, noting when its worker thread is done."""

    def __init__(self) -> None:
        self.finished = threading.Event()
        self.results: list[Any] = []

    def __call__(self, account: Account, password: str | None, timeout: float,
                 watch: Any = None) -> Any:
        try:
            result = real_check(account, password, timeout, watch)
            self.results.append(result)
            return result
        finally:
            self.finished.set()


def fill(dialog: AddAccountDialog, imap: ScriptedServer, smtp: ScriptedServer) -> None:
    dialog.set_kind("imap")
    dialog.email.setText("rep@silent.test")
    dialog.imap.set("127.0.0.1", imap.port, "plain")
    dialog.smtp.set("127.0.0.1", smtp.port, "plain")
    dialog.password.setText("secret-1")


async def until(condition: Callable[[], bool], limit: float = 10.0) -> None:
    async with asyncio.timeout(limit):
        while not condition():
            await asyncio.sleep(0.02)


def test_cancel_during_a_test_against_a_silent_server_ends_the_test_now(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qapp: QApplication, silent_servers: tuple[ScriptedServer, ScriptedServer],
        memory_keyring: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    imap, smtp = silent_servers
    errors: list[Any] = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: errors.append(exc))
    window = make_window()
    check = WatchedCheck()
    window.ctx.check_fn = check
    window.ctx.timeout = 30.0  # far longer than the test may take: Cancel must not wait for it
    dialog = window.open_add_account()
    fill(dialog, imap, smtp)
    dialog.add_button.click()
    # IMAP and SMTP are tested side by side: both servers see the test while IMAP hangs.
    qloop.run_until_complete(until(lambda: imap.connections >= 1 and smtp.connections >= 1))
    qloop.run_until_complete(until(lambda: "IMAP: waiting for the server's greeting"
                                   in dialog.test_progress.text()))
    shown = dialog.test_progress.text()
    assert "SMTP: waiting for the server's greeting" in shown
    assert "gives up after 30 s" in shown

    dialog.reject()  # what Cancel and Esc do (typed work: after asking)
    answer_discard(dialog, discard=True)
    assert check.finished.wait(5), "the test kept running after the dialog closed"
    qloop.run_until_complete(asyncio.wait_for(window.ctx.idle(), timeout=5))
    for _ in range(5):
        qapp.processEvents()
    assert errors == []
    assert Account.select().count() == 0


def test_stop_test_keeps_the_form_and_says_nothing_was_stored(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        silent_servers: tuple[ScriptedServer, ScriptedServer], memory_keyring: Any) -> None:
    imap, smtp = silent_servers
    window = make_window()
    window.ctx.check_fn = real_check
    window.ctx.timeout = 30.0
    dialog = window.open_add_account()
    fill(dialog, imap, smtp)
    dialog.add_button.click()
    assert not dialog.add_button.isEnabled()
    qloop.run_until_complete(until(lambda: imap.connections >= 1 and smtp.connections >= 1))
    assert dialog.stop_test.isVisibleTo(dialog)
    dialog.stop_test.click()
    qloop.run_until_complete(asyncio.wait_for(window.ctx.idle(), timeout=5))
    assert dialog.isVisible()
    assert dialog.error.text.text() == "Test stopped. Nothing was stored."
    assert dialog.add_button.isEnabled() and not dialog.stop_test.isVisibleTo(dialog)
    assert Account.select().count() == 0
    # The flow is back on the form: the next press tests again.
    assert not dialog.flow.testing and dialog.flow.last_test is None
    dialog.add_button.click()
    assert not dialog.add_button.isEnabled() and dialog.stop_test.isVisibleTo(dialog)
    dialog.stop_test.click()
    qloop.run_until_complete(asyncio.wait_for(window.ctx.idle(), timeout=5))
    assert dialog.error.text.text() == "Test stopped. Nothing was stored."


def test_a_timeout_while_adding_gives_advice_that_fits_and_raw_text_under_details(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        silent_servers: tuple[ScriptedServer, ScriptedServer], memory_keyring: Any) -> None:
    imap, smtp = silent_servers
    window = make_window()
    window.ctx.check_fn = real_check
    window.ctx.timeout = 0.3  # the silent servers' real timeout, kept short
    dialog = window.open_add_account()
    fill(dialog, imap, smtp)
    dialog.add_button.click()
    qloop.run_until_complete(asyncio.wait_for(window.ctx.idle(), timeout=10))
    body = dialog.error.text.text()
    assert "Not added: the server did not answer within 0.3 s." in body
    assert "keeps retrying" not in body  # the mailbox was not added: nothing retries it
    assert "Nothing was stored." in body
    assert "No answer from" not in body  # the probe's own words stay under Details
    assert dialog.details.isVisibleTo(dialog) and not dialog.details.body.isVisibleTo(dialog)
    dialog.details.toggle.click()
    assert "No answer from 127.0.0.1" in dialog.details.body.text()
    assert Account.select().count() == 0
