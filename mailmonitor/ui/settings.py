"""App settings (stored with `models.set_setting`)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.models import get_setting
from mailmonitor.services.auth.registration import RegistrationError
from mailmonitor.services.auth.secrets import SecretStoreError
from mailmonitor.services.deliverability.settings import DeliverabilitySettings, InvalidSetting
from mailmonitor.services.desktop.settings import save_settings
from mailmonitor.ui import keyboard
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.deliverability_settings import DeliverabilitySettingsPage
from mailmonitor.ui.oauth_settings import OAuthSettingsPage, SignInChanges
from mailmonitor.ui.widgets import ButtonRow, bounded_spin


def time_zone_choice() -> QComboBox:
    """The computer's zone (the default: None), or any IANA zone."""
    from zoneinfo import available_timezones

    from mailmonitor.services.common.rep_day import system_zone_name

    box = QComboBox()
    box.setObjectName("timeZone")
    box.addItem(f"This computer's ({system_zone_name() or 'local time'})", None)
    for name in sorted(available_timezones()):
        box.addItem(name, name)
    return box


class SettingsDialog(keyboard.Dialog):
    """Signals:
        saved(): the settings were stored.
    """

    saved = Signal()

    def __init__(self, parent: QWidget | None = None, ctx: UiContext | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self.check_interval = bounded_spin("check_interval_seconds", " min", scale=60)
        self.transient_window = bounded_spin("transient_window_minutes", " min")
        self.grace_period = bounded_spin("grace_period_minutes", " min")
        self.long_wait = bounded_spin("long_wait_days", " days")
        # Noise control: trouble that fixes itself needs the rep only once it lasted.
        self.alert_failures = bounded_spin("attention_min_failures", " failed checks")
        self.alert_minutes = bounded_spin("attention_min_minutes", " min")
        self.reminder_hours = bounded_spin("reminder_hours", " h", off="Off")
        self.auto_resume = QCheckBox("Resume paused campaigns when a mailbox reconnects")
        self.auto_reallocate = bounded_spin("auto_reallocate_minutes", " min", off="Off")
        self.notifications = QCheckBox("Show desktop notifications when a mailbox needs you")
        self.start_at_login = QCheckBox("Start mailmonitor when I log in")
        self.time_zone = time_zone_choice()  # the rep's day: daily limits and warm-up days
        form = QFormLayout()
        form.addRow("My time zone (daily limits)", self.time_zone)
        form.addRow("Check every", self.check_interval)
        lasted = QWidget()
        lasted_row = QHBoxLayout(lasted)
        lasted_row.setContentsMargins(0, 0, 0, 0)
        lasted_row.addWidget(self.alert_failures)
        lasted_row.addWidget(QLabel("and"))
        lasted_row.addWidget(self.alert_minutes)
        lasted_row.addStretch(1)
        form.addRow("Tell me about retrying after", lasted)
        form.addRow("Retrying counts as disconnected after", self.transient_window)
        form.addRow("While a mailbox stays broken, remind every", self.reminder_hours)
        form.addRow("Grace period after Disconnect", self.grace_period)
        form.addRow("Stop contacted leads after", self.long_wait)
        form.addRow("Re-allocate automatically after", self.auto_reallocate)
        form.addRow(self.auto_resume)
        form.addRow(self.notifications)
        form.addRow(self.start_at_login)
        note = QLabel("“Check every” applies to mailboxes that use the default interval. "
                      "Retrying mailboxes follow their own backoff (1 → 5 → 15 → 60 min).")
        note.setObjectName("muted")
        note.setWordWrap(True)
        notifications = QPushButton("Notifications…")  # alert channels: its own dialog
        notifications.setObjectName("openNotifications")
        notifications.setAutoDefault(False)
        notifications.clicked.connect(self.open_notifications)
        team = QPushButton("Team…")  # the team database: its own dialog (ui/team_settings.py)
        team.setObjectName("openTeam")
        team.setAutoDefault(False)
        team.clicked.connect(self.open_team)
        buttons = ButtonRow()
        buttons.addWidget(notifications)
        buttons.addWidget(team)
        buttons.addStretch(1)
        cancel = buttons.button("Cancel")
        save = buttons.button("Save", primary=True)
        save.setObjectName("save")
        self.save_button = save
        self._deliverability: DeliverabilitySettings | None = None
        general = QWidget()
        general_layout = QVBoxLayout(general)
        general_layout.addLayout(form)
        general_layout.addWidget(note)
        general_layout.addStretch(1)
        self.sign_in = OAuthSettingsPage()
        self.deliverability = DeliverabilitySettingsPage()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("settingsTabs")
        self.tabs.addTab(general, "General")
        self.tabs.addTab(self.deliverability, "Deliverability")
        self.tabs.addTab(self.sign_in, "Sign-in (Google, Microsoft)")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)
        cancel.clicked.connect(self.reject)
        save.clicked.connect(self.save)
        self.load()
        keyboard.install(self)

    def open_notifications(self) -> QDialog | None:
        ctx = getattr(self.parent(), "ctx", None)
        if ctx is None:
            return None
        from mailmonitor.ui.notifications_dialog import NotificationsDialog

        self.notifications_dialog = NotificationsDialog(ctx, self)
        self.notifications_dialog.open()
        return self.notifications_dialog

    def open_team(self) -> QDialog | None:
        ctx = getattr(self.parent(), "ctx", None)
        if ctx is None:
            return None
        from mailmonitor.ui.team_settings import TeamDialog

        self.team_dialog = TeamDialog(ctx, self)
        changed = getattr(self.parent(), "member_role_changed", None)
        if changed is not None:  # an admin tick or a rename: the tray's scope follows
            self.team_dialog.finished.connect(lambda _result: changed())
        self.team_dialog.open()
        return self.team_dialog

    def load(self) -> None:
        self.check_interval.setValue(int(get_setting("check_interval_seconds")) // 60)
        self.transient_window.setValue(int(get_setting("transient_window_minutes")))
        self.grace_period.setValue(int(get_setting("grace_period_minutes")))
        self.long_wait.setValue(int(get_setting("long_wait_days")))
        self.alert_failures.setValue(int(get_setting("attention_min_failures")))
        self.alert_minutes.setValue(int(get_setting("attention_min_minutes")))
        self.reminder_hours.setValue(int(get_setting("reminder_hours") or 0))
        self.auto_resume.setChecked(bool(get_setting("auto_resume")))
        self.auto_reallocate.setValue(int(get_setting("auto_reallocate_minutes") or 0))
        self.notifications.setChecked(bool(get_setting("notifications")))
        self.start_at_login.setChecked(bool(get_setting("start_at_login")))
        zone = get_setting("time_zone")
        self.time_zone.setCurrentIndex(max(0, self.time_zone.findData(zone)) if zone else 0)

    def values(self) -> dict[str, Any]:
        return {
            "check_interval_seconds": self.check_interval.value() * 60,
            "transient_window_minutes": self.transient_window.value(),
            "grace_period_minutes": self.grace_period.value(),
            "long_wait_days": self.long_wait.value(),
            "attention_min_failures": self.alert_failures.value(),
            "attention_min_minutes": self.alert_minutes.value(),
            "reminder_hours": self.reminder_hours.value() or None,
            "auto_resume": self.auto_resume.isChecked(),
            "auto_reallocate_minutes": self.auto_reallocate.value() or None,
            "notifications": self.notifications.isChecked(),
            "start_at_login": self.start_at_login.isChecked(),
            "time_zone": self.time_zone.currentData(),
        }

    def save(self) -> None:
        try:
            self._deliverability = self.deliverability.checked()
        except InvalidSetting as exc:  # plain words next to the field; nothing is saved
            self.tabs.setCurrentWidget(self.deliverability)
            self.deliverability.show_error(exc)
            return
        self.deliverability.show_error(None)
        try:
            changes = self.sign_in.changes()
        except RegistrationError as exc:
            self.tabs.setCurrentWidget(self.sign_in)
            self.sign_in.show_error(f"{str(exc)[:1].upper()}{str(exc)[1:]}. Nothing was saved.")
            return
        if changes.any and self.ctx is not None:
            # The Google secret goes to the keyring: off the GUI thread, before anything else.
            self.save_button.setEnabled(False)
            self.ctx.spawn(self._save_with_sign_in(changes), "save sign-in settings")
            return
        if changes.any:
            OAuthSettingsPage.store(changes)
        self._save_general()

    async def _save_with_sign_in(self, changes: SignInChanges) -> None:
        assert self.ctx is not None
        try:
            await self.ctx.blocking(OAuthSettingsPage.store, changes)
        except (SecretStoreError, RegistrationError) as exc:
            if self.isVisible():
                self.tabs.setCurrentWidget(self.sign_in)
                self.sign_in.show_error(f"Nothing was saved: {exc}")
                self.save_button.setEnabled(True)
            return
        self._save_general()

    def _save_general(self) -> None:
        save_settings(self.values(), deliverability=self._deliverability)
        if self.ctx is not None:  # noise control and reminders apply at once
            self.ctx.attention_changed()
        self.saved.emit()
        self.accept()
