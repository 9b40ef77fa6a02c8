"""The states rows can be in: enums whose values are the stored strings, grouped by the sets the
rules use (that `models/` imports nothing from `services/`: test_import_graph.py)."""

from __future__ import annotations

import json
from pathlib import Path

from mailmonitor.clock import utcnow
from mailmonitor.models import Account, Campaign, Lead, db
from mailmonitor.models.states import (
    BROKEN_STATUSES,
    FINAL_STATES,
    OPEN_STATES,
    SENDABLE_STATES,
    CampaignStatus,
    LeadState,
    PauseReason,
    Status,
)
from mailmonitor.services.campaigns import rules
from mailmonitor.services.common import reasons


def test_the_enum_is_the_one_services_and_ui_import() -> None:
    assert reasons.Status is Status
    assert rules.BROKEN_STATUSES is BROKEN_STATUSES
    assert {"disconnected", "stopped"} == BROKEN_STATUSES


def test_values_are_the_strings_in_the_database_and_the_json(db: Path) -> None:
    now = utcnow()
    account = Account.create(email="a@x.test", imap_host="h", smtp_host="h")
    campaign = Campaign.create(name="C", status=CampaignStatus.PAUSED,
                               pause_reason=PauseReason.NO_MAILBOX)
    Lead.create(campaign=campaign, email="l@x.test", mailbox=account, state=LeadState.HALTED,
                updated_at=now)
    raw = db_rows("select status from account") + db_rows(
        "select status, pause_reason from campaign") + db_rows("select state from lead")
    assert raw == [("checking",), ("paused", "no_active_mailbox"), ("halted",)]
    lead = Lead.get()
    assert type(lead.state) is str and lead.state == LeadState.HALTED
    assert lead.state in OPEN_STATES - SENDABLE_STATES
    assert json.dumps({"state": LeadState.HALTED, "status": Status.CHECKING}) \
        == '{"state": "halted", "status": "checking"}'


def db_rows(sql: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in db.execute_sql(sql).fetchall()]


def test_the_sets_partition_the_lead_states() -> None:
    assert SENDABLE_STATES | {LeadState.HALTED, LeadState.UNASSIGNED} == OPEN_STATES
    assert not OPEN_STATES & FINAL_STATES
    assert set(LeadState) == OPEN_STATES | FINAL_STATES
    # The order reports list them in is the enum's (campaigns list --json).
    assert [s.value for s in LeadState] == [
        "pending", "active", "halted", "unassigned", "replied", "bounced", "completed",
        "campaign_stopped", "unsubscribed"]


def test_send_states_and_what_counts_as_emailed() -> None:
    from mailmonitor.models.states import (
        ATTEMPTED_SEND_STATES,
        DELIVERED_SEND_STATES,
        SendState,
    )

    assert [s.value for s in SendState] == ["sending", "sent", "failed", "unknown"]
    # A failed send neither counts against the daily limit nor starts a thread.
    assert SendState.FAILED not in ATTEMPTED_SEND_STATES | DELIVERED_SEND_STATES
    assert DELIVERED_SEND_STATES < ATTEMPTED_SEND_STATES
