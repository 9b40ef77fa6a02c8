"""`mailmonitor --self-test`: can this installation run? One line per check, exit 0 or 1."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
import tempfile
from collections.abc import Callable, Mapping
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


def display_problem(env: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """Why the app's window could not open here, before Qt is asked (Qt aborts the process when
    its platform cannot connect). None: go ahead with the platform Qt picks itself."""
    if env.get("QT_QPA_PLATFORM") or not platform.startswith("linux"):
        return None  # chosen explicitly, or Windows/macOS: always their native platform
    wayland, display = env.get("WAYLAND_DISPLAY"), env.get("DISPLAY")
    if wayland:
        path = wayland if wayland.startswith("/") else os.path.join(
            env.get("XDG_RUNTIME_DIR", ""), wayland)
        if _can_connect_unix(path):
            return None
    if display:
        match = re.fullmatch(r"([^:]*):(\d+)(\.\d+)?", display)
        if match is None:
            return f"DISPLAY={display!r} is not a display name"
        host, number = match.group(1), int(match.group(2))
        if host in ("", "unix") and _can_connect_unix(f"/tmp/.X11-unix/X{number}"):
            return None
        if host not in ("", "unix") and _can_connect_tcp(host, 6000 + number):
            return None
        return f"the X display {display} does not answer"
    if wayland:
        return f"the Wayland display {wayland} does not answer"
    return ("no display: DISPLAY and WAYLAND_DISPLAY are unset, so the window cannot open here "
            "(QT_QPA_PLATFORM=offscreen tests without one)")


def _can_connect_unix(path: str) -> bool:
    if not hasattr(socket, "AF_UNIX"):
        return False
    with contextlib.closing(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)) as sock:
        sock.settimeout(2)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


def _can_connect_tcp(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _qt(_: Path) -> str:
    """The platform the app would really use (not offscreen unless asked for)."""
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication.instance()
    if app is None:
        problem = display_problem(os.environ)
        if problem is not None:
            raise RuntimeError(problem)
        app = QApplication([])
    widget = QWidget()
    widget.resize(10, 10)
    widget.show()
    widget.close()
    name = app.platformName()  # type: ignore[attr-defined]
    how = (" (QT_QPA_PLATFORM)" if os.environ.get("QT_QPA_PLATFORM") else "")
    return f"Qt platform {name}{how}: a window opens and closes"


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
