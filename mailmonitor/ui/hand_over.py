"""Hand a mailbox over to another running copy (issue 21): the window's `mailmonitor accounts
hand-over`. The rep picks a receiver (machine, kind, fingerprint in full — what a person
compares —, last seen); Enter hands over, Esc cancels. The hand-over itself (seal, wait until
the receiver stored it) runs in a worker thread with a busy bar and Cancel; the result is one
line."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QProgressBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.services.team import handover
from mailmonitor.services.team.handover import HandedOver, Receiver
from mailmonitor.ui import keyboard
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.dialog_work import DialogWork
from mailmonitor.ui.format import local_time
from mailmonitor.ui.widgets import ButtonRow

TIMEOUT_SECONDS = 60.0  # as the command line's default


def others(receivers: Sequence[Receiver], own: str | None) -> list[Receiver]:
    """Who can receive: never a copy on this keyring (it already holds what this one holds)."""
    return [r for r in receivers if r.fingerprint != own]


def action_text(receivers: Sequence[Receiver]) -> str:
    return f"Hand over to {receivers[0].machine}…" if len(receivers) == 1 else "Hand over to…"


def done_line(done: HandedOver) -> str:
    kept = "its sign-in left this computer" if done.moved else "the password stays here too"
    return (f"Handed {done.email} over to {done.receiver.machine} ({done.receiver.kind}); "
            f"{kept}")


HandOverFn = Callable[..., HandedOver]


class HandOverDialog(keyboard.Dialog):
    """Signals:
        handedOver(str): done; the one line that says so.
    """

    handedOver = Signal(str)

    def __init__(self, ctx: UiContext, email: str, receivers: Sequence[Receiver],
                 parent: QWidget | None = None, *,
                 timeout: float = TIMEOUT_SECONDS,
                 hand_over: HandOverFn = handover.hand_over,
                 announce: Callable[[str], None] = lambda fingerprint: None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.email = email
        self.choices = list(receivers)
        self.timeout = timeout
        self._hand_over = hand_over
        self._announce = announce
        self.work = DialogWork(ctx)
        self.stop_waiting = threading.Event()
        self.result_line = ""
        self.setObjectName("handOverDialog")
        self.setWindowTitle(f"Hand over {email}")
        intro = QLabel(f"Which running copy sends for <b>{email}</b> from now on? Its sign-in "
                       "is sealed to the copy's key: compare the fingerprint with the one that "
                       "copy shows (<tt>mailmonitor team senders</tt>).")
        intro.setWordWrap(True)
        self.table = QTreeWidget()
        self.table.setObjectName("receivers")
        self.table.setRootIsDecorated(False)
        self.table.setHeaderLabels(["Machine", "Kind", "Fingerprint", "Last seen"])
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        for receiver in self.choices:
            item = QTreeWidgetItem([receiver.machine, receiver.kind, receiver.fingerprint,
                                    local_time(receiver.last_seen)])
            item.setToolTip(2, receiver.fingerprint)
            self.table.addTopLevelItem(item)
        for column in range(4):
            self.table.resizeColumnToContents(column)
        first = self.table.topLevelItem(0)
        if first is not None:
            self.table.setCurrentItem(first)
        self.table.itemActivated.connect(lambda *_: self.start())
        self.progress = QProgressBar()
        self.progress.setObjectName("handOverProgress")
        self.progress.setRange(0, 0)  # busy: the receiver says when it is done
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.status = QLabel()
        self.status.setObjectName("handOverStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = ButtonRow()
        buttons.addStretch(1)
        self.cancel_button = buttons.button("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        self.hand_button = buttons.button("Hand over", primary=True)
        self.hand_button.setObjectName("handOver")
        self.hand_button.clicked.connect(self.start)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.resize(720, 300)
        self.finished.connect(lambda _r: self._closed())

    def chosen(self) -> Receiver | None:
        item = self.table.currentItem()
        if item is None:
            return None
        return self.choices[self.table.indexOfTopLevelItem(item)]

    @property
    def busy(self) -> bool:
        return self.work.busy

    def start(self) -> None:
        receiver = self.chosen()
        if receiver is None or self.busy:
            return
        self.stop_waiting.clear()
        self.table.setEnabled(False)
        self.hand_button.setEnabled(False)
        self.progress.show()
        self.status.setText(f"Handing {self.email} over to {receiver.machine}… (waiting until "
                            "it stored the sign-in)")
        self.work.spawn(self._run(receiver), "hand-over")

    def _blocking(self, receiver: Receiver) -> HandedOver:
        return self._hand_over(self.email, receiver.fingerprint, self.timeout, self.ctx.clock,
                               announce=self._announce, cancelled=self.stop_waiting.is_set)

    async def _run(self, receiver: Receiver) -> None:
        try:
            done = await self.ctx.blocking(self._blocking, receiver)
        except (handover.HandOverRefused, handover.HandOverFailed) as exc:
            line = f"Not handed over: {exc}"
            ok = False
        else:
            line, ok = done_line(done), True
        if not self.work.alive:
            return
        self.result_line = line
        self.progress.hide()
        self.status.setText(line)
        if ok:
            self.handedOver.emit(line)
            self.accept()
            return
        self.table.setEnabled(True)
        self.hand_button.setEnabled(True)
        self.hand_button.setText("Try again")

    def reject(self) -> None:
        if self.busy:  # Cancel while waiting: the sealed row is taken back, then it closes
            self.stop_waiting.set()
            self.status.setText("Cancelling…")
            self.cancel_button.setEnabled(False)
            task = next(iter(self.work.tasks), None)
            if task is not None:
                task.add_done_callback(lambda _t: self._cancelled())
            return
        super().reject()

    def _cancelled(self) -> None:
        if self.work.alive and self.isVisible():
            self.cancel_button.setEnabled(True)
            super().reject()

    def _closed(self) -> None:
        self.stop_waiting.set()
        self.work.stop()
