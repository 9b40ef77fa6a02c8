"""Settings → Notifications (alert channels) and the status timeline in the account detail,
offscreen: what the rep sees and types, with a real HTTP receiver for Send test."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import qasync
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton

from mailmonitor.clock import FakeClock
from mailmonitor.memory_keyring import MemoryKeyring
from mailmonitor.models import Check, NotifyChannel, get_setting
from mailmonitor.ui.main_window import MainWindow
from mailmonitor.ui.notifications_dialog import AddChannelDialog, NotificationsDialog
from mailmonitor.ui.status_timeline import StatusTimeline
from tests.factories import make_account
from tests.servers.webhook_receiver import WebhookReceiver
from tests.ui.helpers import answer_discard

SHOTS = Path(os.environ.get("MAILMONITOR_SHOTS_DIR", "/tmp/mm-shots"))


def shot(widget: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(SHOTS / name))  # type: ignore[attr-defined]


def open_notifications(window: MainWindow) -> NotificationsDialog:
    settings = window.open_settings()
    dialog = settings.open_notifications()
    assert isinstance(dialog, NotificationsDialog)
    return dialog


def add_webhook(dialog: NotificationsDialog, url: str, secret: str = "") -> AddChannelDialog:
    add = dialog.open_add()
    add.kind.setCurrentIndex(add.kind.findData("webhook"))
    QTest.keyClicks(add.name, "Ops room")
    QTest.keyClicks(add.target, url)
    if secret:
        QTest.keyClicks(add.secret, secret)
    add.events["reconnected"].setChecked(False)
    return add


def test_adding_a_signed_webhook_and_sending_a_test(
        make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop, qapp: QApplication,
        memory_keyring: MemoryKeyring) -> None:
    window = make_window(use_tray=False)
    dialog = open_notifications(window)
    assert dialog.stack.currentWidget() is dialog.empty
    assert not dialog.remove_button.isDefault() and QApplication.focusWidget() \
        is not dialog.remove_button
    with WebhookReceiver() as receiver:
        add = add_webhook(dialog, receiver.url(), secret="hush")
        assert add.add_button.isDefault()
        QTest.keyClick(add.target, Qt.Key.Key_Return)  # Enter = the primary action
        qapp.processEvents()
        channel = NotifyChannel.get()
        assert (channel.name, channel.kind, channel.has_secret) == ("Ops room", "webhook", True)
        assert "reconnected" not in channel.events
        assert sorted(memory_keyring.store.values()) == sorted([receiver.url(), "hush"])
        assert dialog.channels.count() == 1
        task = dialog.send_test()
        qloop.run_until_complete(task)
        [call] = receiver.requests()
        assert call.signature_ok("hush")
        assert "Test delivered" in dialog.detail.text()
        shot(dialog, "32-notifications.png")
    # Events are chosen per channel and saved at once.
    dialog.events["certificate_expiring"].setChecked(False)
    assert "certificate_expiring" not in NotifyChannel.get().events


def test_a_failing_channel_says_so_in_the_window(
        make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qapp: QApplication) -> None:
    window = make_window(use_tray=False)
    dialog = open_notifications(window)
    with WebhookReceiver([500]) as receiver:
        add = add_webhook(dialog, receiver.url())
        add.add_button.click()
        qloop.run_until_complete(dialog.send_test())
    assert "The test did not arrive: HTTP 500" in dialog.detail.text()
    assert "Not getting through" in dialog.detail.text()
    assert "failing" in dialog.channels.item(0).text()
    shot(dialog, "32-notifications-failing.png")


def test_bad_input_is_shown_in_the_add_dialog_and_stores_nothing(
        make_window: Callable[..., MainWindow], qapp: QApplication) -> None:
    window = make_window(use_tray=False)
    dialog = open_notifications(window)
    add = add_webhook(dialog, "http://example.com/not-https")
    shot(add, "24-add-channel.png")
    add.add_button.click()
    assert add.isVisible() and not add.error.isHidden()
    assert "must use https://" in add.error.text()
    assert NotifyChannel.select().count() == 0
    QTest.keyClick(add, Qt.Key.Key_Escape)  # Esc cancels (typed work: after asking)
    answer_discard(add, discard=True)
    assert not add.isVisible()


def test_email_channels_offer_the_rep_mailboxes_or_a_relay(
        make_window: Callable[..., MainWindow], qapp: QApplication) -> None:
    make_account("ava@sales.test")
    window = make_window(use_tray=False)
    add = open_notifications(window).open_add()
    add.kind.setCurrentIndex(add.kind.findData("email"))
    assert [add.from_box.itemText(i) for i in range(add.from_box.count())] == [
        "Any connected mailbox (never a broken one)", "ava@sales.test",
        "A separate SMTP relay…"]
    assert add.relay_box.isHidden()
    add.from_box.setCurrentIndex(2)
    assert not add.relay_box.isHidden() and add.secret_label.text() == "Relay password"


def test_password_rotation_is_saved_on_close(make_window: Callable[..., MainWindow],
                                             qapp: QApplication) -> None:
    window = make_window(use_tray=False)
    dialog = open_notifications(window)
    dialog.rotation.setValue(90)
    dialog.google_testing.setChecked(True)
    next(b for b in dialog.findChildren(QPushButton) if b.objectName() == "close").click()
    assert get_setting("password_rotation_days") == 90
    assert get_setting("google_app_testing") is True


def test_the_account_detail_draws_its_status_timeline(
        make_window: Callable[..., MainWindow], clock: FakeClock, qapp: QApplication) -> None:
    ava = make_account("ava@sales.test")
    now = clock.now()
    rows = []
    for hours, status in ((150, "connected"), (100, "disconnected"), (90, "connected"),
                          (40, "warning"), (39, "connected"), (20, "offline"), (18, "connected")):
        rows += [{"account": ava.id, "checked_at": now - timedelta(hours=hours, minutes=5 * n),
                  "status": status} for n in range(12)]
    Check.insert_many(rows).execute()
    window = make_window(use_tray=False)
    detail = window.open_account(ava.id)
    detail.tabs.setCurrentIndex(1)
    detail.resize(760, 560)
    qapp.processEvents()
    chart = detail.findChild(StatusTimeline)
    assert chart is not None
    statuses = [s.status for s in chart.segments]
    assert {"connected", "disconnected", "warning", "offline", "unknown"} <= set(statuses)
    assert chart.toolTip().startswith("Connected: 24 h ")
    assert json.dumps(chart.shares)  # figures, not placeholders
    assert chart.shares["uptime_7d"] is not None
    shot(detail, "33-account-timeline.png")
