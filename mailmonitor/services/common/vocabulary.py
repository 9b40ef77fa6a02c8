"""One vocabulary for every state a rep reads about: mailbox statuses and reasons, campaign
statuses with why a campaign is paused, lead states and where a lead is in its sequence. The
window, the command line's text output and the messages all say these words (the window's words:
they are the ones reps were shown first); `--json` keeps the stored machine values
(`models.states`), which are the keys here.

No Qt, no database queries: a caller passes the values it has read."""

from __future__ import annotations

from mailmonitor.models.campaign import PAUSE_WORDS as MODEL_PAUSE_WORDS
from mailmonitor.models.states import CampaignStatus, LeadState, PauseReason, Status
from mailmonitor.services.common.reasons import REASONS, STATUS_LABELS

# --- mailboxes ---------------------------------------------------------------------------------

NO_REASON = "—"
WHY_STOPPED = "You disconnected this mailbox"  # the only way a mailbox stops (lifecycle)


def status_words(status: str) -> str:
    """'Connected', 'Retrying', 'Disconnected', 'Stopped', …"""
    try:
        return STATUS_LABELS[Status(status)]
    except ValueError:
        return status


def reason_words(status: str, reason: str | None) -> str:
    """What the Reason column says: the reason's label ('Invalid Credentials', 'Retrying: timed
    out'), for a stopped mailbox why it is stopped, else a dash."""
    if reason in REASONS:
        return REASONS[reason].label
    if status == Status.STOPPED:
        return WHY_STOPPED
    return NO_REASON


# --- campaigns ---------------------------------------------------------------------------------

CAMPAIGN_WORDS: dict[str, str] = {
    CampaignStatus.DRAFT: "Draft",
    CampaignStatus.ACTIVE: "Active",
    CampaignStatus.PAUSED: "Paused",
    CampaignStatus.COMPLETED: "Completed",
}

# After "Paused": why (" by you", ": no mailbox can send", " after an error (see Alerts)").
PAUSE_WORDS = MODEL_PAUSE_WORDS


def campaign_words(status: str, pause_reason: str | None = None) -> str:
    """'Active', 'Paused by you', 'Paused: no mailbox can send', 'Draft', 'Completed'."""
    words = CAMPAIGN_WORDS.get(status, status.capitalize())
    if status == CampaignStatus.PAUSED:
        words += PAUSE_WORDS.get(pause_reason or PauseReason.USER, PAUSE_WORDS[PauseReason.USER])
    return words


WAITING_FOR_A_MAILBOX = ("none of its mailboxes can send yet: it starts by itself when one "
                         "connects")


# --- leads -------------------------------------------------------------------------------------

LEAD_WORDS: dict[str, str] = {
    LeadState.PENDING: "Not contacted yet",
    LeadState.ACTIVE: "In sequence",
    LeadState.HALTED: "Waiting for mailbox",
    LeadState.UNASSIGNED: "No mailbox",
    LeadState.REPLIED: "Replied",
    LeadState.BOUNCED: "Bounced",
    LeadState.COMPLETED: "Completed",
    LeadState.CAMPAIGN_STOPPED: "Campaign Stopped",
    LeadState.UNSUBSCRIBED: "Unsubscribed",
}


def lead_words(state: str) -> str:
    return LEAD_WORDS.get(state, state)


def step_words(cursor: int, steps: int) -> str:
    """Where a lead is: the step it is at (the next one to send, the last one once every step
    went out), 'Step 2 of 3'."""
    at = min(cursor + 1, steps) if steps else cursor + 1
    return f"Step {at} of {steps}" if steps else f"Step {at}"
