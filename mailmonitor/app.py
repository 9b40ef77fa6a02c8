"""The desktop app: QApplication on a qasync event loop, one instance per data folder, the
monitor as a background task, an excepthook that shows errors, and a clean quit.

PySide6 is imported before qasync (qasync takes the first Qt binding it finds)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

os.environ.setdefault("QT_API", "pyside6")

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from mailmonitor.clock import Clock, SystemClock
from mailmonitor.logsetup import setup_logging
from mailmonitor.models import DB_FILENAME, DatabaseTarget, close_db, get_setting, open_db
from mailmonitor.models.database import first_line
from mailmonitor.services.alerts.reconciler import reconcile
from mailmonitor.services.auth.refresh import oauth_token_provider
from mailmonitor.services.auth.tokens import TokenProvider
from mailmonitor.services.monitoring.checker import check_with
from mailmonitor.services.monitoring.network import NetworkWatch
from mailmonitor.ui.bridge import DEFAULT_COALESCE_MS, EventBridge
from mailmonitor.ui.context import CheckFn, MonitorLike, UiContext
from mailmonitor.ui.errors import ErrorReporter
from mailmonitor.ui.icons import app_icon, resource_path
from mailmonitor.ui.main_window import MainWindow
from mailmonitor.ui.single_instance import SingleInstance


class DemoSession(Protocol):
    """What the window needs of `mailmonitor demo` (built in ``demo.py``, which starts this app):
    per demo mailbox what fixes it, shown where the rep types the fix (the password in the
    reconnect wizard, the servers in Edit servers…)."""

    hints: dict[str, str]

log = logging.getLogger(__name__)
PROCESS_START = time.monotonic()


def apply_style(app: QApplication) -> None:
    app.setStyleSheet(resource_path("style.qss").read_text(encoding="utf-8"))


def build_main_window(*, loop: asyncio.AbstractEventLoop | None = None,
                      clock: Clock | None = None, monitor: MonitorLike | None = None,
                      check_fn: CheckFn | None = None, use_tray: bool | None = None,
                      hints: dict[str, str] | None = None, title_suffix: str = "",
                      coalesce_ms: int = DEFAULT_COALESCE_MS,
                      token_provider: TokenProvider | None = None,
                      reconciles_here: bool = True, demo: bool = False) -> MainWindow:
    """The window and everything it needs, without starting an event loop (tests use this,
    with `coalesce_ms=0` so changes show on the next event-loop turn). The database must be
    open. Without `check_fn`, the window's connection tests are the real probes, signing in to
    OAuth accounts with `token_provider`. `reconciles_here`: no attention loop runs in this
    process, so the window reconciles the alerts itself after the rep's actions."""

    bridge = EventBridge(coalesce_ms=coalesce_ms)
    ctx = UiContext(
        bridge=bridge, loop=loop or asyncio.get_event_loop(), clock=clock or SystemClock(),
        monitor=monitor, check_fn=check_fn or check_with(token_provider),
        hints=dict(hints or {}), demo=demo,
        timeout=float(get_setting("connection_timeout_seconds")), coalesce_ms=coalesce_ms,
        reconcile=reconcile if reconciles_here else None,
    )
    window = MainWindow(ctx, use_tray=use_tray, title_suffix=title_suffix)
    bridge.setParent(window)
    return window


class DesktopApp:
    """Start-up inside the running loop, and the one way out (`request_quit` → `shutdown`)."""

    def __init__(self, app: QApplication, loop: asyncio.AbstractEventLoop,
                 reporter: ErrorReporter, instance: SingleInstance, data_dir: Path,
                 demo: DemoSession | None = None) -> None:
        self.app = app
        self.loop = loop
        self.reporter = reporter
        self.instance = instance
        self.demo = demo
        self.quit_event = asyncio.Event()
        self.window: MainWindow | None = None
        self.data_dir = data_dir
        self.monitor: Any = None
        self.background: Any = None
        self.sending_lock: Any = None
        self.monitor_task: asyncio.Task[Any] | None = None
        self._shutdown_task: asyncio.Future[None] | None = None

    async def main(self) -> int:
        from mailmonitor.services.desktop.background import (
            AlreadyRunning,
            BackgroundWork,
            acquire_instance_lock,
        )
        from mailmonitor.services.monitoring.monitor import Monitor

        network = NetworkWatch()
        # One token provider for every check and send of OAuth mailboxes in this process.
        tokens = oauth_token_provider()
        # Created inside the running loop: its semaphore and events belong to this loop.
        self.monitor = Monitor(is_online=network.is_online, token_provider=tokens)
        try:
            self.sending_lock = acquire_instance_lock(self.data_dir)
        except AlreadyRunning:
            # `mailmonitor run --headless` sends from this folder already: the window monitors
            # and shows everything, but leaves the sending to it.
            log.info("another mailmonitor sends from %s: this window does not send", self.data_dir)
            self.sending_lock = None
        self.background = BackgroundWork(monitor=self.monitor,
                                         sending=self.sending_lock is not None, kind="window",
                                         token_provider=tokens)
        window = build_main_window(
            loop=self.loop, monitor=self.monitor, token_provider=tokens,
            hints=self.demo.hints if self.demo else None,
            title_suffix=" — demo" if self.demo else "", demo=self.demo is not None,
            # The background loop reconciles where this copy sends; else the window does.
            reconciles_here=not self.background.sending)
        self.window = window
        self.reporter.parent = window
        self.instance.raiseRequested.connect(window.bring_to_front)
        window.quitRequested.connect(self.request_quit)
        self.app.aboutToQuit.connect(self._about_to_quit)
        window.show()
        log.info("window shown %.2f s after start", time.monotonic() - PROCESS_START)
        # Everything made during start-up lives as long as the app: keep it out of the
        # collector's full passes (they would otherwise stall the window for tens of ms).
        gc.freeze()
        self.monitor_task = self.loop.create_task(self.background.run(), name="background")
        await self.quit_event.wait()
        await self.shutdown()
        return 0

    def request_quit(self) -> None:
        self.quit_event.set()

    def _about_to_quit(self) -> None:
        # Qt is quitting by itself (the session ends); this may fire more than once. Qt's loop
        # stops right after: run_app then finishes the shutdown.
        self.quit_event.set()

    async def shutdown(self) -> None:
        """Idempotent: a second call (Qt ended its loop mid-shutdown, and run_app resumes it)
        waits for the same shutdown to finish instead of returning early."""
        if self._shutdown_task is None:
            self._shutdown_task = asyncio.ensure_future(self._shutdown())
        await asyncio.shield(self._shutdown_task)

    async def _shutdown(self) -> None:
        log.info("shutting down")
        if self.background is not None:
            # Graceful: an email in flight is finished and recorded before the window goes.
            self.background.request_stop()
        if self.monitor_task is not None:
            await asyncio.gather(self.monitor_task, return_exceptions=True)
        if self.sending_lock is not None:
            self.sending_lock.close()
        window = self.window
        if window is not None:
            await window.ctx.cancel_all()
            window.tray.hide()
            window.ctx.bridge.close()
            window.hide()
            executor = window.ctx.executor
            if isinstance(executor, ThreadPoolExecutor):
                executor.shutdown(wait=False, cancel_futures=True)
        self.instance.close()


def install_quit_signals(desktop: DesktopApp) -> QTimer:
    """SIGTERM/SIGINT (logout, `kill`, Ctrl+C in a terminal) quit like the Quit menu: the email
    in flight is finished first. Python runs signal handlers only between bytecodes, so a light
    timer gives it a chance while Qt waits for events."""

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: quitting", signum)
        desktop.request_quit()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    timer = QTimer()
    timer.timeout.connect(lambda: None)
    timer.start(250)
    return timer


def run_app(data_dir: Path, demo: DemoSession | None = None,
            database: DatabaseTarget | None = None) -> int:
    """The desktop app on `data_dir` (and `database`: default, the data folder's SQLite file);
    returns the exit code."""
    import qasync  # after PySide6

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("mailmonitor")
    app.setOrganizationName("mailmonitor")
    app.setDesktopFileName("io.github.mailmonitor.MailMonitor")  # matches the .desktop file
    app.setWindowIcon(app_icon())
    instance = SingleInstance(data_dir)
    if instance.ask_running_instance():
        print("mailmonitor is already running for this data folder; its window was raised.")
        return 0
    instance.listen()
    setup_logging(data_dir)
    reporter = ErrorReporter()
    reporter.install()
    apply_style(app)
    try:
        open_db(database or data_dir / DB_FILENAME)
        from mailmonitor.services.team.members import register_this_member

        register_this_member()
    except Exception as exc:
        log.exception("cannot open the database")
        where = database.describe() if database else f"in {data_dir}"
        QMessageBox.critical(None, "mailmonitor", f"Cannot open the database {where}: "
                             f"{first_line(exc)}")
        instance.close()
        return 1
    app.setQuitOnLastWindowClosed(False)  # quitting goes through DesktopApp.shutdown
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    desktop = DesktopApp(app, loop, reporter, instance, data_dir, demo)
    signal_timer = install_quit_signals(desktop)  # noqa: F841 - kept alive while the loop runs
    try:
        try:
            code: int = loop.run_until_complete(desktop.main())
            return code
        except RuntimeError as exc:  # Qt's loop was ended from outside (session end)
            log.info("event loop ended: %s; finishing the shutdown", exc)
            loop.run_until_complete(desktop.shutdown())
            return 0
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        reporter.uninstall()
        close_db()
