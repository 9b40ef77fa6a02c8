"""One campaign: status with Pause/Resume, a banner for each condition of the attention model
that names it (a mailbox that keeps its leads waiting: Reconnect / Re-allocate, §4.3 — the same
words, order and actions as the alerts list), and its leads (windowed: fast with 200,000)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.models import Account, Campaign
from mailmonitor.models.campaign import PAUSE_NO_MAILBOX
from mailmonitor.services.alerts.attention import ADD_MAILBOX, REALLOCATE
from mailmonitor.services.alerts.cards import ACTION_LABELS, Card, about_campaign
from mailmonitor.services.campaigns import undo
from mailmonitor.services.campaigns.editing import resume_blocker
from mailmonitor.services.campaigns.impact import affected_mailboxes
from mailmonitor.services.campaigns.reallocation import ReallocationPlan, plan_reallocation
from mailmonitor.services.campaigns.rules import (
    CampaignError,
    campaign_accounts,
    pause_campaign,
    resume_campaign,
)
from mailmonitor.services.campaigns.setup import import_leads
from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.common.vocabulary import LEAD_WORDS, campaign_words
from mailmonitor.ui import format as fmt
from mailmonitor.ui import keyboard
from mailmonitor.ui.banners import BANNER_SEVERITY, add_condition_buttons
from mailmonitor.ui.context import UiContext
from mailmonitor.ui.edit_campaign import EditCampaignDialog, open_edit_campaign, undo_and_say
from mailmonitor.ui.icons import campaign_icon
from mailmonitor.ui.models import LeadsModel
from mailmonitor.ui.widgets import Banner, ButtonRow, StatusChip, discard

LEAD_FILTERS: list[tuple[str, tuple[str, ...] | None]] = [
    ("All leads", None),
    ("Waiting for a mailbox", ("halted", "unassigned")),
    *((LEAD_WORDS[state], (state,)) for state in (
        "active", "pending", "replied", "bounced", "completed", "campaign_stopped",
        "unsubscribed")),
]



def banner_html(card: Card, now: datetime) -> str:
    """A condition as the campaign's banner says it: its title, the time left to its deadline,
    what it means (also for this campaign)."""
    deadline = card.deadline_text(now)
    muted = card.mute_text(now)
    return (f"<b>{fmt.esc(card.title)}</b>"
            + (f" — <span style='font-weight:600'>{fmt.esc(deadline)}</span>" if deadline
               else "")
            + (f"<br>{fmt.esc(card.message)}" if card.message else "")
            + (f"<br><i>{fmt.esc(muted)}</i>" if muted else ""))


class ReallocateDialog(keyboard.Dialog):
    """§4.5: move the leads of broken mailboxes to the campaign's connected ones, with a
    preview of how many go where. Opened with `open()`.

    Signals:
        applied(int): leads moved (the campaign id is `campaign_id`).
    """

    applied = Signal(int)
    addMailboxRequested = Signal(int)

    def __init__(self, ctx: UiContext, campaign_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.campaign_id = campaign_id
        self.plan: ReallocationPlan | None = None
        campaign = Campaign.get_by_id(campaign_id)
        self.setObjectName("reallocateDialog")
        self.setWindowTitle(f"Re-allocate leads of “{campaign.name}”")
        self.setMinimumWidth(520)
        intro = QLabel("Leads of mailboxes that cannot send move to this campaign's connected "
                       "mailboxes, shared by each mailbox's remaining daily capacity.")
        intro.setWordWrap(True)
        self.include_contacted = QCheckBox("Also move leads that were already emailed")
        self.include_contacted.setToolTip(
            "Their follow-ups then come from a different address, in a new thread. Left "
            "unticked, they keep their mailbox and continue after it is reconnected.")
        self.preview = QTableWidget(0, 2)
        self.preview.setObjectName("preview")
        self.preview.setHorizontalHeaderLabels(["Mailbox", "Leads it receives"])
        self.preview.verticalHeader().hide()
        self.preview.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.preview.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.ResizeToContents)
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        buttons = ButtonRow()
        buttons.addStretch(1)
        cancel = buttons.button("Cancel")
        # The way out when nothing can take the leads (issue 11: no dead ends).
        self.add_mailbox_button = buttons.button("Add a mailbox to this campaign…")
        self.add_mailbox_button.setObjectName("addMailboxToCampaign")
        self.add_mailbox_button.setProperty("primary", True)
        self.add_mailbox_button.clicked.connect(self._add_mailbox)
        self.apply_button = buttons.button("Re-allocate", primary=True)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(intro)
        layout.addWidget(self.include_contacted)
        layout.addWidget(self.preview)
        layout.addWidget(self.summary)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        cancel.clicked.connect(self.reject)
        self.apply_button.clicked.connect(self.apply)
        self.include_contacted.toggled.connect(lambda _on: self.refresh_preview())
        self.refresh_preview()
        keyboard.install(self)

    def refresh_preview(self) -> None:
        campaign = Campaign.get_by_id(self.campaign_id)
        try:
            self.plan = plan_reallocation(campaign, self.ctx.clock.now(),
                                          self.include_contacted.isChecked())
        except CampaignError as exc:
            self.plan = None
            self.preview.setRowCount(0)
            self.preview.hide()
            self.summary.hide()
            self.error.setText(str(exc))
            self.error.show()
            self.apply_button.setEnabled(False)
            self.apply_button.hide()
            self.include_contacted.hide()
            self.add_mailbox_button.show()
            self.add_mailbox_button.setDefault(True)
            return
        self.add_mailbox_button.hide()
        self.include_contacted.show()
        self.apply_button.show()
        self.error.hide()
        counts = self.plan.counts()
        emails = dict(Account.select(Account.id, Account.email)
                      .where(Account.id.in_(list(counts) or [0])).tuples())
        self.preview.setRowCount(len(counts))
        for row, (account_id, n) in enumerate(sorted(counts.items(), key=lambda kv: -kv[1])):
            self.preview.setItem(row, 0, QTableWidgetItem(emails.get(account_id, "?")))
            count_item = QTableWidgetItem(f"{n:,}")
            count_item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                        | Qt.AlignmentFlag.AlignVCenter)
            self.preview.setItem(row, 1, count_item)
        self.preview.setVisible(bool(counts))
        total = self.plan.total
        parts = [f"{fmt.count(total, 'lead')} will move." if total
                 else "No lead needs to move."]
        if self.plan.kept_contacted:
            parts.append(f"{fmt.count(self.plan.kept_contacted, 'lead')} that already got an "
                         "email stay with their mailbox (tick the box above to move them too).")
        self.summary.setText(" ".join(parts))
        self.summary.show()
        self.apply_button.setEnabled(total > 0)

    def _add_mailbox(self) -> None:
        self.addMailboxRequested.emit(self.campaign_id)
        self.reject()

    def apply(self) -> None:
        if self.plan is None or not self.plan.total:
            return
        plan, now = self.plan, self.ctx.clock.now()
        before = undo.reallocate_undoably(plan, now)
        self.ctx.attention_changed()  # the waiting leads' alerts go now
        campaign = Campaign.get_by_id(self.campaign_id)
        ctx = self.ctx
        ctx.say(f"<b>{fmt.esc(plan.words())}</b> (“{fmt.esc(campaign.name)}”). They continue "
                "from their step.", lambda: undo_and_say(ctx, before))
        self.applied.emit(plan.total)
        self.accept()



class CampaignView(QWidget):
    """Signals:
        reconnectRequested(int): the rep pressed Reconnect for this account.
        actionRequested(object, str, object): another action of a condition's banner (the
            card, the action, its target id), for the window to do.
    """

    reconnectRequested = Signal(int)
    actionRequested = Signal(object, str, object)

    def __init__(self, ctx: UiContext, campaign_id: int | None = None,
                 mailbox_email: Callable[[int], str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.campaign_id: int | None = None
        self._members: set[int] = set()
        self._affected: set[int] = set()
        self.banners: list[Banner] = []
        self._banner_cards: list[object] = []
        self.reallocate_dialog: ReallocateDialog | None = None
        self.edit_dialog: EditCampaignDialog | None = None
        self._can_take_leads = False

        self.title = QLabel()
        self.title.setObjectName("heading")
        self.chip = StatusChip()
        self.mailboxes = QLabel()
        self.mailboxes.setObjectName("muted")
        self.mailboxes.setWordWrap(True)
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.reallocate_button = QPushButton("Re-allocate…")
        self.import_button = QPushButton("Import leads…")
        self.edit_button = QPushButton("Edit campaign…")
        self.edit_button.setObjectName("editCampaign")
        self.edit_button.clicked.connect(lambda _c=False: self.open_edit())
        self.resume_reason = QLabel()
        self.resume_reason.setObjectName("resumeReason")
        self.resume_reason.setWordWrap(True)
        self.import_button.setObjectName("importLeads")
        self.import_button.setToolTip("Add leads from a CSV (an email column and any template "
                                      "fields); leads already here keep their place")
        self.file_dialog: QFileDialog | None = None
        self.import_banner = Banner("ok")
        self.import_banner.setObjectName("importBanner")
        self.import_banner.add_action("Dismiss", self.import_banner.hide)
        self.import_banner.hide()
        self.message = QLabel()
        self.message.setObjectName("error")
        self.message.setWordWrap(True)
        self.message.hide()
        self.banner_box = QVBoxLayout()
        self.banner_box.setSpacing(6)
        self.filter = QComboBox()
        self.filter.setObjectName("leadFilter")
        for label, states in LEAD_FILTERS:
            self.filter.addItem(label, states)
        self.count = QLabel()
        self.count.setObjectName("muted")
        self.leads = LeadsModel(None, ctx.clock, mailbox_email)
        self.table = QTableView()
        self.table.setTabKeyNavigation(False)  # Tab moves on, arrows move between cells
        self.table.setObjectName("leadsTable")
        self.table.setModel(self.leads)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(LeadsModel.EMAIL, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(LeadsModel.EMAIL, 240)
        header.resizeSection(LeadsModel.NAME, 170)
        header.resizeSection(LeadsModel.MAILBOX, 200)
        header.resizeSection(LeadsModel.STEP, 96)  # "Step 2 of 3"
        header.resizeSection(LeadsModel.STATE, 150)
        header.resizeSection(LeadsModel.SENT, 50)

        top = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(self.title)
        status_row = QHBoxLayout()
        status_row.addWidget(self.chip)
        status_row.addWidget(self.mailboxes, 1)
        titles.addLayout(status_row)
        top.addLayout(titles, 1)
        top.addWidget(self.pause_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.resume_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.reallocate_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.import_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.edit_button, 0, Qt.AlignmentFlag.AlignTop)
        filter_row = QHBoxLayout()
        filter_row.addWidget(QLabel("Show"))
        filter_row.addWidget(self.filter)
        filter_row.addStretch(1)
        filter_row.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.resume_reason)
        layout.addLayout(self.banner_box)
        layout.addWidget(self.message)
        layout.addWidget(self.import_banner)
        layout.addLayout(filter_row)
        layout.addWidget(self.table, 1)

        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(self.resume)
        self.reallocate_button.clicked.connect(self.open_reallocate)
        self.import_button.clicked.connect(lambda _c=False: self.browse_leads())
        self.filter.currentIndexChanged.connect(self._filter_changed)
        self.leads.rowsInserted.connect(self._update_count)
        self.leads.modelReset.connect(self._update_count)
        # Refreshes wait for the burst to end: one refresh for many changes.
        self._leads_dirty = False
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(ctx.coalesce_ms)
        self._refresh_timer.timeout.connect(self._refresh_now)
        ctx.bridge.accountChanged.connect(self._account_changed)
        ctx.bridge.campaignChanged.connect(self._campaign_changed)
        ctx.bridge.leadsChanged.connect(self._leads_changed)
        ctx.attention.changed.connect(self._render_conditions)
        self.set_campaign(campaign_id)

    # --- data ---------------------------------------------------------------------------------

    def set_campaign(self, campaign_id: int | None) -> None:
        if campaign_id != self.campaign_id:
            self.import_banner.hide()
        self.campaign_id = campaign_id
        self.leads.set_campaign(campaign_id)
        self.refresh()

    def refresh(self) -> None:
        campaign = (Campaign.get_or_none(Campaign.id == self.campaign_id)
                    if self.campaign_id is not None else None)
        self.setEnabled(campaign is not None)
        if campaign is None:
            self.title.setText("Select a campaign")
            self.chip.hide()
            self.mailboxes.setText("")
            self._affected = set()
            self._render_conditions()
            return
        self.chip.show()
        self.title.setText(campaign.name)
        text = campaign_words(campaign.status, campaign.pause_reason)
        self.chip.set_status({"active": "connected", "paused": "warning"}.get(
            campaign.status, "stopped"), text)
        if campaign.status == "paused" and campaign.pause_reason != PAUSE_NO_MAILBOX:
            # Paused by the rep is a choice, not a warning: the calm pause sign.
            self.chip.icon.setPixmap(campaign_icon("paused", pause_reason="user").pixmap(18, 18))
        members = campaign_accounts(campaign)
        self._members = {a.id for a in members}
        connected = sum(1 for a in members if a.status == "connected")
        self.mailboxes.setText(f"Sends from {fmt.count(len(members), 'mailbox', 'mailboxes')}"
                               f" ({connected} connected)")
        self.pause_button.setVisible(campaign.status == "active")
        self.resume_button.setVisible(campaign.status in ("paused", "draft"))
        self.resume_button.setText("Start" if campaign.status == "draft" else "Resume")
        blocker = resume_blocker(campaign) if campaign.status in ("paused", "draft") else None
        self.resume_button.setEnabled(blocker is None)
        self.resume_button.setToolTip(blocker or "")
        self.resume_reason.setText(blocker or "")
        self.resume_reason.setVisible(bool(blocker))
        affected = affected_mailboxes(campaign)
        self._can_take_leads = connected > 0
        self._affected = {m.account_id for m in affected}
        self.reallocate_button.setEnabled(bool(affected))
        self._render_conditions()

    def _render_conditions(self) -> None:
        """A banner per condition that names this campaign, in the model's order, with the
        condition's main action and, for this campaign, Re-allocate… or Add a mailbox… when
        its waiting leads can go somewhere (muted ones greyed, at the end)."""
        cards = about_campaign(self.ctx.attention.current(), self.campaign_id,
                               self._affected) if self.campaign_id is not None else []
        now = self.ctx.clock.now()
        shown: list[object] = [self.campaign_id, *(c.signature for c in cards)]
        if shown == self._banner_cards:  # the same conditions: only the times tick on
            for banner, card in zip(self.banners, cards, strict=True):
                banner.set_message(banner_html(card, now))
            return
        self._banner_cards = shown
        for banner in self.banners:
            self.banner_box.removeWidget(banner)
            discard(banner)
        self.banners = []
        for card in cards:
            banner = Banner("muted" if card.muted else
                            BANNER_SEVERITY.get(card.severity, "warning"))
            banner.setObjectName("campaignBanner")
            banner.setProperty("condition", card.key)
            banner.setProperty("account_id", card.account_id)
            banner.set_message(banner_html(card, now))
            add_condition_buttons(banner, card, self._act, primary=not card.muted)
            ref = next((r for r in card.campaigns if r.id == self.campaign_id), None)
            offer = ref.offer if ref is not None else None
            if ref is None and self._affected.intersection(card.account_ids):
                # A mailbox that left the campaign (the rep disconnected it): its leads wait.
                offer = REALLOCATE if self._can_take_leads else ADD_MAILBOX
            if offer is not None and offer != card.action:
                banner.add_action(ACTION_LABELS[offer], self.open_reallocate
                                  if offer == REALLOCATE else lambda: self.open_edit(True),
                                  primary=not card.action and not card.muted)
            self.banner_box.addWidget(banner)
            self.banners.append(banner)

    def _act(self, card: Card, action: str, target: int | None) -> None:
        """A banner's button: what concerns this campaign here, the rest by the window."""
        if action == REALLOCATE and target in (None, self.campaign_id):
            self.open_reallocate()
        elif action == ADD_MAILBOX and target in (None, self.campaign_id):
            self.open_edit(True)
        elif action == "reconnect" and target is not None:
            self.reconnectRequested.emit(target)
        else:
            self.actionRequested.emit(card, action, target)

    def _update_count(self, *_args: Any) -> None:
        shown, total = self.leads.rowCount(), self.leads.total()
        self.count.setText(f"{total:,} leads" if shown >= total
                           else f"Showing {shown:,} of {total:,} leads (scroll for more)")

    def _filter_changed(self, _index: int) -> None:
        self.leads.set_state_filter(self.filter.currentData())

    # --- bridge signals -------------------------------------------------------------------------

    def _account_changed(self, account_id: int) -> None:
        if account_id in self._members or account_id in self._affected:
            self._refresh_timer.start()

    def _campaign_changed(self, campaign_id: int) -> None:
        if campaign_id == self.campaign_id:
            self._refresh_timer.start()

    def _leads_changed(self, campaign_id: int) -> None:
        if campaign_id == self.campaign_id:
            self._leads_dirty = True
            self._refresh_timer.start()

    def _refresh_now(self) -> None:
        if self._leads_dirty:
            self._leads_dirty = False
            self.leads.refresh_loaded()
        self.refresh()

    # --- actions --------------------------------------------------------------------------------

    def _campaign(self) -> Campaign | None:
        if self.campaign_id is None:
            return None
        campaign: Campaign | None = Campaign.get_or_none(Campaign.id == self.campaign_id)
        return campaign

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def pause(self) -> None:
        campaign = self._campaign()
        if campaign is None:
            return
        try:
            pause_campaign(campaign, self.ctx.clock.now())
            self._say("")
        except CampaignError as exc:
            self._say(str(exc))
        self.ctx.attention_changed()
        self.refresh()

    def resume(self) -> None:
        campaign = self._campaign()
        if campaign is None:
            return
        try:
            running = resume_campaign(campaign, self.ctx.clock.now())
            self._say("" if running else "No mailbox of this campaign can send yet: reconnect "
                      "one, or add a connected mailbox (Edit campaign…); the campaign then "
                      "continues by itself.")
        except CampaignError as exc:
            self._say(str(exc))
        self.ctx.attention_changed()
        self.refresh()

    def _reallocated(self, moved: int) -> None:
        self._say("")

    def open_edit(self, focus_mailboxes: bool = False) -> EditCampaignDialog | None:
        if self.campaign_id is None:
            return None
        dialog = open_edit_campaign(self.ctx, self.campaign_id, self, focus_mailboxes)
        dialog.saved.connect(self._edited)
        self.edit_dialog = dialog
        return dialog

    def _edited(self, report: Any) -> None:
        """Say what the edit did; taking mailboxes out is not an error and opens nothing by
        itself: the notice says where their leads went, with Undo."""
        self.refresh()

    def open_reallocate(self) -> ReallocateDialog | None:
        if self.campaign_id is None:
            return None
        dialog = ReallocateDialog(self.ctx, self.campaign_id, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.applied.connect(self._reallocated)
        dialog.addMailboxRequested.connect(lambda _c: self.open_edit(focus_mailboxes=True))
        self.reallocate_dialog = dialog
        dialog.open()
        return dialog

    # --- importing leads ----------------------------------------------------------------------

    def browse_leads(self) -> QFileDialog | None:
        """Pick a CSV (opened with `open()`); the import starts when a file is chosen."""
        if self.campaign_id is None:
            return None
        dialog = QFileDialog(self, "Import leads from CSV", str(Path.home()),
                             "CSV files (*.csv);;All files (*)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(lambda path: self.import_file(Path(path)))
        self.file_dialog = dialog
        dialog.open()
        return dialog

    def import_file(self, path: Path) -> None:
        """All rows or nothing, in a worker (a big CSV must not freeze the window)."""
        campaign = self._campaign()
        if campaign is None:
            return
        self.import_button.setEnabled(False)
        self._show_import("info", f"Importing leads from {fmt.esc(path.name)}…")
        self.ctx.spawn(self._import(campaign, path), "import leads")

    async def _import(self, campaign: Campaign, path: Path) -> None:
        refused: list[str] = []  # unsubscribed addresses (the suppression list)
        try:
            imported, updated = await self.ctx.blocking(import_leads, campaign, path,
                                                        self.ctx.clock.now(), refused)
        except InvalidInput as exc:
            self._show_import("error", "<b>No lead was imported.</b> "
                              + fmt.esc(f"{str(exc)[:1].upper()}{str(exc)[1:]}") + "<br>Fix "
                              "the file and import it again.")
            return
        finally:
            self.import_button.setEnabled(True)
        text = f"Imported {fmt.count(imported, 'lead')}"
        if updated:
            text += (f"; {updated:,} already there kept their place (fields updated)")
        if refused:
            shown = ", ".join(refused[:3]) + ("…" if len(refused) > 3 else "")
            text += f"; {len(refused):,} refused: they unsubscribed ({fmt.esc(shown)})"
        self._show_import("ok", text + ".")
        self._leads_dirty = True
        self._refresh_timer.start()

    def _show_import(self, severity: str, html: str) -> None:
        self.import_banner.set_severity(severity)
        self.import_banner.set_message(html)
        self.import_banner.show()
