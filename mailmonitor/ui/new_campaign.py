"""New campaign: a name, the mailboxes it sends from (inbox rotation), its steps, a sending
window and, optionally, a CSV of leads imported right away. Everything is checked by the same
services the command line uses; the campaign and its leads are stored in one transaction, so a
malformed CSV leaves nothing half-made."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from PySide6.QtCore import QSignalBlocker, Qt, QTime, QTimeZone, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.models import Account, active_accounts
from mailmonitor.services.campaigns.setup import check_steps, create_campaign_with_leads
from mailmonitor.services.common import bounds
from mailmonitor.services.common.validation import DAY_NAMES, InvalidInput, parse_window
from mailmonitor.ui import keyboard
from mailmonitor.ui.campaign_form import MailboxChecklist, lay_out_campaign_form
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.format import esc, sentence
from mailmonitor.ui.widgets import Banner, ButtonRow, muted

TEMPLATE_HINT = ("Personalise with <b>{{first_name|there}}</b>: a column of the leads' CSV, "
                 "and after <b>|</b> what to write when a lead has no value.")
FIRST_DELAY_NOTE = "step 1 goes out as soon as the lead's turn comes"
FOLLOW_UP_DELAY_NOTE = "after the previous step (an empty subject answers in its thread)"
DEFAULT_FOLLOW_UP_DAYS = 3.0


def system_zone() -> str:
    """The computer's IANA time zone (UTC when it has none we know)."""
    zone = bytes(QTimeZone.systemTimeZoneId().data()).decode(errors="replace")
    zones = available_timezones()
    if zone in zones:
        return "UTC" if zone in ("Etc/UTC", "Etc/Universal", "Universal", "Zulu") else zone
    return "UTC"


def days_words(days: float) -> str:
    value = f"{days:g}"
    return f"{value} day" if value == "1" else f"{value} days"


class StepsEditor(QWidget):
    """The sequence: a list of steps on the left (add, remove, move) and the selected step's
    subject, delay and body on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._steps: list[dict[str, Any]] = []
        self.list = QListWidget()
        self.list.setObjectName("stepList")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setMaximumHeight(118)
        self.add_button = QPushButton("Add step")
        self.add_button.setObjectName("addStep")
        self.remove_button = QPushButton("Remove")
        self.up_button = QPushButton("Up")
        self.up_button.setToolTip("Move the step earlier in the sequence")
        self.down_button = QPushButton("Down")
        self.down_button.setToolTip("Move the step later in the sequence")
        list_buttons = QVBoxLayout()
        list_buttons.setSpacing(4)
        list_buttons.addWidget(self.add_button)
        list_buttons.addWidget(self.remove_button)
        list_buttons.addWidget(self.up_button)
        list_buttons.addWidget(self.down_button)
        list_buttons.addStretch(1)
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self.list, 1)
        top.addLayout(list_buttons)

        self.subject = QLineEdit()
        self.subject.setObjectName("stepSubject")
        self.delay = QDoubleSpinBox()
        self.delay.setObjectName("stepDelay")
        self.delay.setRange(0, bounds.NUMBERS["delay_days"].high)
        self.delay.setDecimals(1)
        self.delay.setSingleStep(1)
        self.delay.setSuffix(" days")
        self.delay_note = QLabel()
        self.delay_note.setObjectName("muted")
        self.delay_note.setWordWrap(True)
        self.body = QPlainTextEdit()
        self.body.setObjectName("stepBody")
        self.body.setPlaceholderText("Hi {{first_name|there}},\n\n…")
        self.body.setTabChangesFocus(True)
        self.hint = QLabel(TEMPLATE_HINT)
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        self.hint.setTextFormat(Qt.TextFormat.RichText)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Subject", self.subject)
        delay_row = QHBoxLayout()
        delay_row.addWidget(self.delay)
        delay_row.addWidget(self.delay_note, 1)
        form.addRow("Wait", delay_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addLayout(form)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.hint)

        self.add_button.clicked.connect(lambda _c=False: self.add_step())
        self.remove_button.clicked.connect(lambda _c=False: self.remove_step())
        self.up_button.clicked.connect(lambda _c=False: self.move_step(-1))
        self.down_button.clicked.connect(lambda _c=False: self.move_step(1))
        self.list.currentRowChanged.connect(self._show_step)
        self.subject.textChanged.connect(lambda text: self._edit("subject", text))
        self.body.textChanged.connect(lambda: self._edit("body", self.body.toPlainText()))
        self.delay.valueChanged.connect(lambda value: self._edit("delay_days", float(value)))
        self.add_step()

    # --- data -----------------------------------------------------------------------------------

    def steps(self) -> list[dict[str, Any]]:
        """The steps as `create_campaign` takes them (step 1 waits for nothing)."""
        return [{"subject": s["subject"], "body": s["body"],
                 "delay_days": 0.0 if i == 0 else float(s["delay_days"])}
                for i, s in enumerate(self._steps)]

    def current(self) -> int:
        return self.list.currentRow()

    def set_current(self, index: int) -> None:
        self.list.setCurrentRow(index)

    def add_step(self, subject: str = "", body: str = "",
                 delay_days: float | None = None) -> int:
        if delay_days is None:
            delay_days = DEFAULT_FOLLOW_UP_DAYS if self._steps else 0.0
        self._steps.append({"subject": subject, "body": body, "delay_days": delay_days})
        self.list.addItem(QListWidgetItem())
        index = len(self._steps) - 1
        self._relabel()
        self.set_current(index)
        return index

    def remove_step(self, index: int | None = None) -> None:
        index = self.current() if index is None else index
        if len(self._steps) <= 1 or not 0 <= index < len(self._steps):
            return
        self._steps.pop(index)
        with QSignalBlocker(self.list):
            self.list.takeItem(index)
        self._relabel()
        self.list.setCurrentRow(-1)
        self.set_current(min(index, len(self._steps) - 1))

    def move_step(self, delta: int, index: int | None = None) -> None:
        index = self.current() if index is None else index
        target = index + delta
        if not (0 <= index < len(self._steps) and 0 <= target < len(self._steps)):
            return
        self._steps[index], self._steps[target] = self._steps[target], self._steps[index]
        self._relabel()
        self.list.setCurrentRow(-1)
        self.set_current(target)

    # --- behaviour ------------------------------------------------------------------------------

    def _relabel(self) -> None:
        for i, step in enumerate(self._steps):
            item = self.list.item(i)
            subject = step["subject"].strip()
            if i == 0:
                text = f"1. {subject or 'No subject yet'}"
            else:
                text = (f"{i + 1}. +{days_words(step['delay_days'])} · "
                        f"{subject or 'Reply in thread'}")
            item.setText(text)
            item.setToolTip(text)
        count = len(self._steps)
        row = self.current()
        self.remove_button.setEnabled(count > 1)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < count - 1)

    def _show_step(self, row: int) -> None:
        if not 0 <= row < len(self._steps):
            return
        step = self._steps[row]
        blockers = [QSignalBlocker(w) for w in (self.subject, self.body, self.delay)]
        self.subject.setText(step["subject"])
        self.body.setPlainText(step["body"])
        self.delay.setValue(0.0 if row == 0 else step["delay_days"])
        for blocker in blockers:
            blocker.unblock()
        first = row == 0
        self.delay.setEnabled(not first)
        self.delay_note.setText(FIRST_DELAY_NOTE if first else FOLLOW_UP_DELAY_NOTE)
        self.subject.setPlaceholderText("Quick question, {{first_name|there}}" if first else
                                        "Empty: “Re: ” + step 1's subject, same thread")
        self._relabel()

    def _edit(self, key: str, value: Any) -> None:
        row = self.current()
        if 0 <= row < len(self._steps):
            self._steps[row][key] = value
            if key != "body":
                self._relabel()


class WindowEditor(QWidget):
    """Always, or weekdays + hours + time zone; `text()` is what `parse_window` reads."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.always = QRadioButton("Any day, any time")
        self.always.setObjectName("windowAlways")
        self.limited = QRadioButton("Only on these days and hours")
        self.limited.setObjectName("windowLimited")
        self.days: list[QCheckBox] = []
        days_row = QHBoxLayout()
        days_row.setSpacing(8)
        for index, name in enumerate(DAY_NAMES):
            box = QCheckBox(name.title())
            box.setObjectName(f"day_{name}")
            box.setChecked(index < 5)
            self.days.append(box)
            days_row.addWidget(box)
        days_row.addStretch(1)
        self.start = QTimeEdit(QTime(9, 0))
        self.start.setObjectName("windowStart")
        self.start.setDisplayFormat("HH:mm")
        self.end = QTimeEdit(QTime(17, 0))
        self.end.setObjectName("windowEnd")
        self.end.setDisplayFormat("HH:mm")
        self.zone = QComboBox()
        self.zone.setObjectName("windowZone")
        self.zone.setEditable(True)
        self.zone.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.zone.addItems(sorted(available_timezones() | {"UTC"}))
        completer = self.zone.completer()
        if completer is not None:
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.zone.setCurrentText(system_zone())
        self.zone.setMinimumContentsLength(16)
        hours_row = QHBoxLayout()
        hours_row.setSpacing(6)
        hours_row.addWidget(QLabel("From"))
        hours_row.addWidget(self.start)
        hours_row.addWidget(QLabel("to"))
        hours_row.addWidget(self.end)
        hours_row.addSpacing(8)
        hours_row.addWidget(self.zone, 1)
        self.details = QWidget()
        details = QVBoxLayout(self.details)
        details.setContentsMargins(22, 0, 0, 0)
        details.setSpacing(6)
        details.addLayout(days_row)
        details.addLayout(hours_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.limited)
        layout.addWidget(self.details)
        layout.addWidget(self.always)
        self.limited.toggled.connect(self.details.setEnabled)
        self.limited.setChecked(True)

    def set_days(self, names: list[str]) -> None:
        for name, box in zip(DAY_NAMES, self.days, strict=True):
            box.setChecked(name in names)

    def text(self) -> str:
        if self.always.isChecked():
            return "always"
        days = [name for name, box in zip(DAY_NAMES, self.days, strict=True) if box.isChecked()]
        if not days:
            raise InvalidInput("tick at least one weekday to send on (or choose any day, any "
                               "time)")
        zone = self.zone.currentText().strip() or "UTC"
        return (f"{','.join(days)} {self.start.time().toString('HH:mm')}-"
                f"{self.end.time().toString('HH:mm')} {zone}")


class NewCampaignDialog(keyboard.Dialog):
    """Opened with `open()`.

    Signals:
        created(int): the campaign (and its leads, if a CSV was chosen) was stored.
    """

    created = Signal(int)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.imported = 0
        self.file_dialog: QFileDialog | None = None
        self.setObjectName("newCampaign")
        self.setWindowTitle("New campaign")
        self.setMinimumSize(900, 600)
        self.resize(1000, 680)  # 712 px with its title bar: fits 728 (widgets.SCREEN)

        self.name = QLineEdit()
        self.name.setObjectName("campaignName")
        self.name.setPlaceholderText("e.g. Q1 outreach — logistics")
        self.mailboxes = MailboxChecklist("mailboxList", minimum_height=96)
        self.no_mailbox = QLabel("No mailbox yet: add one first (Add mailbox).")
        self.no_mailbox.setObjectName("muted")
        self.mailbox_note = QLabel("Leads are shared among the ticked mailboxes by their "
                                   "remaining daily capacity.")
        self.mailbox_note.setObjectName("muted")
        self.mailbox_note.setWordWrap(True)
        self._fill_mailboxes()

        self.window_editor = WindowEditor()
        self.start_now = QCheckBox("Start sending right away")
        self.start_now.setObjectName("startNow")
        self.start_now.setChecked(True)
        self.start_now.setToolTip("Unticked, the campaign is saved as a draft: press Start in "
                                  "the campaign when you are ready.")

        self.csv_path = QLineEdit()
        self.csv_path.setObjectName("csvPath")
        self.csv_path.setPlaceholderText("Optional: a CSV with an email column")
        self.csv_path.setClearButtonEnabled(True)
        self.browse = QPushButton("Browse…")
        self.browse.setObjectName("browseCsv")
        csv_row = QHBoxLayout()
        csv_row.addWidget(self.csv_path, 1)
        csv_row.addWidget(self.browse)
        csv_note = QLabel("One lead a row: <b>email</b>, and any columns your templates use "
                          "(first_name, company, …).")
        csv_note.setObjectName("muted")
        csv_note.setWordWrap(True)

        leads_box = QGroupBox("Leads")
        leads_layout = QVBoxLayout(leads_box)
        leads_layout.addLayout(csv_row)
        leads_layout.addWidget(csv_note)

        self.steps = StepsEditor()

        self.error = Banner("error")
        self.error.setObjectName("newCampaignError")
        self._error_about = ""
        self._closed = False
        self.name.textChanged.connect(lambda _t: self._edited("name"))
        self.error.hide()
        self.progress = muted(wrap=False)
        buttons = ButtonRow()
        buttons.addWidget(self.start_now)
        buttons.addWidget(self.progress, 1, Qt.AlignmentFlag.AlignRight)
        cancel = buttons.button("Cancel")
        self.create_button = buttons.button("Create campaign", primary=True)
        self.create_button.setObjectName("createCampaign")

        lay_out_campaign_form(self, name=self.name,
                              mailboxes=[self.mailboxes, self.no_mailbox, self.mailbox_note],
                              window_editor=self.window_editor, extra=leads_box,
                              steps=[self.steps], error=self.error, buttons=buttons)

        cancel.clicked.connect(self.reject)
        self.create_button.clicked.connect(self.create_campaign)
        self.browse.clicked.connect(self.browse_csv)
        keyboard.install(self)

    # --- form -----------------------------------------------------------------------------------

    def _fill_mailboxes(self) -> None:
        accounts = list(active_accounts().order_by(Account.email))
        for account in accounts:
            self.mailboxes.add_mailbox(account, ticked=len(accounts) == 1,
                                       tooltip=account.display)
        self.no_mailbox.setVisible(not accounts)

    def set_mailboxes(self, emails: list[str]) -> None:
        self.mailboxes.set_mailboxes(emails)

    def selected_mailboxes(self) -> list[str]:
        return self.mailboxes.selected_mailboxes()

    def browse_csv(self) -> QFileDialog:
        dialog = QFileDialog(self, "Import leads from CSV", str(Path.home()),
                             "CSV files (*.csv);;All files (*)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(self.csv_path.setText)
        self.file_dialog = dialog
        dialog.open()
        return dialog

    def show_error(self, html: str, about: str = "") -> None:
        self.error.set_message(html)
        self.error.setVisible(bool(html))
        self._error_about = about if html else ""

    def _edited(self, field: str) -> None:
        """A message about a field goes once the rep fixes that field (no stale errors)."""
        if self._error_about == field:
            self.show_error("")

    # --- create ---------------------------------------------------------------------------------

    def create_campaign(self) -> None:
        try:
            emails = self.selected_mailboxes()
            if not self.name.text().strip():
                self.show_error(esc("The campaign needs a name."), about="name")
                self.name.setFocus()
                return
            if not emails:
                raise InvalidInput("tick at least one mailbox to send from"
                                   if self.mailboxes.count() else
                                   "add a mailbox first: a campaign needs one to send from")
            steps = check_steps(self.steps.steps())
            window = parse_window(self.window_editor.text())
        except InvalidInput as exc:
            self.show_error(esc(sentence(exc)))
            return
        path_text = self.csv_path.text().strip()
        csv = Path(path_text).expanduser() if path_text else None
        self.show_error("")
        self.create_button.setEnabled(False)
        self.progress.setText("Importing leads…" if csv else "Creating…")
        status = "active" if self.start_now.isChecked() else "draft"
        self.ctx.spawn(self._create(self.name.text(), emails, steps, window, csv, status),
                       "create campaign")

    async def _create(self, name: str, emails: list[str], steps: list[dict[str, Any]],
                      window: dict[str, object] | None, csv: Path | None, status: str) -> None:
        try:
            campaign, imported, _updated = await self.ctx.blocking(
                create_campaign_with_leads, name, emails, steps, window, csv,
                self.ctx.clock.now(), status)
        except InvalidInput as exc:
            if not self._closed:
                self.show_error(esc(sentence(exc)))
            return
        finally:
            if not self._closed:
                self.create_button.setEnabled(True)
                self.progress.setText("")
        if self._closed:
            return  # created all the same (one transaction); the window hears it on the bus
        self.imported = imported
        self.created.emit(int(campaign.id))
        self.accept()

    def done(self, result: int) -> None:
        self._closed = True  # a creation still running must not touch the deleted widgets
        super().done(result)
