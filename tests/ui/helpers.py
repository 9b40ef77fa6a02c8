"""Helpers for the UI tests: a scripted probe and a way to finish background tasks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import qasync

from mailmonitor.models import Account
from mailmonitor.ui.main_window import MainWindow
from tests.factories import FakeProbe, probe_fail, probe_ok


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
