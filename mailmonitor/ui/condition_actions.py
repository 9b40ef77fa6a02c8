"""What a condition's button does, wherever it is pressed (a card of the alerts list, the banner,
the campaign view's banner, the tray menu): one place, so every surface does the same.

Reconnect opens the reconnect wizard for the mailbox; Re-allocate… the re-allocate dialog; Add a
mailbox… the campaign's editor at its mailboxes; Check now tests the mailboxes; Check DNS and
Test email run the Deliverability tab's own actions; Switch sign-in… (a provider change, the
radar's card) switches the mailbox to its provider's browser sign-in in place; "They went out" /
"Send again" settle the emails that may not have gone out; Resume sending / Resume campaign
resume. What changes the state the attention model reads is followed by a prompt reconcile
(`UiContext.attention_changed`), so the card and the banner go at once when the cause went."""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

from PySide6.QtWidgets import QStatusBar

from mailmonitor.models import Account, Campaign
from mailmonitor.services.alerts.attention import (
    ADD_MAILBOX,
    CHECK_DNS,
    CHECK_NOW,
    CHECK_SENT,
    NOTIFICATIONS,
    REALLOCATE,
    RECONNECT,
    RESUME_CAMPAIGN,
    RESUME_SENDING,
    ROUND_TRIP,
    SHOW_LEADS,
    SWITCH_SIGN_IN,
)
from mailmonitor.services.alerts.cards import Card
from mailmonitor.services.campaigns.rules import CampaignError, resume_campaign
from mailmonitor.services.deliverability.holds import NotHeld
from mailmonitor.services.placement import overview
from mailmonitor.services.reconnect.flow import Page
from mailmonitor.services.sending.reconcile import resolve_unknown_sends
from mailmonitor.ui.alert_card import SEND_AGAIN
from mailmonitor.ui.context import UiContext


class Surfaces(Protocol):
    """What the actions need of the main window."""

    ctx: UiContext

    def open_wizard(self, account_id: int, at: Page = ..., campaign_id: int | None = ...
                    ) -> Any: ...

    def open_reallocate(self, campaign_id: int) -> Any: ...

    def add_mailbox_to(self, campaign_id: int) -> Any: ...

    def open_account(self, account_id: int) -> Any: ...

    def open_alerts(self) -> Any: ...

    def switch_sign_in(self, account_id: int) -> Any: ...

    def open_notifications(self) -> Any: ...

    def check_mailboxes(self, account_ids: list[int]) -> None: ...

    def show_campaign(self, campaign_id: int) -> None: ...

    def statusBar(self) -> QStatusBar: ...  # Qt's name


def perform(window: Surfaces, card: Card, action: str, target: int | None = None) -> None:
    """Do `action` of `card` (`target`: the account or campaign it acts on; None: the card's
    first mailbox or campaign)."""
    ctx = window.ctx
    now = ctx.clock.now()
    account_id = target if target is not None and card.mailboxes else card.account_id
    campaign_id = target if target is not None and action in (REALLOCATE, ADD_MAILBOX,
                                                             RESUME_CAMPAIGN, SHOW_LEADS) \
        else card.campaign_id
    if action == RECONNECT and account_id is not None:
        window.open_wizard(account_id, Page.CONNECTION)
    elif action == RESUME_SENDING:
        for held in ([account_id] if target is not None else card.account_ids):
            if held is not None:
                with contextlib.suppress(NotHeld):  # resumed elsewhere meanwhile
                    overview.resume_sending(held, now)
        ctx.attention_changed()
    elif action == REALLOCATE and campaign_id is not None:
        window.open_reallocate(campaign_id)
    elif action == ADD_MAILBOX and campaign_id is not None:
        window.add_mailbox_to(campaign_id)
    elif action == CHECK_NOW:
        window.check_mailboxes([target] if target is not None else card.account_ids)
    elif action in (CHECK_DNS, ROUND_TRIP) and account_id is not None:
        detail = window.open_account(account_id)
        detail.tabs.setCurrentWidget(detail.deliverability)
        if action == CHECK_DNS:
            detail.deliverability.check_dns()
        else:
            detail.deliverability.test_sending_and_receiving()
    elif action in (CHECK_SENT, SEND_AGAIN) and account_id is not None:
        account = Account.get_or_none(Account.id == account_id)
        if account is not None:
            again = resolve_unknown_sends(account, action == CHECK_SENT, now)
            window.statusBar().showMessage(
                f"{again} email{'s' if again != 1 else ''} will go out again from "
                f"{account.email}." if again else "Counted as sent.", 8000)
        ctx.attention_changed()
    elif action == RESUME_CAMPAIGN and campaign_id is not None:
        campaign = Campaign.get_or_none(Campaign.id == campaign_id)
        if campaign is not None:
            try:
                running = resume_campaign(campaign, now)
                window.statusBar().showMessage(
                    f"“{campaign.name}” resumed." if running else
                    f"“{campaign.name}” stays paused: none of its mailboxes can send.", 8000)
            except CampaignError as exc:
                window.statusBar().showMessage(str(exc), 8000)
        ctx.attention_changed()
    elif action == SHOW_LEADS and campaign_id is not None:
        window.show_campaign(campaign_id)
    elif action == SWITCH_SIGN_IN and account_id is not None:
        window.switch_sign_in(account_id)
    elif action == NOTIFICATIONS:
        window.open_notifications()
    else:  # nothing to press (or it went meanwhile): the list says more
        window.open_alerts()
