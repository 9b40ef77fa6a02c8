"""Undo of the rep's last move of leads (issue 23): a re-allocation, or taking a healthy mailbox
out of a campaign, put back every lead nothing touched since; a lead emailed from its new
mailbox meanwhile stays there."""

from __future__ import annotations

from pathlib import Path

from mailmonitor.clock import FakeClock
from mailmonitor.models import CampaignMailbox, Lead
from mailmonitor.services.campaigns import undo
from mailmonitor.services.campaigns.editing import CampaignEdit
from mailmonitor.services.campaigns.reallocation import plan_reallocation
from mailmonitor.services.campaigns.rules import campaign_accounts
from mailmonitor.services.monitoring.account_state import update_status
from tests.factories import make_account, make_campaign, make_leads, reload


def where(campaign_id: int) -> dict[str, tuple[int | None, str]]:
    return {lead.email: (lead.mailbox_id, lead.state)
            for lead in Lead.select().where(Lead.campaign == campaign_id)}


def test_a_reallocation_is_undone_except_for_leads_emailed_since(
        db: Path, clock: FakeClock) -> None:
    ava, cleo = make_account("ava@x.example"), make_account("cleo@x.example")
    campaign = make_campaign("Q4", [ava, cleo])
    make_leads(campaign, cleo, 4, prefix="c")
    update_status(cleo, "disconnected", "invalid_credentials", "NO", clock.now())
    before = where(campaign.id)
    assert {state for _m, state in before.values()} == {"halted"}

    done = undo.reallocate_undoably(plan_reallocation(campaign, clock.now()), clock.now())
    assert {m for m, _s in where(campaign.id).values()} == {ava.id}
    emailed = Lead.select().where(Lead.campaign == campaign).order_by(Lead.id).first()
    emailed.messages_sent, emailed.cursor = 1, 1  # ava emailed it before Undo was pressed
    emailed.updated_at = clock.advance(seconds=3)
    emailed.save()

    result = undo.undo(done, clock.advance(seconds=1))
    assert (result.restored, result.kept) == (3, 1)
    after = where(campaign.id)
    assert after[emailed.email] == (ava.id, "pending")  # its thread is ava's now
    assert all(after[e] == before[e] for e in before if e != emailed.email)
    assert result.words() == ("Undone: 3 leads are back; 1 lead already got an email from its "
                              "new mailbox and stays there.")


def test_taking_a_healthy_mailbox_out_is_undone(db: Path, clock: FakeClock) -> None:
    ava, ben = make_account("ava@x.example"), make_account("ben@x.example")
    campaign = make_campaign("Q4", [ava, ben])
    make_leads(campaign, ben, 3, prefix="new")
    make_leads(campaign, ben, 2, prefix="old", state="active", cursor=1)
    before = where(campaign.id)

    report, done = undo.edit_campaign_undoably(
        campaign, CampaignEdit(remove_mailboxes=[ben.email]), clock.now())
    assert report.removed == [ben.email] and report.moved_leads == 3
    assert done is not None and done.removed_mailboxes == (ben.id,)
    assert [a.id for a in campaign_accounts(reload(campaign))] == [ava.id]

    result = undo.undo(done, clock.advance(seconds=2))
    assert (result.restored, result.kept) == (5, 0)
    assert where(campaign.id) == before  # the emailed ones continue from ben again
    assert CampaignMailbox.get(CampaignMailbox.campaign == campaign,
                               CampaignMailbox.account == ben).active
    assert reload(campaign).status == "active"
