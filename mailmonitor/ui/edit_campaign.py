"""Edit a campaign (issue 11): its name, the mailboxes it sends from, the sending window, the
steps, and the automatic re-allocation delay. Steps a lead already received stay in place (they
cannot be removed or moved); changing a sent step's text asks first and applies only to emails
sent from then on. The rules live in `services.campaigns.editing`."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTime, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QWidget,
)

from mailmonitor.models import Account, Campaign, Step, active_accounts
from mailmonitor.services.campaigns import editing, undo
from mailmonitor.services.campaigns.rules import CampaignError, campaign_accounts
from mailmonitor.services.campaigns.setup import check_steps
from mailmonitor.services.common.validation import DAY_NAMES, InvalidInput, parse_window
from mailmonitor.ui import keyboard
from mailmonitor.ui.campaign_form import MailboxChecklist, lay_out_campaign_form
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.format import esc, sentence
from mailmonitor.ui.new_campaign import StepsEditor, WindowEditor, days_words
from mailmonitor.ui.widgets import Banner, ask


class CampaignStepsEditor(StepsEditor):
    """The new-campaign steps editor, loaded with a campaign's steps; steps leads already
    reached are marked and keep their place (no remove, no move)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.reached = 0
        self.sent_counts: dict[int, int] = {}  # 0-based position -> emails sent of it
        super().__init__(parent)

    def load(self, steps: list[dict[str, Any]], reached: int, sent: dict[int, int]) -> None:
        self.reached, self.sent_counts = reached, sent
        self._steps = [dict(s) for s in steps]
        self.list.clear()
        for _ in self._steps:
            self.list.addItem(QListWidgetItem())
        self._relabel()
        self.list.setCurrentRow(-1)
        self.set_current(0)

    def remove_step(self, index: int | None = None) -> None:
        index = self.current() if index is None else index
        if index < self.reached:
            return
        super().remove_step(index)

    def move_step(self, delta: int, index: int | None = None) -> None:
        index = self.current() if index is None else index
        if min(index, index + delta) < self.reached:
            return
        super().move_step(delta, index)

    def _relabel(self) -> None:
        super()._relabel()
        for i, step in enumerate(getattr(self, "_steps", [])):
            item = self.list.item(i)
            if item is None:
                continue
            sent = self.sent_counts.get(i, 0)
            if sent:
                subject = step["subject"].strip() or "Reply in thread"
                head = f"{i + 1}. " + (f"+{days_words(step['delay_days'])} · " if i else "")
                item.setText(f"{head}{subject} — sent to {sent:,}")
                item.setToolTip("Already sent: changing its text applies only to the emails "
                                "sent from now on.")
        row = self.current()
        reached = getattr(self, "reached", 0)
        if 0 <= row < reached:
            self.remove_button.setEnabled(False)
            self.up_button.setEnabled(False)
            self.down_button.setEnabled(False)
        elif row == reached:
            self.up_button.setEnabled(False)


def window_to_editor(editor: WindowEditor, window: dict[str, Any] | None) -> None:
    if not window:
        editor.always.setChecked(True)
        return
    editor.limited.setChecked(True)
    editor.set_days([DAY_NAMES[int(d)] for d in window.get("days", [])])
    for field, key in ((editor.start, "start"), (editor.end, "end")):
        hours, minutes = str(window.get(key, "00:00")).split(":")
        field.setTime(QTime(int(hours) % 24, int(minutes)))
    editor.zone.setCurrentText(str(window.get("tz") or "UTC"))


class EditCampaignDialog(keyboard.Dialog):
    """Opened with `open()`.

    Signals:
        saved(object): the services.campaigns.editing.EditReport of what changed.
    """

    saved = Signal(object)

    def __init__(self, ctx: UiContext, campaign_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.campaign_id = campaign_id
        self.confirm_box: Any = None
        campaign = Campaign.get_by_id(campaign_id)
        self.setObjectName("editCampaign")
        self.setWindowTitle(f"Edit “{campaign.name}”")
        self.setMinimumSize(900, 600)
        self.resize(1000, 680)

        self.name = QLineEdit(campaign.name)
        self.name.setObjectName("editCampaignName")
        self.mailboxes = MailboxChecklist("editMailboxList", minimum_height=110)
        self.members = {a.email for a in campaign_accounts(campaign)}
        self._fill_mailboxes()
        mailbox_note = QLabel("Ticked mailboxes share the leads. A mailbox you untick stops "
                              "sending here: its leads that were never emailed move to the "
                              "others, and you can re-allocate the rest.")
        mailbox_note.setObjectName("muted")
        mailbox_note.setWordWrap(True)

        self.window_editor = WindowEditor()
        window_to_editor(self.window_editor, campaign.window)
        self.auto_reallocate = QSpinBox()
        self.auto_reallocate.setObjectName("editAutoReallocate")
        self.auto_reallocate.setRange(0, editing.MAX_AUTO_REALLOCATE_MINUTES)
        self.auto_reallocate.setSuffix(" min")
        self.auto_reallocate.setSpecialValueText("Off")
        self.auto_reallocate.setValue(int(campaign.auto_reallocate_minutes or 0))
        auto_note = QLabel("Moves the leads of a mailbox that stays broken this long to the "
                           "campaign's connected mailboxes (leads it already emailed stay).")
        auto_note.setObjectName("muted")
        auto_note.setWordWrap(True)

        steps = [{"subject": s.subject, "body": s.body, "delay_days": float(s.delay_days)}
                 for s in Step.select().where(Step.campaign == campaign).order_by(Step.position)]
        sent = editing.sent_steps(campaign)
        self.reached = editing.reached_steps(campaign)
        self.steps = CampaignStepsEditor()
        self.steps.load(steps, self.reached, sent)
        steps_note = QLabel(
            f"Steps 1–{self.reached} were already sent and keep their place."
            if self.reached > 1 else
            "Step 1 was already sent and keeps its place." if self.reached == 1 else
            "No step was sent yet: everything can change.")
        steps_note.setObjectName("muted")
        steps_note.setWordWrap(True)

        auto_box = QGroupBox("When a mailbox breaks")
        auto_form = QFormLayout(auto_box)
        auto_form.addRow("Re-allocate automatically after", self.auto_reallocate)
        auto_form.addRow(auto_note)

        self.error = Banner("error")
        self.error.setObjectName("editCampaignError")
        self.error.hide()
        cancel = QPushButton("Cancel")
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("saveCampaign")
        self.save_button.setProperty("primary", True)
        self.save_button.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.save_button)
        lay_out_campaign_form(self, name=self.name, mailboxes=[self.mailboxes, mailbox_note],
                              window_editor=self.window_editor, extra=auto_box,
                              steps=[steps_note, self.steps], error=self.error, buttons=buttons)

        cancel.clicked.connect(self.reject)
        self.save_button.clicked.connect(self.save)
        self.name.setFocus()
        keyboard.install(self)

    # --- mailboxes ------------------------------------------------------------------------------

    def _fill_mailboxes(self) -> None:
        for account in active_accounts().order_by(Account.email):
            usable = account.detached_at is None or account.email in self.members
            self.mailboxes.add_mailbox(
                account, ticked=account.email in self.members, usable=usable,
                tooltip="" if usable else "Disconnected by you: connect it again first.")

    def set_mailboxes(self, emails: list[str]) -> None:
        self.mailboxes.set_mailboxes(emails)

    def selected_mailboxes(self) -> list[str]:
        return self.mailboxes.selected_mailboxes()

    def focus_mailboxes(self) -> None:
        """Opened from "Add a mailbox to this campaign…": the list is where to act."""
        self.mailboxes.focus_first_unticked()

    # --- save -----------------------------------------------------------------------------------

    def show_error(self, html: str) -> None:
        self.error.set_message(html)
        self.error.setVisible(bool(html))

    def edit(self) -> editing.CampaignEdit:
        chosen = set(self.selected_mailboxes())
        if not chosen:
            raise InvalidInput("tick at least one mailbox to send from")
        return editing.CampaignEdit(
            add_mailboxes=sorted(chosen - self.members),
            remove_mailboxes=sorted(self.members - chosen),
            rename=self.name.text(),
            steps=check_steps(self.steps.steps()),
            window=parse_window(self.window_editor.text()), set_window=True,
            auto_reallocate_minutes=self.auto_reallocate.value() or None,
            set_auto_reallocate=True,
        )

    def save(self) -> None:
        try:
            edit = self.edit()
            campaign = Campaign.get_by_id(self.campaign_id)
            assert edit.steps is not None
            check = editing.check_step_changes(campaign, edit.steps)
        except InvalidInput as exc:
            self.show_error(esc(sentence(exc)))
            return
        if check.changed_sent:
            numbers = ", ".join(str(n) for n in check.changed_sent)
            sent = sum(check.sent_counts.get(n, 0) for n in check.changed_sent)
            self.confirm_box = ask(
                self, "Change a sent step?", f"Step {numbers} was already sent to "
                f"{sent:,} leads.", "Change for future emails",
                lambda: self._apply(edit, confirm=True),
                "What they received stays as it was (it is history). The new text goes only "
                "to the leads who get this step from now on.")
            return
        self._apply(edit, confirm=False)

    def _apply(self, edit: editing.CampaignEdit, confirm: bool) -> None:
        campaign = Campaign.get_by_id(self.campaign_id)
        try:
            report, before = undo.edit_campaign_undoably(campaign, edit, self.ctx.clock.now(),
                                                         confirm_sent_steps=confirm)
        except (InvalidInput, CampaignError) as exc:
            self.show_error(esc(sentence(exc)))
            return
        self.ctx.attention_changed()  # a mailbox added or removed: the alerts follow now
        if before is not None:  # taking a mailbox out is not an error: say what it did
            ctx = self.ctx
            ctx.say(f"<b>{esc(editing.removal_words(report, campaign.name))}</b>",
                    lambda: undo_and_say(ctx, before))
        self.saved.emit(report)
        self.accept()


def undo_and_say(ctx: UiContext, before: undo.LeadsBefore) -> str:
    """Undo pressed on the window's notice, after a re-allocation or a removal (the dialog
    that did it may be gone by then): what it put back, in words."""
    done = undo.undo(before, ctx.clock.now())
    ctx.attention_changed()
    return done.words()


def open_edit_campaign(ctx: UiContext, campaign_id: int, parent: QWidget,
                       focus_mailboxes: bool = False) -> EditCampaignDialog:
    dialog = EditCampaignDialog(ctx, campaign_id, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    if focus_mailboxes:
        dialog.focus_mailboxes()
    return dialog
