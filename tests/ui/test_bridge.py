"""The event bridge: service events reach the Qt thread as signals, coalesced and batched."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from mailmonitor import events
from mailmonitor.ui.bridge import EventBridge

pytestmark = pytest.mark.ui


def test_a_burst_becomes_one_signal_per_id_and_one_batch(
        qapp: QApplication, settle: Callable[[], None]) -> None:
    bus = events.EventBus()
    bridge = EventBridge(bus, coalesce_ms=0)
    singles: list[int] = []
    batches: list[list[int]] = []
    alerts: list[bool] = []
    bridge.accountChanged.connect(singles.append)
    bridge.accountsBatch.connect(batches.append)
    bridge.alertsChanged.connect(lambda: alerts.append(True))
    for account_id in (7, 3, 7, 7):
        bus.emit(events.ACCOUNT_CHANGED, account_id, "connected", "warning")
    bus.emit(events.CHECK_FINISHED, 5)  # a finished check also refreshes the row
    bus.emit(events.ALERTS_CHANGED)
    bus.emit(events.ALERTS_CHANGED)
    settle()
    assert singles == [3, 5, 7]
    assert batches == [[3, 5, 7]]
    assert alerts == [True]
    bridge.close()
    bus.emit(events.ACCOUNT_CHANGED, 9, "connected", "warning")
    settle()
    assert singles == [3, 5, 7]  # unsubscribed


def test_events_from_a_worker_thread_arrive_on_the_qt_thread(
        qapp: QApplication, qtbot: Any) -> None:
    bus = events.EventBus()
    bridge = EventBridge(bus, coalesce_ms=0)
    threads: list[bool] = []
    bridge.leadsChanged.connect(
        lambda _c: threads.append(QThread.currentThread() is qapp.thread()))
    worker = threading.Thread(target=lambda: bus.emit(events.LEADS_CHANGED, 4))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: threads == [True], timeout=1000)
    bridge.close()


def test_deleting_the_bridge_unsubscribes_it(qapp: QApplication) -> None:
    bus = events.EventBus()
    bridge = EventBridge(bus, coalesce_ms=0)
    assert bus._handlers[events.ACCOUNT_CHANGED]
    shiboken6.delete(bridge)  # as when its window is deleted
    assert not bus._handlers[events.ACCOUNT_CHANGED]
