"""First run: what the rep sees while the database has no mailbox.

`WelcomePage` is a plain widget (put it in the window's stack, or in `WelcomeDialog`). It only
emits signals; the window decides what they do:
  addMailboxRequested  "Add your first mailbox"
  demoRequested        "Explore with demo data" (the demo has its own data and in-memory
                       keyring, so it stays available without a system keyring)
It also checks the system keyring (`services.secrets.keyring_status`): without a usable one it
says what to install, and disables the button that would store a password.
"""

from __future__ import annotations

import html
import os
import sys
from collections.abc import Callable

import keyring.core
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.services.auth.secrets import keyring_status
from mailmonitor.ui import keyboard
from mailmonitor.ui.icons import resource_path
from mailmonitor.ui.widgets import Banner

KeyringCheck = Callable[[], tuple[bool, str]]

BACKEND_NAMES = {
    "SecretService": "the system keyring (Secret Service)",
    "libsecret": "the system keyring (libsecret)",
    "kwallet": "KWallet",
    "Windows": "Windows Credential Manager",
    "macOS": "the macOS Keychain",
}


def needs_welcome() -> bool:
    """True while there is no mailbox at all (removed ones do not count). The database must be
    open."""
    from mailmonitor.models import active_accounts

    return not active_accounts().exists()


def backend_label(description: str) -> str:
    """'keyring.backends.SecretService.Keyring' -> 'the system keyring (Secret Service)'."""
    for key, label in BACKEND_NAMES.items():
        if f".{key}." in f".{description}.":
            return label
    return description


def in_flatpak() -> bool:
    return bool(os.environ.get("FLATPAK_ID")) or os.path.exists("/.flatpak-info")


def keyring_help(platform: str | None = None, desktop: str | None = None,
                 flatpak: bool | None = None) -> str:
    """What to install or switch on, as rich text, for this platform and desktop."""
    platform = platform or sys.platform
    desktop = (os.environ.get("XDG_CURRENT_DESKTOP", "") if desktop is None else desktop).lower()
    flatpak = in_flatpak() if flatpak is None else flatpak
    if platform == "win32":
        return ("Windows Credential Manager did not answer. Sign in to Windows with your own "
                "account (not a temporary profile) and start mailmonitor again.")
    if platform == "darwin":
        return ("The macOS Keychain did not answer. Unlock your login keychain in "
                "<i>Keychain Access</i> and click <b>Check again</b>.")
    where = "on your computer (outside Flatpak), " if flatpak else ""
    if "kde" in desktop or "plasma" in desktop:
        return (f"Install and open <b>KWallet</b> {where}and turn on its Secret Service "
                "integration (Debian/Ubuntu: <code>sudo apt install kwalletmanager</code>; "
                "Fedora: <code>sudo dnf install kwalletmanager5</code>), then click "
                "<b>Check again</b>.")
    return (f"Install <b>GNOME Keyring</b> {where}(Debian/Ubuntu: <code>sudo apt install "
            "gnome-keyring</code>; Fedora: <code>sudo dnf install gnome-keyring</code>), log "
            "out and back in so it is unlocked with your session, then click "
            "<b>Check again</b>. On KDE Plasma, KWallet works too.")


def redetect_keyring() -> tuple[bool, str]:
    """Choose the keyring backend again (one may have been installed or unlocked meanwhile)."""
    keyring.core.init_backend()
    return keyring_status()


class WelcomePage(QWidget):
    addMailboxRequested = Signal()
    demoRequested = Signal()
    keyringStatusChanged = Signal(bool, str)  # (usable, detail) after every check

    def __init__(self, parent: QWidget | None = None, *,
                 keyring_check: KeyringCheck = keyring_status,
                 keyring_recheck: KeyringCheck = redetect_keyring,
                 check_now: bool = True) -> None:
        """`check_now=False` leaves the keyring question open (buttons stay enabled until
        `set_keyring_status` is called, e.g. with a result computed off the GUI thread)."""
        super().__init__(parent)
        self.setObjectName("welcome")
        self._recheck = keyring_recheck
        self.keyring_ok: bool | None = None
        self.keyring_detail = ""

        icon = QLabel()
        icon.setPixmap(QIcon(str(resource_path("app-icon.svg"))).pixmap(QSize(96, 96)))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        heading = QLabel("Welcome to mailmonitor")
        heading.setObjectName("heading")
        heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        intro = QLabel(
            "mailmonitor watches the mailboxes you send outreach from. When one disconnects it "
            "tells you in plain words what is wrong, holds that mailbox's leads, and walks you "
            "back — then every campaign continues where it left off.")
        intro.setWordWrap(True)
        intro.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.keyring_banner = Banner("error")
        self.recheck_button = self.keyring_banner.add_action("Check again", self.recheck_keyring)
        self.keyring_banner.hide()
        self.keyring_note = QLabel()
        self.keyring_note.setObjectName("muted")
        self.keyring_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.keyring_note.setWordWrap(True)

        self.add_button = QPushButton("Add your first mailbox")
        self.add_button.setProperty("primary", True)
        self.add_button.setDefault(True)
        self.add_button.setAutoDefault(True)
        self.add_button.clicked.connect(lambda _checked=False: self.addMailboxRequested.emit())
        self.demo_button = QPushButton("Explore with demo data")
        self.demo_button.clicked.connect(lambda _checked=False: self.demoRequested.emit())
        self.demo_button.setToolTip("Opens a separate demo with sample mailboxes, campaigns and "
                                    "leads on local test servers; nothing is sent and your "
                                    "data is not touched.")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)
        demo_note = QLabel("The demo uses its own throwaway data and local test servers.")
        demo_note.setObjectName("muted")
        demo_note.setAlignment(Qt.AlignmentFlag.AlignCenter)

        column = QVBoxLayout()
        column.setSpacing(12)
        column.addStretch(1)
        column.addWidget(icon)
        column.addWidget(heading)
        column.addWidget(intro)
        column.addSpacing(8)
        column.addWidget(self.keyring_banner)
        column.addLayout(buttons)
        column.addWidget(self.keyring_note)
        column.addWidget(demo_note)
        column.addStretch(2)
        holder = QWidget()
        holder.setLayout(column)
        holder.setMaximumWidth(560)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(holder, 4)
        outer.addStretch(1)

        if check_now:
            self.set_keyring_status(*keyring_check())

    def set_keyring_status(self, ok: bool, detail: str) -> None:
        """Show the keyring result; without a keyring the mailbox button is disabled."""
        self.keyring_ok = ok
        self.keyring_detail = detail
        self.add_button.setEnabled(ok)
        if ok:
            self.keyring_banner.hide()
            self.keyring_note.setText(f"Passwords and sign-ins are kept in "
                                      f"{html.escape(backend_label(detail))}.")
            self.add_button.setToolTip("")
            self.add_button.setFocus()
            return
        refused = "plain text" in detail
        title = ("The configured keyring stores passwords in plain text, so mailmonitor will "
                 "not use it." if refused else
                 "No system keyring is available, so passwords cannot be stored safely yet.")
        self.keyring_banner.set_message(f"<b>{html.escape(title)}</b><br>{keyring_help()}")
        self.keyring_banner.show()
        self.keyring_note.setText("Adding a mailbox needs a keyring; the demo works without one.")
        self.add_button.setToolTip("Needs a system keyring to store the mailbox's password")

    def recheck_keyring(self) -> bool:
        self.set_keyring_status(*self._recheck())
        self.keyringStatusChanged.emit(bool(self.keyring_ok), str(self.keyring_detail))
        return bool(self.keyring_ok)


class WelcomeDialog(keyboard.Dialog):
    """The page in its own window (open it with `open()`, never `exec()`, under qasync). Its
    signals are the page's; choosing either closes the dialog."""

    def __init__(self, parent: QWidget | None = None, **page_options: object) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to mailmonitor")
        self.page = WelcomePage(self, **page_options)  # type: ignore[arg-type]
        layout = QVBoxLayout(self)
        layout.addWidget(self.page)
        self.addMailboxRequested = self.page.addMailboxRequested
        self.demoRequested = self.page.demoRequested
        self.page.addMailboxRequested.connect(self.accept)
        self.page.demoRequested.connect(self.accept)
        self.resize(640, 480)
        keyboard.install(self)
