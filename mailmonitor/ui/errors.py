"""Unexpected errors: logged with their traceback, and shown to the rep in a non-blocking
message (never `exec()`: it may come from inside a coroutine). A burst of errors opens one
message that counts them."""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from mailmonitor.logsetup import redact

log = logging.getLogger("mailmonitor.errors")


class ErrorReporter:
    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent
        self.box: QMessageBox | None = None
        self.count = 0
        self.previous = sys.excepthook

    def install(self) -> None:
        sys.excepthook = self.hook

    def uninstall(self) -> None:
        if sys.excepthook == self.hook:
            sys.excepthook = self.previous

    def hook(self, kind: type[BaseException], value: BaseException,
             tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            self.previous(kind, value, tb)
            return
        log.error("unexpected error", exc_info=(kind, value, tb))
        if QApplication.instance() is None:
            return
        try:
            self.show(f"{kind.__name__}: {redact(str(value))}")
        except Exception:  # showing must never raise from inside an excepthook
            log.exception("could not show the error")

    def show(self, text: str) -> None:
        self.count += 1
        if self.box is not None and self.box.isVisible():
            self.box.setInformativeText(f"{self.count} errors so far; the latest: {text}")
            return
        self.count = 1
        box = QMessageBox(QMessageBox.Icon.Critical, "mailmonitor hit a problem",
                          "Something went wrong. Monitoring continues; the details are in the "
                          "log file.", QMessageBox.StandardButton.Ok, self.parent)
        box.setObjectName("errorBox")
        box.setInformativeText(text)
        self.box = box
        box.open()
