"""`mailmonitor --self-test`: can this installation run? One line per check, exit 0 or 1."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _database(data_dir: Path) -> str:
    from mailmonitor.models import Account, close_db, open_db

    with tempfile.TemporaryDirectory(dir=data_dir) as tmp:
        open_db(Path(tmp) / "selftest.sqlite3")
        try:
            Account.select().count()
        finally:
            close_db()
    return "SQLite database opens, migrates and closes"


def _keyring(_: Path) -> str:
    from mailmonitor.services.auth.secrets import SecretStoreError, keyring_status

    ok, text = keyring_status()
    if not ok:
        raise SecretStoreError(text)
    return f"keyring backend {text}"


def _qt(_: Path) -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication.instance() or QApplication([])
    widget = QWidget()
    widget.resize(10, 10)
    widget.show()
    widget.close()
    return f"Qt platform {app.platformName()}"  # type: ignore[attr-defined]


def _libraries(_: Path) -> str:
    """The mail and sign-in libraries import (a frozen bundle that lost one fails here, not at
    the rep's first Gmail sign-in)."""
    import importlib

    names = ["imapclient", "qasync", "msal", "google_auth_oauthlib.flow",
             "google.auth.transport.requests"]
    for name in names:
        importlib.import_module(name)
    return "imapclient, qasync, msal and google-auth-oauthlib import"


CHECKS: list[tuple[str, Callable[[Path], str]]] = [
    ("database", _database), ("keyring", _keyring), ("libraries", _libraries), ("qt", _qt),
]


def run_self_test(data_dir: Path) -> int:
    failed = 0
    for name, check in CHECKS:
        try:
            print(f"ok   {name}: {check(data_dir)}")
        except Exception as exc:
            failed += 1
            print(f"FAIL {name}: {exc}")
    return 1 if failed else 0
