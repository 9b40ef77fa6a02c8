"""First run: the welcome page's two ways in, and the keyring check that guards the one that
stores a password."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from mailmonitor.clock import utcnow
from mailmonitor.services.auth.secrets import NO_KEYRING_HELP
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.ui.welcome import (
    WelcomeDialog,
    WelcomePage,
    backend_label,
    keyring_help,
    needs_welcome,
)
from tests.factories import make_account

pytestmark = pytest.mark.ui


def no_keyring() -> tuple[bool, str]:
    return False, NO_KEYRING_HELP


def secret_service() -> tuple[bool, str]:
    return True, "keyring.backends.SecretService.Keyring"


def make_page(qtbot: Any, **options: Any) -> WelcomePage:
    page = WelcomePage(**options)
    qtbot.addWidget(page)
    page.resize(800, 600)
    page.show()
    return page


def test_with_a_keyring_both_ways_in_work(qtbot: Any) -> None:
    page = make_page(qtbot, keyring_check=secret_service)
    assert page.keyring_ok is True
    assert page.add_button.isEnabled() and page.demo_button.isEnabled()
    assert page.keyring_banner.isHidden()
    assert "the system keyring (Secret Service)" in page.keyring_note.text()

    with qtbot.waitSignal(page.addMailboxRequested, timeout=1000):
        qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(page.demoRequested, timeout=1000):
        qtbot.mouseClick(page.demo_button, Qt.MouseButton.LeftButton)


def test_the_real_check_sees_the_tests_keyring(qtbot: Any) -> None:
    page = make_page(qtbot)  # services.secrets.keyring_status on the in-memory test keyring
    assert page.keyring_ok is True
    assert page.add_button.isEnabled()


def test_without_a_keyring_it_says_what_to_install_and_blocks_adding(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "GNOME")
    monkeypatch.delenv("FLATPAK_ID", raising=False)
    keyring.set_keyring(keyring.backends.fail.Keyring())  # what a bare Linux session gets
    page = make_page(qtbot)
    assert page.keyring_ok is False
    assert not page.add_button.isEnabled()
    assert page.demo_button.isEnabled()  # the demo has its own in-memory keyring
    assert page.keyring_banner.isVisible()
    message = page.keyring_banner.text.text()
    assert "cannot be stored safely" in message
    assert "GNOME Keyring" in message and "sudo apt install gnome-keyring" in message
    assert "Check again" in [b.text() for b in page.keyring_banner._buttons]

    clicks: list[str] = []
    page.addMailboxRequested.connect(lambda: clicks.append("add"))
    page.demoRequested.connect(lambda: clicks.append("demo"))
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)  # disabled: nothing
    qtbot.mouseClick(page.demo_button, Qt.MouseButton.LeftButton)
    assert clicks == ["demo"]


def test_check_again_enables_adding_once_a_keyring_appears(qtbot: Any) -> None:
    answers = [no_keyring(), secret_service()]
    page = make_page(qtbot, keyring_check=lambda: answers[0], keyring_recheck=lambda: answers[1])
    assert not page.add_button.isEnabled() and page.keyring_banner.isVisible()
    qtbot.mouseClick(page.recheck_button, Qt.MouseButton.LeftButton)
    assert page.keyring_ok is True
    assert page.add_button.isEnabled()
    assert page.keyring_banner.isHidden()


def test_check_again_really_detects_the_backend_again(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    page = make_page(qtbot)  # starts with the usable in-memory keyring
    assert page.add_button.isEnabled()
    # keyring honours PYTHON_KEYRING_BACKEND on detection: the fail backend is now "installed".
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    assert page.recheck_keyring() is False
    assert not page.add_button.isEnabled()


def test_a_plain_text_keyring_is_named_as_refused(qtbot: Any) -> None:
    page = make_page(qtbot, keyring_check=lambda: (
        False, "The configured keyring stores passwords in plain text; mailmonitor refuses to "
               "use it."))
    assert "plain text" in page.keyring_banner.text.text()
    assert not page.add_button.isEnabled()


def test_status_can_arrive_later(qtbot: Any) -> None:
    calls: list[int] = []

    def check() -> tuple[bool, str]:
        calls.append(1)
        return secret_service()

    page = make_page(qtbot, keyring_check=check, check_now=False)
    assert calls == [] and page.keyring_ok is None and page.add_button.isEnabled()
    page.set_keyring_status(*no_keyring())
    assert not page.add_button.isEnabled()


@pytest.mark.parametrize(("platform", "desktop", "flatpak", "expected"), [
    ("linux", "GNOME", False, "gnome-keyring"),
    ("linux", "ubuntu:GNOME", False, "gnome-keyring"),
    ("linux", "KDE", False, "KWallet"),
    ("linux", "XFCE", True, "outside Flatpak"),
    ("win32", "", False, "Credential Manager"),
    ("darwin", "", False, "Keychain"),
])
def test_help_fits_the_platform(platform: str, desktop: str, flatpak: bool,
                                expected: str) -> None:
    assert expected in keyring_help(platform, desktop, flatpak)


def test_backend_labels() -> None:
    assert backend_label("keyring.backends.kwallet.DBusKeyring") == "KWallet"
    assert backend_label("keyring.backends.Windows.WinVaultKeyring") == \
        "Windows Credential Manager"
    assert backend_label("keyring.backends.macOS.Keyring") == "the macOS Keychain"
    assert backend_label("tests.memory_keyring.MemoryKeyring") == \
        "tests.memory_keyring.MemoryKeyring"


def test_shown_only_while_there_is_no_mailbox(db: Path) -> None:
    assert needs_welcome()
    account = make_account("rep@example.com")
    assert not needs_welcome()
    lifecycle.remove_account(account, utcnow())
    assert needs_welcome()


def test_dialog_closes_on_either_choice(qtbot: Any) -> None:
    dialog = WelcomeDialog(keyring_check=secret_service)
    qtbot.addWidget(dialog)
    dialog.open()
    with qtbot.waitSignal(dialog.demoRequested, timeout=1000):
        qtbot.mouseClick(dialog.page.demo_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert dialog.result() == WelcomeDialog.DialogCode.Accepted


def test_page_renders(qtbot: Any, qapp: QApplication) -> None:
    page = make_page(qtbot, keyring_check=no_keyring)
    image = page.grab().toImage()
    assert not image.isNull() and image.width() >= 700
