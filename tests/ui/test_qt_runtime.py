"""Guards against Qt binding bugs that would crash a window left open all day.

PySide6 6.12.0 dropped one reference to None on every call of a Python override of a void
virtual method; qasync runs every callback through such an override (timerEvent), so the app
died after a few thousand callbacks with "deallocating None"."""

from __future__ import annotations

import asyncio
import sys

import pytest
import qasync
from PySide6.QtCore import QObject, QTimerEvent
from PySide6.QtWidgets import QApplication

pytestmark = pytest.mark.ui


def singleton_refcounts() -> tuple[int, int, int]:
    return sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)


def test_python_overrides_of_qt_virtuals_keep_none_alive(qapp: QApplication) -> None:
    class Ticker(QObject):
        fired = 0

        def timerEvent(self, event: QTimerEvent) -> None:
            self.killTimer(event.timerId())
            Ticker.fired += 1

    ticker = Ticker()
    before = singleton_refcounts()
    for _ in range(3000):
        ticker.startTimer(0)
    while Ticker.fired < 3000:
        qapp.processEvents()
    after = singleton_refcounts()
    assert after[0] >= before[0] - 50, f"None lost {before[0] - after[0]} references"


def test_thousands_of_qasync_callbacks_do_not_leak_references(qapp: QApplication) -> None:
    loop = qasync.QEventLoop(qapp, already_running=False)

    async def hop() -> None:
        await asyncio.sleep(0)

    async def many() -> None:
        await asyncio.gather(*(hop() for _ in range(3000)))

    try:
        before = singleton_refcounts()
        loop.run_until_complete(many())
        after = singleton_refcounts()
    finally:
        loop.close()
    assert after[0] >= before[0] - 50, f"None lost {before[0] - after[0]} references"
