"""Every dialog fits a 1366×768 screen with a taskbar (728 px usable, a title bar of its own
included) in its largest state: long failure help, details open, every warning shown, many
rows. What does not fit scrolls inside the dialog; its buttons always stay on screen."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication, QPushButton, QWidget

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Campaign
from mailmonitor.services.reconnect.flow import Page
from mailmonitor.ui.main_window import MainWindow
from mailmonitor.ui.widgets import SCREEN, TITLE_BAR
from tests.factories import make_account, make_campaign, make_leads, probe_fail, probe_ok, reload
from tests.ui.helpers import FakeCheck, run, seed_broken_cleo

pytestmark = pytest.mark.ui

LONG_ANSWER = ("NO [AUTHENTICATIONFAILED] Invalid credentials (Failure) " * 12).strip()


@pytest.fixture
def seeded(db: Path, clock: FakeClock, fake_check: FakeCheck) -> dict[str, Account]:
    cleo = seed_broken_cleo(fake_check, lambda c: reload(c).created_at)
    many = [make_account(f"rep{n}@northwind.example") for n in range(14)]
    big = make_campaign("Everyone at once", [cleo, *many])
    for account in many:
        make_leads(big, account, 3, prefix=account.email.split("@")[0])
    make_leads(big, cleo, 40, prefix="cleo-big")
    return {"cleo": cleo}


def fits(dialog: QWidget) -> None:
    """On a 1366×768 screen with a 40 px taskbar: the window with its title bar, and what it
    can shrink to, fit; every visible button is inside the window."""
    app = QApplication.instance()
    assert app is not None
    for _ in range(5):
        app.processEvents()
    name = dialog.objectName() or type(dialog).__name__
    assert dialog.isVisible(), name
    height = dialog.height() + TITLE_BAR  # the window manager's title bar on top
    assert height <= SCREEN.height(), f"{name} is {height} px tall"
    assert dialog.width() <= SCREEN.width(), f"{name} is {dialog.width()} px wide"
    floor = dialog.minimumSizeHint().height() + TITLE_BAR
    assert floor <= SCREEN.height(), f"{name} cannot shrink below {floor} px"
    inside = QRect(QPoint(0, 0), dialog.size())
    for button in dialog.findChildren(QPushButton):
        if button.isVisibleTo(dialog) and button.window() is dialog \
                and not _in_scroll_area(button, dialog):
            corner = button.mapTo(dialog, QPoint(button.width() - 1, button.height() - 1))
            assert inside.contains(corner), f"{name}: “{button.text()}” is off the window"


def _in_scroll_area(widget: QWidget, stop: QWidget) -> bool:
    from PySide6.QtWidgets import QScrollArea

    parent = widget.parentWidget()
    while parent is not None and parent is not stop:
        if isinstance(parent, QScrollArea):
            return True
        parent = parent.parentWidget()
    return False


@pytest.fixture
def window(seeded: dict[str, Account], make_window: Callable[..., MainWindow]) -> Iterator[
        MainWindow]:
    main = make_window()
    main.resize(SCREEN.width(), SCREEN.height() - TITLE_BAR)
    main.show()
    yield main


def test_the_add_mailbox_dialog_fits_after_a_failed_test_with_every_warning(
        window: MainWindow, qloop: qasync.QEventLoop, qtbot: Any, fake_check: FakeCheck,
        memory_keyring: Any) -> None:
    add = window.open_add_account()
    qtbot.keyClicks(add.email, "rep@smallhost.example")
    add.imap.host.setText("192.168.1.20")  # a server on the rep's network: warned, allowed
    add.smtp.host.setText("192.168.1.20")
    for editor in (add.imap, add.smtp):  # both "None (not encrypted)": the warning shows
        editor.security.setCurrentIndex(editor.security.findData("plain"))
    add.password.setText("wrong")
    fake_check.answers["rep@smallhost.example"] = (
        probe_fail("invalid_credentials", LONG_ANSWER), probe_fail("network", LONG_ANSWER))
    add.add_button.click()
    run(qloop, window)
    fits(add)
    assert add.error.isVisible() and "Invalid Credentials" in add.error.text.text()
    add.details.toggle.setChecked(True)
    fits(add)
    warning = add.plaintext_warning
    assert warning.isVisible()
    assert warning.height() >= warning.heightForWidth(warning.width()), "the warning is clipped"
    assert "None (not encrypted)" in warning.text() and "plain" not in warning.text()


def test_the_reconnect_wizard_fits_on_every_page(
        window: MainWindow, seeded: dict[str, Account], qloop: qasync.QEventLoop, qtbot: Any,
        fake_check: FakeCheck) -> None:
    cleo = seeded["cleo"]
    wizard = window.open_wizard(cleo.id, Page.SELECT_CAMPAIGN)
    fits(wizard)
    wizard.select_page.edit_warmup.click()
    popup = wizard.warmup_dialog
    assert popup is not None
    popup.show_error("Daily limit 100001 is too large (at most 100000). " * 3)
    fits(popup)
    popup.previous.click()
    fake_check.passwords.pop(cleo.email)
    fake_check.answers[cleo.email] = (probe_fail("app_password_required", LONG_ANSWER),
                                      probe_fail("app_password_required", LONG_ANSWER))
    wizard.connection_page.password.setText("wrong")
    wizard.connection_page.next.click()
    run(qloop, window)
    assert wizard.connection_page.failure.isVisible()
    wizard.connection_page.details.toggle.setChecked(True)
    fits(wizard)
    fake_check.answers[cleo.email] = (probe_ok(), probe_ok())
    wizard.connection_page.next.click()
    run(qloop, window)
    assert wizard.stack.currentWidget() is wizard.ready_page
    fits(wizard)
    wizard.discard()


def test_mailbox_and_campaign_dialogs_fit(
        window: MainWindow, seeded: dict[str, Account], qloop: qasync.QEventLoop) -> None:
    cleo = seeded["cleo"]
    detail = window.open_account(cleo.id)
    for index in range(detail.tabs.count()):
        detail.tabs.setCurrentIndex(index)
        fits(detail)
    edit = detail.edit_servers()
    edit.show_error("The servers did not connect. " * 12)
    fits(edit)
    edit.discard()
    sender = detail.edit_sender()
    assert sender is not None
    sender.show_error("Too long. " * 20)
    fits(sender)
    sender.discard()
    detail.close()

    big = Campaign.get(Campaign.name == "Everyone at once")
    realloc = window.open_reallocate(big.id)
    fits(realloc)
    realloc.reject()
    new = window.open_new_campaign()
    new.show_error("A campaign needs a name. " * 10)
    fits(new)
    new.discard()
    edit_campaign = window.add_mailbox_to(big.id)
    fits(edit_campaign)
    edit_campaign.reject()


def test_alerts_settings_and_help_fit(window: MainWindow, qtbot: Any) -> None:
    alerts = window.open_alerts()
    fits(alerts)
    maintenance = alerts.open_maintenance()
    fits(maintenance)
    maintenance.reject()
    alerts.close()
    settings = window.open_settings()
    for index in range(settings.tabs.count()):
        settings.tabs.setCurrentIndex(index)
        fits(settings)
    notifications = settings.open_notifications()
    assert notifications is not None
    fits(notifications)
    add = notifications.open_add()
    for kind in range(add.kind.count()):
        add.kind.setCurrentIndex(kind)
        fits(add)
    add.discard()
    notifications.reject()
    team = settings.open_team()
    assert team is not None
    fits(team)
    team.reject()
    settings.reject()
    window.help_actions["guide"].trigger()
    guide = next(w for w in QApplication.topLevelWidgets()
                 if w.objectName() == "guideWindow" and w.isVisible())
    fits(guide)
    guide.close()
    for name in ("shortcuts", "about"):
        window.help_actions[name].trigger()
        box = next(w for w in QApplication.topLevelWidgets()
                   if w.objectName() == f"{name}Dialog" and w.isVisible())
        fits(box)
        box.close()
