"""Holds on sending: a mailbox the app stopped sending from because of what its real sends
showed (too many bounces, mail refused as spam), although its logins pass.

A hold shows as the account's status (`disconnected` with reason `high_bounce_rate` or
`sending_blocked`), so every campaign rule of §4 applies (leads halt at their cursor, a campaign
with no other mailbox pauses, the alert names it). A connection check or a reconnect that
passes does not lift it: `account_state.update_status` asks its `held_status` before writing
`connected`. Only the rep lifts it (`resume_sending`)."""

from __future__ import annotations

import logging
from datetime import datetime

from mailmonitor.models import Account, SendingHold, db
from mailmonitor.services.common.reasons import SENDING_REASONS, Status
from mailmonitor.services.monitoring.account_state import active_hold, update_status

log = logging.getLogger(__name__)


class NotHeld(Exception):
    """Resume sending was asked for a mailbox that is not held."""


def place_hold(account: Account, reason: str, detail: str, now: datetime) -> bool:
    """Stop sending from the mailbox until the rep resumes it. Returns True when the hold is
    new (a second hold for the same reason only refreshes the words)."""
    if reason not in SENDING_REASONS:
        raise ValueError(f"not a sending reason: {reason}")
    with db.atomic():
        hold = active_hold(account)
        new = hold is None
        if hold is None:
            hold = SendingHold.create(account=account, reason=reason, detail=detail, since=now)
        elif hold.reason == reason:
            hold.detail = detail
            hold.save()
        account = Account.get_by_id(account.id)
        if account.status in (Status.CONNECTED.value, Status.WARNING.value,
                              Status.CHECKING.value) or account.reason in SENDING_REASONS:
            update_status(account, Status.DISCONNECTED.value, hold.reason, hold.detail, now)
    if new:
        log.warning("sending from %s stopped: %s (%s)", account.email, reason, detail[:300])
    return new


def resume_sending(account: Account, now: datetime) -> None:
    """The rep's explicit Resume sending: every hold is lifted; the mailbox is checked again at
    once and sends as soon as its connection is fine. Raises NotHeld when nothing was held."""
    with db.atomic():
        lifted = SendingHold.update(lifted_at=now).where(
            (SendingHold.account == account) & SendingHold.lifted_at.is_null()).execute()
        account = Account.get_by_id(account.id)
        if not lifted and account.reason not in SENDING_REASONS:
            raise NotHeld(f"{account.email} is not paused for its sending")
        if account.reason in SENDING_REASONS:
            account.next_check_at = now
            # The last check passed (a hold only replaces `connected`): connected again.
            update_status(account, Status.CONNECTED.value, None, "Sending resumed by you", now)
    log.info("sending from %s resumed by the rep", account.email)
