"""Settings → Team: the database this window uses, your member name and the team's members and
admins (ui/team_members.py), connecting to a team database (tested first, saved in team.json
for the next start), moving the personal database into it with a progress bar and a clear
result, then a restart. Rules and writes are services.team.connect's (and members'); the test
and the members' changes run in a worker thread and the copy in a child process (`mailmonitor
db copy`), so the window never waits on the network."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QProcess, QTimer
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.team import connect
from mailmonitor.ui import keyboard
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.format import esc
from mailmonitor.ui.team_members import MembersSection
from mailmonitor.ui.widgets import ButtonRow, repolish

PLACEHOLDER = "postgresql://you@db.example.com/sales?sslmode=verify-full"


DEMO_NOTE = ("The demo runs on a throwaway folder: choose a team database in your own "
             "mailmonitor, not in the demo.")
NEEDS_URL = "Type the team database's URL first"


class TeamDialog(keyboard.Dialog):
    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("teamDialog")
        self.setWindowTitle("Team")
        self.setMinimumWidth(640)
        self.process: QProcess | None = None
        self.paused: list[int] = []
        self.result_text = ""
        self.output: list[str] = []  # the copy's lines other than progress
        info = connect.in_use()
        self.in_use = QLabel()
        self.in_use.setObjectName("databaseInUse")
        kind = "a team database" if info.is_team else "your personal database on this computer"
        self.in_use.setText(f"This window uses {kind}:<br><b>{esc(info.description)}</b>")
        # Your member name ("Change name…") and, on a team database, the members and admins.
        self.members = MembersSection(ctx)
        self.url = QLineEdit(info.saved_url)
        self.url.setObjectName("teamUrl")
        self.url.setPlaceholderText(PLACEHOLDER)
        self.url.setAccessibleName("Team database URL")
        note = QLabel("The URL never holds a password: the database server's client "
                      "certificate or ~/.pgpass carries it. Mailbox passwords stay in this "
                      "computer's keyring.")
        note.setObjectName("muted")
        note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Database in use", self.in_use)
        form.addRow("You in the team", self.members.name_row)
        form.addRow("Team database", self.url)
        if info.chosen_outside:
            outside = QLabel("This window was started with --database or "
                             "MAILMONITOR_DATABASE_URL; a saved choice applies when it is "
                             "started without them.")
            outside.setWordWrap(True)
            form.addRow(outside)
        self.progress = QProgressBar()
        self.progress.setObjectName("copyProgress")
        self.progress.hide()
        self.result_label = QLabel()
        self.result_label.setObjectName("teamResult")
        self.result_label.setWordWrap(True)

        buttons = ButtonRow()
        self.test_button = buttons.button("Test connection", primary=True)
        self.test_button.setObjectName("testTeam")
        self.use_button = buttons.button("Use this database")
        self.use_button.setObjectName("useTeam")
        self.move_button = buttons.button("Move my data into it…")
        self.move_button.setObjectName("moveToTeam")
        self.personal_button = buttons.button("Use my personal database")
        self.personal_button.setObjectName("usePersonal")
        self.personal_button.setVisible(bool(info.saved_url))
        buttons.addStretch(1)
        self.restart_button = buttons.button("Restart now")
        self.restart_button.setObjectName("restartNow")
        self.restart_button.hide()
        close = buttons.button("Close")
        for button in (self.use_button, self.move_button, self.personal_button,
                       self.restart_button, close):
            button.setAutoDefault(False)
        self.url.textChanged.connect(lambda _t: self._url_typed())
        self.move_blocked = info.is_team or info.personal_path is None or \
            not info.personal_path.exists()
        if ctx.demo:  # a throwaway folder: nothing here to keep, move or share
            for button in (self.test_button, self.use_button, self.move_button,
                           self.personal_button):
                button.setEnabled(False)
                button.setToolTip(DEMO_NOTE)
            self.url.setEnabled(False)
            self.url.setPlaceholderText(DEMO_NOTE)
        elif info.is_team:
            self.move_button.setEnabled(False)
            self.move_button.setToolTip("This window already uses a team database")
        elif info.personal_path is None or not info.personal_path.exists():
            self.move_button.setEnabled(False)
            self.move_button.setToolTip("There is no personal database to move")
        self._url_typed()
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.members)
        layout.addWidget(self.progress)
        layout.addWidget(self.result_label)
        layout.addLayout(buttons)
        self.test_button.clicked.connect(lambda _c=False: self.test())
        self.use_button.clicked.connect(lambda _c=False: self.use())
        self.move_button.clicked.connect(lambda _c=False: self.move_data())
        self.personal_button.clicked.connect(lambda _c=False: self.use_personal())
        self.restart_button.clicked.connect(lambda _c=False: self.restart())
        close.clicked.connect(self.reject)
        # Tab goes down the page: your name, the URL, the members, then the buttons.
        for first, then in ((self.members.rename_button, self.url),
                            (self.url, self.members.table), (self.members.table,
                                                             self.test_button)):
            QWidget.setTabOrder(first, then)
        self.url.setFocus()

    # --- Test ---
    def test(self) -> Any:
        self.test_button.setEnabled(False)
        self.show_result("Connecting…")
        return self.ctx.spawn(self._test(self.url.text()), "test team database")

    async def _test(self, url: str) -> None:
        try:
            outcome = await self.ctx.blocking(connect.test_connection, url)
        finally:
            self.test_button.setEnabled(True)
        self.show_result(outcome.text, ok=outcome.ok)

    # --- Use ---
    def _url_typed(self) -> None:
        """Use and Move need a URL: without one they are off and say so."""
        if self.ctx.demo or self.process is not None:
            return
        typed = bool(self.url.text().strip())
        # Test stays on (Enter: it says what is missing); saving or moving needs a URL.
        self.use_button.setEnabled(typed)
        self.use_button.setToolTip("" if typed else NEEDS_URL)
        info_ok = not self.move_blocked
        self.move_button.setEnabled(typed and info_ok)
        if info_ok:
            self.move_button.setToolTip("" if typed else NEEDS_URL)

    def use(self) -> None:
        try:
            connect.save_choice(self.url.text())
        except InvalidInput as exc:
            self.show_result(str(exc), ok=False)
            return
        self.show_result("Saved. Restart mailmonitor to use the team database.", ok=True)
        self.offer_restart()

    def use_personal(self) -> None:
        connect.save_choice(None)
        self.show_result("Saved. Restart mailmonitor to use your personal database again.",
                         ok=True)
        self.offer_restart()

    # --- Move ---
    def move_data(self) -> None:
        url = self.url.text()
        try:
            command = connect.copy_command(url)
        except InvalidInput as exc:
            self.show_result(str(exc), ok=False)
            return
        self.paused = connect.pause_for_move(self.ctx.clock.now())
        for button in (self.test_button, self.use_button, self.move_button):
            button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.show_result("Copying your mailboxes, campaigns, leads and history… (sending is "
                         "paused meanwhile)")
        self.output = []
        process = QProcess(self)
        process.setProgram(command[0])
        process.setArguments(command[1:])
        env = process.processEnvironment()
        env.clear()
        for key, value in connect.child_environment().items():
            env.insert(key, value)
        process.setProcessEnvironment(env)
        process.readyReadStandardOutput.connect(self._read_output)
        process.finished.connect(lambda code, _status: self._copied(url, code))
        process.errorOccurred.connect(self._failed_to_start)
        self.process = process
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(process.kill)
        self.timer.start(connect.COPY_TIMEOUT_SECONDS * 1000)
        process.start()

    def _read_output(self) -> None:
        assert self.process is not None
        text = bytes(self.process.readAllStandardOutput().data()).decode("utf-8", "replace")
        for line in text.splitlines():
            step = connect.parse_progress(line)
            if step is None:
                self.output.append(line)
                continue
            table, done, total = step
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat(f"{table.replace('_', ' ')} ({done} of {total} tables)")

    def _failed_to_start(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._copied(self.url.text(), -1)

    def _copied(self, url: str, code: int) -> None:
        if self.process is None:
            return
        self._read_output()
        errors = bytes(self.process.readAllStandardError().data()).decode("utf-8", "replace")
        self.timer.stop()
        self.process = None
        self.progress.hide()
        self._url_typed()  # on again, as far as the URL allows
        if code != 0:
            resumed = connect.resume_here(self.paused, self.ctx.clock.now())
            line = (errors.strip().splitlines() or ["the copy stopped"])[-1]
            self.show_result(f"{line.removeprefix('mailmonitor: ')} — your data stays in "
                             f"your personal database ({resumed} campaigns sending again).",
                             ok=False)
            return
        self.ctx.spawn(self._finish_move(url), "finish moving into the team database")

    async def _finish_move(self, url: str) -> None:
        connect.save_choice(url)  # the rows are there: the next start uses them
        try:
            resumed = await self.ctx.blocking(connect.resume_in_team, url, self.paused)
        except Exception as exc:  # the server went away right after the copy
            from mailmonitor.models.database import first_line

            self.show_result(f"Copied, but the campaigns could not be resumed there "
                             f"({first_line(exc)}): resume them after the restart.", ok=False)
            self.offer_restart()
            return
        copied = next((line.split(" (")[0] for line in self.output
                       if line.startswith("Copied ")), "Copied")
        self.show_result(f"{copied}; every table's count checked. Campaigns sending there: "
                         f"{resumed}. Your personal database is kept, its campaigns paused (so "
                         "nothing is sent twice). Restart mailmonitor to use the team "
                         "database.", ok=True)
        self.move_button.setEnabled(False)  # done: a second copy would be refused anyway
        self.offer_restart()

    # --- Restart ---
    def offer_restart(self) -> None:
        self.restart_button.show()
        self.test_button.setDefault(False)
        self.restart_button.setDefault(True)
        self.test_button.setProperty("primary", False)
        self.restart_button.setProperty("primary", True)
        repolish(self.test_button)
        repolish(self.restart_button)
        self.restart_button.setFocus()

    def restart(self) -> None:
        connect.request_restart()
        widget: QWidget | None = self.parentWidget()
        while widget is not None and not hasattr(widget, "quitRequested"):
            widget = widget.parentWidget()
        self.accept()
        if widget is not None:
            widget.quitRequested.emit()

    def show_result(self, text: str, ok: bool | None = None) -> None:
        self.result_text = text
        mark = "" if ok is None else ("✔ " if ok else "✖ ")
        self.result_label.setText(esc(mark + text))
        self.result_label.setProperty("state", "" if ok is None else ("ok" if ok else "error"))
        self.adjustSize()

    def reject(self) -> None:
        if self.process is not None:  # a copy is running: it finishes or times out first
            self.show_result("The copy is still running; it will finish in a moment.")
            return
        super().reject()
