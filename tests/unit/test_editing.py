"""Editing mailboxes and campaigns (issue 11) without network: bad input changes nothing, sent
steps are history, removing a mailbox offers its leads to the others, an address that came back
after its grace period gets only never-emailed leads."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Campaign, CampaignMailbox, Lead, Step, close_db, open_db
from mailmonitor.services.accounts.adding import AccountSpec, create_account
from mailmonitor.services.accounts.editing import AccountEdit, save_edit, validate_edit
from mailmonitor.services.alerts.reconciler import reconcile
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.campaigns.editing import (
    CampaignEdit,
    edit_campaign,
    parse_auto_reallocate,
    resume_blocker,
)
from mailmonitor.services.campaigns.reallocation import plan_reallocation
from mailmonitor.services.campaigns.rules import CampaignError
from mailmonitor.services.common.validation import InvalidInput
from tests.factories import (
    lead_states,
    make_account,
    make_campaign,
    make_leads,
    record_send,
    reload,
)

Cli = Callable[..., tuple[int, str, str]]
IMAP_SMTP = ["--imap-host", "127.0.0.1", "--imap-port", "1143", "--imap-security", "plain",
             "--smtp-host", "127.0.0.1", "--smtp-port", "1587", "--smtp-security", "starttls"]


# --- accounts edit: bad input ---------------------------------------------------------------

@pytest.fixture
def one_account(cli: Cli) -> str:
    code, _, err = cli("accounts", "add", "--email", "rep@example.com", *IMAP_SMTP,
                       "--daily-limit", "40", "--password-stdin", stdin="pw-123\n")
    assert code == 0, err
    return cli("accounts", "list", "--json")[1]


@pytest.mark.parametrize(("args", "message"), [
    (["nobody@example.com", "--name", "X"], "no account nobody@example.com"),
    (["not-an-address", "--name", "X"], "not a valid email address"),
    (["rep@example.com", "--imap-port", "70000"], "IMAP port 70000 is too large"),
    # 0 is a value out of range, not "nothing to change" (issue 22)
    (["rep@example.com", "--imap-port", "0"], "IMAP port 0 is too small (at least 1)"),
    (["rep@example.com", "--imap-port", "abc"], "invalid int value"),
    (["rep@example.com", "--smtp-security", "tls"], "invalid choice"),
    (["rep@example.com", "--daily-limit", "-1"], "daily limit -1 is too small (at least 0"),
    (["rep@example.com", "--daily-limit", "99999999"], "at most 100,000 emails a day"),
    (["rep@example.com", "--min-gap", "99999999"], "minimum gap"),
    # the same ceiling as `accounts add` (edit allowed a week)
    (["rep@example.com", "--min-gap", "86401"], "minimum gap 86401 is too large (at most "
                                                "86,400 seconds)"),
    (["rep@example.com", "--imap-host", ""], "the IMAP host is empty"),
    (["rep@example.com", "--warmup", ""], "the warm-up is empty"),
    (["rep@example.com", "--warmup", "fast"], "START:STEP"),
    (["rep@example.com", "--ca-file", "/nonexistent.pem"], "does not exist"),
    (["rep@example.com", "--imap-host", "bad host"], "is not a host name or IP address"),
    (["rep@example.com"], "nothing to change"),
])
def test_bad_account_edits_are_one_line_exit_3_and_change_nothing(
        cli: Cli, one_account: str, args: list[str], message: str) -> None:
    code, out, err = cli("accounts", "edit", *args)
    assert code == 3 and out == ""
    assert message in err and err.count("\n") == 1
    assert cli("accounts", "list", "--json")[1] == one_account


def test_sending_settings_and_name_are_edited_without_touching_the_servers(
        cli: Cli, one_account: str) -> None:
    code, out, err = cli("accounts", "edit", "rep@example.com", "--name", "Rep One",
                         "--daily-limit", "25", "--min-gap", "120", "--warmup", "3:2")
    assert code == 0, err
    assert "checked" not in out  # no server setting changed: nothing to re-check
    (row,) = json.loads(cli("accounts", "list", "--json")[1])
    assert (row["name"], row["daily_limit"], row["min_gap_seconds"], row["warmup"]) == \
        ("Rep One", 25, 120, "3:2")
    assert cli("accounts", "edit", "rep@example.com", "--warmup", "off")[0] == 0
    (row,) = json.loads(cli("accounts", "list", "--json")[1])
    assert row["warmup"] is None and row["status"] == "checking"


def test_a_new_password_goes_to_the_keyring_only(db: Path, clock: FakeClock,
                                                 memory_keyring: object) -> None:
    account = create_account(AccountSpec(email="p@example.com", imap_host="imap.example.com",
                                         imap_port=993, smtp_host="smtp.example.com",
                                         smtp_port=465).validated(), "old-pw", clock.now())
    edit = AccountEdit(password="new-secret-pw")
    changes = validate_edit(account, edit)
    result = save_edit(account, changes, "new-secret-pw", clock.now())
    assert result.servers_changed and result.changed == ["password"]
    from mailmonitor.services.auth import secrets

    assert secrets.get_secret("p@example.com", "password") == "new-secret-pw"
    assert b"new-secret-pw" not in db.read_bytes()


# --- campaigns edit --------------------------------------------------------------------------

def steps_file(folder: Path, steps: list[dict[str, object]]) -> str:
    path = folder / "steps-edit.json"
    path.write_text(json.dumps(steps))
    return str(path)


@pytest.mark.parametrize(("args", "message"), [
    (["Nope", "--rename", "X"], "no campaign named 'Nope'"),
    (["C", "--add-mailbox", "ghost@example.com"], "no account ghost@example.com"),
    (["C", "--remove-mailbox", "rep@example.com"], "needs at least one mailbox"),
    (["C", "--window", "mon-fri 9-5"], "sending hours"),
    (["C", "--auto-reallocate", "soon"], "--auto-reallocate 'soon' is not a whole number"),
    (["C", "--auto-reallocate", "99999999"], "at most 43,200 minutes"),
    # 1–43,200 or off: 0 is not "off", and was "nothing changed" with exit 0 (issue 22)
    (["C", "--auto-reallocate", "0"], "--auto-reallocate 0 is too small (at least 1 minute)"),
    (["C", "--auto-reallocate", ""], "--auto-reallocate is empty"),
    (["C", "--rename", "  "], "the campaign name is empty"),
    (["C", "--window", ""], "the sending window is empty"),
    (["C", "--steps", ""], "the steps file (--steps) is empty"),
    (["C", "--add-mailbox", "rep@example.com"], "already sends for"),
    (["C"], "nothing to change"),
])
def test_bad_campaign_edits_are_one_line_exit_3_and_change_nothing(
        cli: Cli, one_account: str, data_dir: Path, args: list[str], message: str) -> None:
    path = steps_file(data_dir, [{"subject": "Hi", "body": "B", "delay_days": 0}])
    assert cli("campaigns", "create", "C", "--mailbox", "rep@example.com", "--steps", path)[0] \
        == 0
    before = cli("campaigns", "list", "--json")[1]
    code, out, err = cli("campaigns", "edit", *args)
    assert code == 3 and out == ""
    assert message in err and err.count("\n") == 1
    assert cli("campaigns", "list", "--json")[1] == before


def test_rename_window_and_auto_reallocate_are_stored(cli: Cli, one_account: str,
                                                      data_dir: Path) -> None:
    path = steps_file(data_dir, [{"subject": "Hi", "body": "B", "delay_days": 0}])
    assert cli("campaigns", "create", "C", "--mailbox", "rep@example.com", "--steps", path)[0] \
        == 0
    code, out, err = cli("campaigns", "edit", "C", "--rename", "Q1 outreach", "--window",
                         "mon-fri 09:00-17:00 Europe/Berlin", "--auto-reallocate", "15")
    assert code == 0, err
    assert "renamed to 'Q1 outreach'" in out and "sending window changed" in out
    open_db(data_dir / "mailmonitor.sqlite3")
    try:
        campaign = Campaign.get()
        assert campaign.name == "Q1 outreach"
        assert campaign.window == {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00",
                                   "tz": "Europe/Berlin"}
        assert campaign.auto_reallocate_minutes == 15
    finally:
        close_db()
    assert cli("campaigns", "edit", "Q1 outreach", "--auto-reallocate", "off",
               "--window", "always")[0] == 0
    open_db(data_dir / "mailmonitor.sqlite3")
    try:
        assert (Campaign.get().auto_reallocate_minutes, Campaign.get().window) == (None, None)
    finally:
        close_db()


def test_a_sent_steps_text_is_history_and_needs_confirming(db: Path, clock: FakeClock) -> None:
    box = make_account("a@example.com")
    campaign = make_campaign("C", [box], steps=3)
    ids = make_leads(campaign, box, 2, cursor=1, next_due_at=clock.now() + timedelta(days=2))
    for lead_id in ids:
        record_send(Lead.get_by_id(lead_id), box, clock.now(), step=0)
    steps = [{"subject": s.subject, "body": s.body, "delay_days": s.delay_days}
             for s in Step.select().where(Step.campaign == campaign).order_by(Step.position)]

    changed_first = [{**steps[0], "body": "New opener"}, *steps[1:]]
    with pytest.raises(CampaignError, match="step 1 was already sent"):
        edit_campaign(campaign, CampaignEdit(steps=changed_first), clock.now())
    assert Step.get(Step.campaign == campaign, Step.position == 0).body == "Body 1"

    report = edit_campaign(campaign, CampaignEdit(steps=changed_first), clock.now(),
                           confirm_sent_steps=True)
    assert report.sent_steps_changed == [1]
    assert Step.get(Step.campaign == campaign, Step.position == 0).body == "New opener"

    # A step nobody reached is edited freely; its new delay reschedules the waiting leads.
    later = [*changed_first[:1], {**steps[1], "body": "Nudge", "delay_days": 5}, steps[2]]
    report = edit_campaign(campaign, CampaignEdit(steps=later), clock.now())
    assert report.steps_changed == [2] and report.sent_steps_changed == []
    assert {lead.next_due_at for lead in Lead.select()} == {clock.now() + timedelta(days=5)}

    # Sent steps cannot be removed; unreached ones can (leads then have had every step).
    with pytest.raises(InvalidInput, match="steps 1-1 were already sent"):
        edit_campaign(campaign, CampaignEdit(steps=[]), clock.now())
    report = edit_campaign(campaign, CampaignEdit(steps=later[:1]), clock.now())
    assert report.steps_removed == 2 and report.completed_leads == 2
    assert lead_states(campaign) == {"completed": 2}


def test_removing_a_mailbox_moves_its_never_emailed_leads_and_keeps_the_emailed_waiting(
        db: Path, clock: FakeClock) -> None:
    a, b = make_account("a@example.com"), make_account("b@example.com")
    campaign = make_campaign("C", [a, b])
    make_leads(campaign, a, 3, prefix="fresh")
    emailed = make_leads(campaign, a, 2, prefix="emailed", cursor=1)
    for lead_id in emailed:
        record_send(Lead.get_by_id(lead_id), a, clock.now(), step=0)
    report = edit_campaign(campaign, CampaignEdit(remove_mailboxes=["a@example.com"]),
                           clock.now())
    assert report.removed == ["a@example.com"] and report.moved_leads == 3
    assert report.waiting_leads == 2
    assert {(lead.mailbox_id, lead.state) for lead in Lead.select()} == \
        {(b.id, "pending"), (a.id, "halted")}
    assert not CampaignMailbox.select().where(CampaignMailbox.account == a).exists()
    # a later reconnect within a grace period does not bring it back into this campaign
    lifecycle.disconnect(reload(a), clock.now())
    lifecycle.reconnected(reload(a), clock.now())
    assert not CampaignMailbox.select().where(CampaignMailbox.account == a).exists()


def test_an_address_back_after_its_grace_period_gets_only_never_emailed_leads(
        db: Path, clock: FakeClock) -> None:
    old, other = make_account("old@example.com"), make_account("other@example.com",
                                                                status="disconnected")
    campaign = make_campaign("C", [old, other])
    mine = make_leads(campaign, old, 2, prefix="mine", cursor=1)
    for lead_id in mine:
        record_send(Lead.get_by_id(lead_id), old, clock.now(), step=0)
    lifecycle.disconnect(old, clock.now())
    reconcile(clock.now())  # the background loop: the stop warning reaches the rep
    clock.advance(hours=2)
    lifecycle.expire_grace_periods(clock.now())
    assert lead_states(campaign) == {"campaign_stopped": 2}
    # Meanwhile the other mailbox emailed leads of its own and broke.
    theirs = make_leads(campaign, other, 2, prefix="theirs", cursor=1, state="halted")
    for lead_id in theirs:
        record_send(Lead.get_by_id(lead_id), other, clock.now(), step=0)
    make_leads(campaign, other, 3, prefix="fresh", state="halted")

    lifecycle.reconnected(reload(old), clock.now())  # the same address, connected again
    assert reload(old).rejoined_at == clock.now()
    assert resume_blocker(reload(campaign)) is not None  # it left the campaign for good
    edit_campaign(campaign, CampaignEdit(add_mailboxes=["old@example.com"]), clock.now())
    assert resume_blocker(reload(campaign)) is None
    plan = plan_reallocation(reload(campaign), clock.now(), include_contacted=True)
    assert plan.counts() == {old.id: 3}  # only the never-emailed ones
    assert plan.kept_contacted == 2


def test_resume_says_why_it_cannot_send(db: Path) -> None:
    broken = make_account("x@example.com", status="disconnected")
    campaign = make_campaign("C", [broken], status="paused", pause_reason="no_active_mailbox")
    assert "reconnect one, or add a connected mailbox" in (resume_blocker(campaign) or "")
    assert resume_blocker(make_campaign("Empty")) == \
        "This campaign has no mailbox: add one (Edit campaign…)."
    assert resume_blocker(make_campaign("OK", [make_account("y@example.com")])) is None


def test_auto_reallocate_values() -> None:
    assert parse_auto_reallocate("off") is None
    assert parse_auto_reallocate("15") == 15
    with pytest.raises(InvalidInput):
        parse_auto_reallocate("0.5")


def test_adding_a_disconnected_address_again_connects_it_with_the_new_settings(
        db: Path, clock: FakeClock) -> None:
    box = make_account("two@example.com", daily_limit=80)
    campaign = make_campaign("C", [box])
    make_leads(campaign, box, 2)
    lifecycle.disconnect(box, clock.now())
    clock.advance(minutes=10)
    spec = AccountSpec(email="two@example.com", imap_host="imap.new.example", imap_port=993,
                       smtp_host="smtp.new.example", smtp_port=465, daily_limit=30).validated()
    again = create_account(spec, "pw", clock.now())
    assert again.id == box.id
    stored = reload(box)
    assert (stored.imap_host, stored.daily_limit, stored.status) == \
        ("imap.new.example", 30, "checking")
    assert stored.detached_at is None and stored.rejoined_at is None  # within the grace period
    assert CampaignMailbox.get(CampaignMailbox.account == box).active
    with pytest.raises(InvalidInput, match="already added"):
        create_account(spec, "pw", clock.now())
    assert Account.select().count() == 1


def test_the_command_line_connects_a_disconnected_address_again(cli: Cli, one_account: str
                                                                ) -> None:
    assert cli("accounts", "disconnect", "rep@example.com")[0] == 0
    code, out, err = cli("accounts", "add", "--email", "rep@example.com", *IMAP_SMTP,
                         "--daily-limit", "20", "--password-stdin", stdin="new-pw\n")
    assert code == 0, err
    assert out.startswith("Connected again: rep@example.com")
    (row,) = json.loads(cli("accounts", "list", "--json")[1])
    assert (row["status"], row["daily_limit"], row["grace_until"]) == ("checking", 20, None)
    code, _, err = cli("accounts", "add", "--email", "rep@example.com", *IMAP_SMTP)
    assert code == 3 and "already added" in err and "accounts edit" in err


@pytest.mark.parametrize(("steps", "message"), [
    ('[{"subject": "Hi", "body": "B", "delay_days": 1e300}]',
     "is too large (at most 3,650 days)"),
    ('[{"subject": "Hi", "body": "B", "delay_days": NaN}]', "delay_days nan is not a number"),
    ('[{"subject": "Hi", "body": "B", "delay_days": -1}]', "is too small (at least 0 days)"),
    ("[" + ",".join(['{"subject": "Hi", "body": "B"}'] * 101) + "]", "is too many (at most 100)"),
])
def test_steps_no_calendar_can_hold_are_refused(cli: Cli, one_account: str, data_dir: Path,
                                                steps: str, message: str) -> None:
    good = steps_file(data_dir, [{"subject": "Hi", "body": "B", "delay_days": 0}])
    assert cli("campaigns", "create", "C", "--mailbox", "rep@example.com", "--steps", good)[0] \
        == 0
    bad = data_dir / "bad-steps.json"
    bad.write_text(steps)
    before = cli("campaigns", "list", "--json")[1]
    code, _, err = cli("campaigns", "edit", "C", "--steps", str(bad))
    assert code == 3 and message in err and err.count("\n") == 1
    assert cli("campaigns", "list", "--json")[1] == before
