"""The reconnect wizard's navigation and what Save & Resume applies, without Qt (spec §5).

The steps reps know from other tools: select the paused campaign → Edit Warm-up (a pop-up with the
warm-up and sending settings) → its Previous button returns to the connection page →
re-authenticate (password / app password, or sign in through the browser for OAuth accounts) →
Next tests the connection for real and only continues on success → Save & Resume.

`ReconnectFlow` holds the state of one wizard run; the password and the connection test are the
part it shares with adding a mailbox (`accounts.connection_test.ConnectionTestFlow`). It never
does network or keyring I/O itself: the window runs the blocking parts (the check,
`store_secret`) in worker threads and feeds the results back (`start_test` / `finish_test`), so
the whole path can be unit-tested with fake probe results. The Qt pages
(`ui/reconnect_wizard.py`) only render `flow.page`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from mailmonitor.models import Account, Campaign, CampaignMailbox, Lead, db
from mailmonitor.services.accounts.connection_test import ConnectionTestFlow, FlowError
from mailmonitor.services.accounts.diagnostics import diagnostics_report
from mailmonitor.services.auth import secrets
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.campaigns.rules import CampaignError, resume_campaign
from mailmonitor.services.common.vocabulary import campaign_words
from mailmonitor.services.monitoring.account_state import record_check
from mailmonitor.services.sending.settings import SendingSettings


class Page(StrEnum):
    SELECT_CAMPAIGN = "select_campaign"
    EDIT_WARMUP = "edit_warmup"  # the pop-up over the connection page
    CONNECTION = "connection"
    TESTING = "testing"  # Next was pressed: the real check runs
    READY = "ready"  # the check passed: Save & Resume
    DONE = "done"


# page -> action -> next page. Anything not listed here is refused (FlowError).
TRANSITIONS: dict[Page, dict[str, Page]] = {
    Page.SELECT_CAMPAIGN: {"edit_warmup": Page.EDIT_WARMUP, "skip": Page.CONNECTION},
    Page.EDIT_WARMUP: {"previous": Page.CONNECTION, "cancel": Page.CONNECTION},
    Page.CONNECTION: {"edit_warmup": Page.EDIT_WARMUP, "back": Page.SELECT_CAMPAIGN,
                      "next": Page.TESTING},
    Page.TESTING: {"passed": Page.READY, "failed": Page.CONNECTION},
    Page.READY: {"back": Page.CONNECTION, "save": Page.DONE},
    Page.DONE: {},
}

@dataclass(frozen=True)
class CampaignChoice:
    id: int
    name: str
    status: str
    pause_reason: str | None
    waiting_leads: int  # leads of this campaign halted for this account

    @property
    def paused(self) -> bool:
        return self.status == "paused"

    @property
    def status_text(self) -> str:
        return campaign_words(self.status, self.pause_reason)


@dataclass(frozen=True)
class SaveResult:
    resumed_campaign: str | None  # the selected campaign, if it runs again
    campaign_note: str  # why it did not, when it did not
    active_campaigns: int


@dataclass(kw_only=True)
class ReconnectFlow(ConnectionTestFlow[Page]):
    """One run of the reconnect wizard for one account."""

    TRANSITIONS = TRANSITIONS

    account_id: int
    email: str = ""
    page: Page = Page.SELECT_CAMPAIGN
    campaign_id: int | None = None
    campaigns: list[CampaignChoice] = field(default_factory=list)
    settings: SendingSettings = field(default_factory=SendingSettings)
    settings_edited: bool = False
    signed_in: bool = False  # OAuth: the browser sign-in finished
    result: SaveResult | None = None
    _new_secret: bool = False  # store_secret replaced the password: apply notes its age

    @classmethod
    def start(cls, account_id: int, at: Page = Page.SELECT_CAMPAIGN,
              campaign_id: int | None = None) -> ReconnectFlow:
        """A new run. The Reconnect shortcut starts `at=Page.CONNECTION` with the first paused
        campaign of the account preselected."""
        if at not in (Page.SELECT_CAMPAIGN, Page.CONNECTION):
            raise FlowError("The wizard starts at the campaign or the connection page.")
        account = Account.get_by_id(account_id)
        flow = cls(account_id=account_id, email=account.email, page=at,
                   campaigns=campaign_choices(account),
                   settings=SendingSettings.of(account))
        ids = [c.id for c in flow.campaigns]
        if campaign_id is not None and campaign_id in ids:
            flow.campaign_id = campaign_id
        else:
            paused = [c.id for c in flow.campaigns if c.paused]
            flow.campaign_id = paused[0] if paused else (ids[0] if ids else None)
        return flow

    # --- reading -----------------------------------------------------------------------------

    @property
    def account(self) -> Account:
        account: Account = Account.get_by_id(self.account_id)
        return account

    def tested_account(self) -> Account:
        return self.account

    @property
    def is_oauth(self) -> bool:
        return bool(self.account.is_oauth)

    @property
    def needs_password(self) -> bool:
        return not self.is_oauth  # OAuth: the token comes from the OAuth service

    @property
    def selected_campaign(self) -> CampaignChoice | None:
        return next((c for c in self.campaigns if c.id == self.campaign_id), None)

    # --- navigation ---------------------------------------------------------------------------

    def select_campaign(self, campaign_id: int | None) -> None:
        if campaign_id is not None and campaign_id not in {c.id for c in self.campaigns}:
            raise FlowError("That campaign does not send from this mailbox.")
        self.campaign_id = campaign_id

    def edit_warmup(self) -> Page:
        return self._go("edit_warmup")

    def set_settings(self, settings: SendingSettings) -> None:
        problems = settings.problems()
        if problems:
            raise FlowError(" ".join(problems))
        self.settings = settings
        self.settings_edited = True

    def previous(self) -> Page:
        """In the Edit Warm-up pop-up, Previous returns to the connection page. A failed test
        from before is no longer shown there: the rep is about to try again."""
        if self.last_test is not None and not self.last_test.ok:
            self.last_test = None
        return self._go("previous")

    def cancel_warmup(self) -> Page:
        """Cancel in the Edit Warm-up pop-up: back to the connection page, the sending settings
        as they were before the pop-up opened (a failed test stays on screen)."""
        return self._go("cancel")

    def skip(self) -> Page:
        return self._go("skip")

    def back(self) -> Page:
        if self.page is Page.READY:
            self.forget_test()  # the rep may change the password: test again
        return self._go("back")

    def mark_signed_in(self) -> None:
        """The OAuth hook finished a browser sign-in (it stored the new tokens itself)."""
        self.signed_in = True

    # --- Save & Resume ------------------------------------------------------------------------

    def store_secret(self) -> None:
        """Blocking (keyring): run it in a worker thread, before `apply`. Stores exactly the
        password that passed the test. No database access here (it runs off the loop)."""
        if self.page is not Page.READY:
            raise FlowError("Save & Resume comes after a successful connection test.")
        if self._tested_password:
            # Its age is written by `apply`, on the caller's clock and in its transaction.
            self._new_secret = secrets.set_secret(self.email, "password", self._tested_password,
                                                  note_age=False)

    def apply(self, now: datetime) -> SaveResult:
        """Database part of Save & Resume, in one transaction: the reconnect rules (§4.4, §5),
        the sending settings, the passing test stored as a check, and the selected campaign
        resumed. Everything else about the account is kept. Run it through the monitor
        (`Monitor.store_test`), so no older check of the account lands after it."""
        if self.page is not Page.READY or self.last_test is None:
            raise FlowError("Save & Resume comes after a successful connection test.")
        with db.atomic():
            lifecycle.reconnected(self.account, now, detail=self.last_test.detail)
            account = self.account  # reattach (two-step disconnect) may have reset settings
            self.settings.apply_to(account, now)
            if self._new_secret:  # the password reminder counts from this reconnect
                account.secret_set_at = now
            account.save()
            probes = self.tested_probes
            if probes is not None:
                record_check(account, probes[0], probes[1], now, "reconnect")
            resumed, note = self._resume_selected(now)
            active = sum(1 for c in campaign_choices(account) if c.status == "active")
        self._forget_passwords()
        self.result = SaveResult(resumed, note, active)
        self._go("save")
        return self.result

    def _resume_selected(self, now: datetime) -> tuple[str | None, str]:
        """(the campaign that runs again, or why it does not)."""
        if self.campaign_id is None:
            return None, ""
        campaign = Campaign.get_by_id(self.campaign_id)
        if campaign.status == "active":
            return campaign.name, ""
        if campaign.status != "paused":
            return None, f"“{campaign.name}” is {campaign.status}."
        try:
            with db.atomic():  # a refused resume leaves nothing half done
                if resume_campaign(campaign, now):
                    return campaign.name, ""
        except CampaignError as exc:
            return None, str(exc)
        return None, f"“{campaign.name}” stays paused: none of its mailboxes can send yet."

    def diagnostics(self, now: datetime) -> str:
        return diagnostics_report(self.account, now, self.last_test)


def campaign_choices(account: Account) -> list[CampaignChoice]:
    """Campaigns this account sends for (or sent for, before a two-step disconnect); paused
    ones first, since those are the ones to resume."""
    campaigns = list(
        Campaign.select().join(CampaignMailbox)
        .where(CampaignMailbox.account == account).order_by(Campaign.name)
    )
    choices = []
    for campaign in campaigns:
        waiting = Lead.select().where(
            (Lead.campaign == campaign) & (Lead.mailbox == account) & (Lead.state == "halted")
        ).count()
        choices.append(CampaignChoice(campaign.id, campaign.name, campaign.status,
                                      campaign.pause_reason, int(waiting)))
    return sorted(choices, key=lambda c: (not c.paused, c.name.lower()))
