"""The app around the window: start-up and clean quit on a qasync loop, one instance per data
folder, errors shown without blocking, offline only when the OS says so."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from mailmonitor.app import NetworkWatch, run_app
from mailmonitor.ui.errors import ErrorReporter
from mailmonitor.ui.main_window import MainWindow
from mailmonitor.ui.single_instance import SingleInstance, server_name

pytestmark = pytest.mark.ui


def main_windows() -> list[MainWindow]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]


def when_window_is_up(action: Any) -> QTimer:
    """Call `action(window)` once run_app's window is on screen. (A fixed delay failed on a
    loaded machine: the window was not there yet, nothing quit the app, and the next tests ran
    beside a live app.)"""
    before = {id(w) for w in main_windows()}
    timer = QTimer()
    timer.setInterval(20)

    def poll() -> None:
        windows = [w for w in main_windows() if id(w) not in before and w.isVisible()]
        if windows:
            timer.stop()
            action(windows[-1])

    timer.timeout.connect(poll)
    timer.start()
    return timer


def test_run_app_starts_raises_on_second_start_and_quits_cleanly(
        qapp: QApplication, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="mm-app-"))
    seen: dict[str, Any] = {}
    earlier = main_windows()  # of other tests, deleted later

    def started() -> MainWindow | None:
        windows = [w for w in main_windows() if w not in earlier]
        return windows[-1] if windows else None

    def second_start(window: MainWindow) -> None:
        seen["title"] = window.windowTitle()
        window.hide()
        seen["second"] = run_app(data_dir)  # tells the first instance to raise, exits 0
        QTimer.singleShot(300, finish)

    def finish() -> None:
        window = started()
        assert window is not None
        seen["raised"] = window.isVisible()
        seen["monitor_running"] = window.ctx.monitor is not None
        window.quitRequested.emit()
        window.quitRequested.emit()  # a second quit request is harmless

    waiting = when_window_is_up(second_start)
    assert run_app(data_dir) == 0
    waiting.stop()
    assert seen == {"title": "mailmonitor", "second": 0, "raised": True,
                    "monitor_running": True}
    assert "already running" in capsys.readouterr().out
    assert (data_dir / "mailmonitor.sqlite3").exists()
    assert (data_dir / "logs" / "mailmonitor.log").exists()
    for window in main_windows():
        window.deleteLater()
    qapp.processEvents()


def test_quitting_from_outside_still_shuts_down_cleanly(qapp: QApplication) -> None:
    """The desktop session ends: Qt quits by itself; the monitor still stops."""
    data_dir = Path(tempfile.mkdtemp(prefix="mm-app-"))
    seen: dict[str, Any] = {}

    def session_ends(window: MainWindow) -> None:
        seen["monitor"] = window.ctx.monitor
        qapp.quit()

    waiting = when_window_is_up(session_ends)
    assert run_app(data_dir) == 0
    waiting.stop()
    assert seen["monitor"]._stopping.is_set()
    assert seen["monitor"]._tasks == set()
    for window in main_windows():
        window.deleteLater()
    qapp.processEvents()


def test_single_instance_per_data_folder(qapp: QApplication, qtbot: Any) -> None:
    folder = Path(tempfile.mkdtemp(prefix="mm-one-"))
    first = SingleInstance(folder)
    assert not first.ask_running_instance(timeout_ms=100)
    assert first.listen()
    other_folder = SingleInstance(Path(tempfile.mkdtemp(prefix="mm-two-")))
    assert not other_folder.ask_running_instance(timeout_ms=100)
    with qtbot.waitSignal(first.raiseRequested, timeout=2000):
        assert SingleInstance(folder).ask_running_instance()
    first.close()
    assert server_name(folder) == server_name(folder / ".." / folder.name)


def test_errors_are_logged_and_shown_without_blocking(qapp: QApplication,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    reporter = ErrorReporter()
    try:
        raise ValueError("token=abc123secret broke")
    except ValueError as exc:
        reporter.hook(type(exc), exc, exc.__traceback__)
        reporter.hook(type(exc), exc, exc.__traceback__)
    assert reporter.box is not None and reporter.box.isVisible()
    assert reporter.count == 2
    assert "abc123secret" not in reporter.box.informativeText()
    assert "unexpected error" in caplog.text
    reporter.box.done(QMessageBox.StandardButton.Ok)


def test_offline_only_when_the_os_says_so(qapp: QApplication) -> None:
    watch = NetworkWatch()
    assert watch.is_online()  # a backend that answers "unknown" or none at all: online
    watch.info = None
    assert watch.is_online()
