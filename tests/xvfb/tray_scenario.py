"""Run by tests/xvfb/test_real_tray.py in its own process on a real X server with a tray host:
the window with a real QSystemTrayIcon, a disconnection, Qt's notification balloon, and a click
on it. Prints one JSON line with what happened; saves a screenshot of the whole screen."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import keyring
import qasync
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from mailmonitor.app import build_main_window
from mailmonitor.clock import SystemClock
from mailmonitor.memory_keyring import MemoryKeyring
from mailmonitor.models import open_db
from mailmonitor.services.alerts.reconciler import reconcile
from mailmonitor.services.monitoring.account_state import update_status
from tests.factories import make_account, make_campaign, make_leads


def wait_until(app: QApplication, condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def main(screenshot: str) -> None:
    keyring.set_keyring(MemoryKeyring())
    app = QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    result: dict[str, object] = {"platform": app.platformName()}
    result["tray_available"] = wait_until(app, QSystemTrayIcon.isSystemTrayAvailable, 10)
    open_db(Path(tempfile.mkdtemp(prefix="mm-tray-")) / "db.sqlite3")
    ava = make_account("ava@northwind.example")
    campaign = make_campaign("Q4 outreach", [ava])
    make_leads(campaign, ava, 3)
    window = build_main_window(loop=loop, clock=SystemClock(), use_tray=None, coalesce_ms=0)
    window.show()
    tray = window.tray
    result["tray_used"] = tray.available
    update_status(ava, "disconnected", "invalid_credentials", "535 5.7.8", SystemClock().now())
    reconcile(SystemClock().now())  # as the app's background loop does within half a second
    wait_until(app, lambda: tray.last_notification is not None and tray.worst == "disconnected", 5)
    notification = tray.last_notification
    result["notification"] = (f"{notification.title}: {notification.message}"
                              if notification else None)
    result["tray_tooltip"] = tray.tooltip
    result["tray_worst"] = tray.worst
    balloons = []
    wait_until(app, lambda: bool(balloons.extend(
        w for w in app.topLevelWidgets()
        if w.metaObject().className() == "QBalloonTip" and w.isVisible()) or balloons), 5)
    result["balloon_shown"] = bool(balloons)
    wait_until(app, lambda: False, 0.5)  # let it paint before the screenshot
    # The whole virtual screen (tray host, balloon, window) through Qt: no external tool.
    app.primaryScreen().grabWindow(0).save(screenshot)
    if balloons:
        balloon = balloons[0]
        QTest.mouseClick(balloon, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         QPoint(balloon.width() // 2, balloon.height() // 2))
    wait_until(app, lambda: ava.id in window.wizards, 5)
    result["wizard_opened_for"] = (window.wizards[ava.id].flow.email
                                   if ava.id in window.wizards else None)
    print(json.dumps(result), flush=True)
    tray.hide()


if __name__ == "__main__":
    main(sys.argv[1])
