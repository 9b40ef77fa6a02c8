"""Every state a stored row can be in, as `StrEnum`s: the values are the very strings stored in
the database, printed by the command line and written to JSON, so a member compares equal to the
text read back from a row (``lead.state == LeadState.HALTED``).

The sets that group states (which leads may still get email, which are finished, which mailbox
statuses need the rep) live here too, next to the states they group.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """An account's connection status (spec §2)."""

    CONNECTED = "connected"
    CHECKING = "checking"
    WARNING = "warning"
    DISCONNECTED = "disconnected"
    OFFLINE = "offline"
    STOPPED = "stopped"


# A mailbox in one of these cannot take part in sending until the rep acts (reconnects it);
# `warning` and `offline` are temporary: sends wait, nothing is halted.
BROKEN_STATUSES: frozenset[Status] = frozenset({Status.DISCONNECTED, Status.STOPPED})


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"


# Campaigns whose leads are still in play (not draft, not completed).
RUNNING_CAMPAIGN_STATUSES: frozenset[CampaignStatus] = frozenset(
    {CampaignStatus.ACTIVE, CampaignStatus.PAUSED})


class PauseReason(StrEnum):
    """Why a campaign is paused: the rep paused it, or mailmonitor did (no mailbox can send, or
    an unexpected error while sending it: the other campaigns keep sending)."""

    USER = "user"
    NO_MAILBOX = "no_active_mailbox"
    ERROR = "error"


class LeadState(StrEnum):
    PENDING = "pending"  # no email yet
    ACTIVE = "active"  # in the sequence
    HALTED = "halted"  # its mailbox is disconnected or stopped: waits at its step
    UNASSIGNED = "unassigned"  # no mailbox (detached, removed): waits for re-allocation
    REPLIED = "replied"
    BOUNCED = "bounced"
    COMPLETED = "completed"  # every step sent
    CAMPAIGN_STOPPED = "campaign_stopped"  # its mailbox never came back (grace ended, removed)
    UNSUBSCRIBED = "unsubscribed"  # asked for no more email: suppressed in every campaign


# Leads in these states may still get email; the others are finished or waiting.
SENDABLE_STATES: frozenset[LeadState] = frozenset({LeadState.PENDING, LeadState.ACTIVE})
# Finished: nothing more is sent, nothing moves them again.
FINAL_STATES: frozenset[LeadState] = frozenset(
    {LeadState.REPLIED, LeadState.BOUNCED, LeadState.COMPLETED, LeadState.CAMPAIGN_STOPPED,
     LeadState.UNSUBSCRIBED})
# Not finished: sendable, or waiting for a mailbox (halted, unassigned); these may be moved to
# another mailbox and continue from their cursor.
OPEN_STATES: frozenset[LeadState] = frozenset(LeadState) - FINAL_STATES
# A reply or a bounce no longer changes these.
NOT_REPLIABLE_STATES: frozenset[LeadState] = frozenset(
    {LeadState.REPLIED, LeadState.BOUNCED, LeadState.CAMPAIGN_STOPPED, LeadState.UNSUBSCRIBED})


class SendState(StrEnum):
    """One email of one step to one lead (services/sending/sendlog.py)."""

    SENDING = "sending"  # written before SMTP; settled by reconcile if the process died
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the server may have accepted it: the rep is asked


# Sends that count against a mailbox's daily limit and mean the lead was (maybe) emailed.
ATTEMPTED_SEND_STATES: frozenset[SendState] = frozenset(
    {SendState.SENDING, SendState.SENT, SendState.UNKNOWN})
# Messages that (may) exist at the recipient: follow-ups thread on them.
DELIVERED_SEND_STATES: frozenset[SendState] = frozenset({SendState.SENT, SendState.UNKNOWN})
