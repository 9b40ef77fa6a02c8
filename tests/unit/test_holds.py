"""Holds on sending: a passing check or a one-click reconnect does not lift them (only the rep's
Resume sending does); a credential problem found meanwhile still shows; campaigns react like to
any mailbox that cannot send."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from mailmonitor.models import Campaign, Lead
from mailmonitor.services.campaigns.lifecycle import reconnected
from mailmonitor.services.deliverability import holds
from mailmonitor.services.monitoring.account_state import update_status
from tests.factories import make_account, make_campaign, make_leads, reload

NOW = datetime(2026, 11, 23, 9, 0)


def test_a_hold_survives_checks_and_reconnects_until_the_rep_resumes(db: Path) -> None:
    account = make_account("rep@sales.example")
    campaign = make_campaign("C", [account])
    make_leads(campaign, account, 4, cursor=1)
    assert holds.place_hold(account, "high_bounce_rate", "3 of 40 bounced", NOW)
    assert not holds.place_hold(account, "high_bounce_rate", "4 of 40 bounced", NOW)
    held = reload(account)
    assert (held.status, held.reason, held.detail) == ("disconnected", "high_bounce_rate",
                                                       "4 of 40 bounced")
    assert {lead.state for lead in Lead.select()} == {"halted"}
    assert Campaign.get_by_id(campaign.id).pause_reason == "no_active_mailbox"

    update_status(held, "connected", None, "login ok", NOW)
    assert reload(account).reason == "high_bounce_rate"
    reconnected(reload(account), NOW, detail="signed in again")
    assert reload(account).reason == "high_bounce_rate"
    # A real credential problem meanwhile is what the rep sees first.
    update_status(reload(account), "disconnected", "invalid_credentials", "535", NOW)
    assert reload(account).reason == "invalid_credentials"
    reconnected(reload(account), NOW)
    assert reload(account).reason == "high_bounce_rate"  # and the hold is still there

    holds.resume_sending(reload(account), NOW)
    assert (reload(account).status, reload(account).reason) == ("connected", None)
    assert {lead.state for lead in Lead.select()} == {"active"}
    assert Campaign.get_by_id(campaign.id).status == "active"
    with pytest.raises(holds.NotHeld):
        holds.resume_sending(reload(account), NOW)


def test_only_sending_reasons_make_a_hold(db: Path) -> None:
    account = make_account("rep@sales.example")
    with pytest.raises(ValueError):
        holds.place_hold(account, "invalid_credentials", "no", NOW)
