"""Helpers for the UI tests: a scripted probe and a way to finish background tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import qasync
from PySide6.QtWidgets import QMessageBox, QWidget

from mailmonitor.models import Account
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.ui.main_window import MainWindow
from tests.factories import (
    FakeProbe,
    make_account,
    make_campaign,
    make_leads,
    probe_fail,
    probe_ok,
    reload,
)


@dataclass
class FakeCheck:
    """Stands in for `run_check`: answers per address; a wrong password for an address that has
    an expected one is rejected like a real server would."""

    answers: dict[str, tuple[FakeProbe, FakeProbe]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    def __call__(self, account: Account, password: str | None, timeout: float
                 ) -> tuple[FakeProbe, FakeProbe]:
        self.calls.append((account.email, password))
        expected = self.passwords.get(account.email)
        if expected is not None and password is not None:
            if password == expected:
                return probe_ok(latency_ms=21), probe_ok(latency_ms=34)
            return (probe_fail("invalid_credentials", "NO [AUTHENTICATIONFAILED] Invalid "
                               "credentials (Failure)"),
                    probe_fail("invalid_credentials", "535-5.7.8 Username and Password not "
                               "accepted"))
        return self.answers.get(account.email, (probe_ok(), probe_ok()))


def run(loop: qasync.QEventLoop, window: MainWindow) -> None:
    """Let every background task the window started finish (probes run in threads)."""
    loop.run_until_complete(asyncio.wait_for(window.ctx.idle(), timeout=10))


# The password the reconnect tests type for cleo (FakeCheck accepts it).
RIGHT = "fresh-app-pass-2026"


def seed_broken_cleo(fake_check: FakeCheck, at: Callable[[Account], datetime]) -> Account:
    """cleo's password changed at the provider: disconnected at `at(cleo)`, her solo campaign
    paused, a shared one with ava still running; FakeCheck accepts RIGHT for her."""
    cleo = make_account("cleo@northwind.example", daily_limit=40)
    ava = make_account("ava@northwind.example")
    solo = make_campaign("Enterprise follow-up", [cleo])
    shared = make_campaign("Q4 outreach", [cleo, ava])
    make_leads(solo, cleo, 12, prefix="ent", cursor=1)
    make_leads(shared, cleo, 5, prefix="q4")
    update_status(cleo, "disconnected", "invalid_credentials",
                  "NO [AUTHENTICATIONFAILED] Invalid credentials", at(cleo))
    fake_check.passwords[cleo.email] = RIGHT
    return reload(cleo)



def discard_question(dialog: QWidget) -> QMessageBox:
    """The "Discard your changes?" question a dialog asks on Esc/Cancel over typed work."""
    box = getattr(dialog, "discard_box", None)
    assert isinstance(box, QMessageBox) and box.isVisible(), \
        f"{dialog.objectName()} did not ask before discarding"
    return box


def answer_discard(dialog: QWidget, discard: bool) -> None:
    """Answer the question: Discard (the dialog closes, nothing saved) or Keep editing."""
    box = discard_question(dialog)
    wanted = "Discard" if discard else "Keep editing"
    button = next(b for b in box.buttons() if b.text() == wanted)
    button.click()
