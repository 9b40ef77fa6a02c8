"""UI test fixtures: a qasync loop per test (coroutines are driven with run_until_complete, see
platform notes), a window with a real Monitor whose probe is a scripted fake, and a helper that
lets queued bridge signals arrive."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator
from pathlib import Path

import PySide6  # noqa: F401  (before qasync: it takes the first Qt binding it finds)
import pytest
import qasync
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication

from mailmonitor.app import build_main_window
from mailmonitor.clock import FakeClock
from mailmonitor.services.monitoring.monitor import Monitor
from mailmonitor.ui.main_window import MainWindow
from tests.ui.helpers import FakeCheck


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture
def fake_check() -> FakeCheck:
    return FakeCheck()


@pytest.fixture
def settle(qapp: QApplication) -> Callable[[], None]:
    """Deliver queued bridge events now (they arrive on the next event-loop turn)."""

    def run() -> None:
        for _ in range(5):  # relay → bridge delivery → debounced view refreshes
            qapp.processEvents()

    return run


@pytest.fixture
def make_window(db: Path, clock: FakeClock, qloop: qasync.QEventLoop, qapp: QApplication,
                fake_check: FakeCheck) -> Iterator[Callable[..., MainWindow]]:
    """Windows with a real Monitor (scripted probe). Torn down in the app's order: background
    tasks first, then the widgets (a cancelled task may still touch them)."""
    windows: list[tuple[MainWindow, Monitor]] = []

    def make(use_tray: bool | None = None) -> MainWindow:
        monitor = Monitor(clock=clock, check_fn=fake_check, max_concurrency=4)
        window = build_main_window(loop=qloop, clock=clock, monitor=monitor,
                                   check_fn=fake_check, use_tray=use_tray, coalesce_ms=0)
        windows.append((window, monitor))
        return window

    yield make
    for window, monitor in windows:
        qloop.run_until_complete(window.ctx.cancel_all())
        qloop.run_until_complete(monitor.stop())
        window.tray.hide()
        window.ctx.bridge.close()
        window.hide()
        window.deleteLater()
    qapp.processEvents()
    # Delete them now: a window left for later keeps its timers (the owner filter's refresh
    # would query a database the session may already have stopped).
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    windows.clear()
    gc.collect()  # windows live in reference cycles (signal closures): free them now
