"""One vocabulary (issue 23): the command line's text output and the window say the same words
for the same states — mailbox statuses and reasons (a stopped mailbox says why), campaign
statuses with why they are paused, lead states and where a lead is in its sequence — while
`--json` keeps its machine values."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from mailmonitor.clock import FakeClock
from mailmonitor.models import Lead
from mailmonitor.models.states import CampaignStatus, LeadState, Status
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.campaigns.rules import pause_campaign
from mailmonitor.services.common import vocabulary
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.ui.models import AccountsModel, CampaignsModel, LeadsModel
from mailmonitor.ui.palette import CAMPAIGN_LOOKS, LEAD_STATE_LABELS, STATUS_LOOKS
from tests.factories import make_account, make_campaign, make_leads, reload

pytestmark = pytest.mark.ui

CLI = Callable[..., tuple[int, str, str]]


def display(model: object, row: int, column: int) -> str:
    value = model.index(row, column).data(Qt.ItemDataRole.DisplayRole)  # type: ignore[attr-defined]
    return str(value)


def line_of(out: str, key: str) -> str:
    found = [line for line in out.splitlines() if line.split() and line.split()[0] == key]
    assert len(found) == 1, f"{key} not in:\n{out}"
    return found[0]


def test_the_command_line_and_the_window_say_the_same_words(
        db: Path, clock: FakeClock, cli: CLI, qapp: QApplication) -> None:
    now = clock.now()
    ava = make_account("ava@northwind.example")
    eve = make_account("eve@fieldsales.example")
    cleo = make_account("cleo@northwind.example")
    finn = make_account("finn@northwind.example")
    update_status(eve, "warning", "timeout", "no greeting within 20 s", now)
    update_status(cleo, "disconnected", "invalid_credentials", "NO [AUTHENTICATIONFAILED]", now)
    lifecycle.disconnect(reload(finn), now)

    q4 = make_campaign("Q4", [ava])
    webinar = make_campaign("Webinar", [ava])
    pause_campaign(webinar, now)
    stuck = make_campaign("Stuck", [reload(cleo)])
    stuck.status, stuck.pause_reason = CampaignStatus.PAUSED, "no_active_mailbox"
    stuck.save()
    make_campaign("Spring", [ava], status="draft")
    make_campaign("Done", [ava], status="completed")
    for n, state in enumerate(LeadState):
        make_leads(q4, ava, 1, prefix=f"l{n}", state=state.value, cursor=min(n, 3))

    # The window's words, read from its models as they are shown.
    accounts = AccountsModel(clock)
    window_mailboxes = {
        display(accounts, r, AccountsModel.ADDRESS): (
            display(accounts, r, AccountsModel.STATUS), display(accounts, r, AccountsModel.REASON))
        for r in range(accounts.rowCount())}
    campaigns = CampaignsModel(with_lead_counts=False)
    window_campaigns = {display(campaigns, r, CampaignsModel.NAME):
                        display(campaigns, r, CampaignsModel.STATUS)
                        for r in range(campaigns.rowCount())}
    window_members = {display(campaigns, r, CampaignsModel.NAME):
                      display(campaigns, r, CampaignsModel.MAILBOXES)
                      for r in range(campaigns.rowCount())}
    leads = LeadsModel(q4.id, clock)
    window_leads = {display(leads, r, LeadsModel.EMAIL): (
        display(leads, r, LeadsModel.STEP), display(leads, r, LeadsModel.STATE))
        for r in range(leads.rowCount())}
    assert window_mailboxes["finn@northwind.example"] == ("Stopped",
                                                          "You disconnected this mailbox")
    assert window_mailboxes["eve@fieldsales.example"] == ("Retrying", "Retrying: timed out")
    assert window_campaigns["Webinar"] == "Paused by you"
    assert window_campaigns["Stuck"] == "Paused: no mailbox can send"

    # The command line prints them in the same words, on each one's line.
    code, out, _err = cli("accounts", "list")
    assert code == 0
    for email, (status, reason) in window_mailboxes.items():
        line = line_of(out, email)
        assert status in line and (reason == vocabulary.NO_REASON or reason in line), line
    shown = {line.split()[1] for line in out.splitlines()}  # the status column
    assert shown == {"Connected", "Retrying", "Disconnected", "Stopped"}  # no machine words
    code, out, _err = cli("campaigns", "list")
    for name, status in window_campaigns.items():
        line = line_of(out, name)
        assert status in line, line
        connected, total = window_members[name].removesuffix(" connected").split(" of ")
        assert f"{connected} of {total} mailbox" in line and "connected" in line, line
    assert "no_active_mailbox" not in out and "(user)" not in out
    code, out, _err = cli("leads", "list", "Q4")
    for email, (step, state) in window_leads.items():
        line = line_of(out, email)
        assert step in line and state in line, line
    assert "Step 2 of 3" in out and "In sequence" in out

    # --json keeps the machine values.
    rows = json.loads(cli("accounts", "list", "--json")[1])
    assert {r["email"]: r["status"] for r in rows}["eve@fieldsales.example"] == "warning"
    rows = json.loads(cli("campaigns", "list", "--json")[1])
    assert {r["name"]: r["pause_reason"] for r in rows}["Stuck"] == "no_active_mailbox"
    rows = json.loads(cli("leads", "list", "Q4", "--json")[1])
    assert {r["state"] for r in rows} == {s.value for s in LeadState}


def test_every_state_has_one_word_and_the_window_uses_it() -> None:
    for status in Status:
        assert STATUS_LOOKS[status].label == vocabulary.status_words(status)
    for state in LeadState:
        assert LEAD_STATE_LABELS[state] == vocabulary.lead_words(state) != state.value
    for status in CampaignStatus:
        assert CAMPAIGN_LOOKS[status].label == vocabulary.campaign_words(status).split()[0]
    assert vocabulary.step_words(0, 3) == "Step 1 of 3"
    assert vocabulary.step_words(3, 3) == "Step 3 of 3"  # every step sent: the last one
    assert vocabulary.reason_words("stopped", None) == "You disconnected this mailbox"


def test_plurals_and_empty_lists_on_the_command_line(
        db: Path, cli: CLI, tmp_path: Path) -> None:
    ava = make_account("ava@northwind.example")
    cleo = make_account("cleo@northwind.example")
    update_status(cleo, "disconnected", "invalid_credentials", "NO", reload(cleo).created_at)
    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps([{"subject": "Hi", "body": "Hello", "delay_days": 0}]))
    code, out, _err = cli("campaigns", "create", "Test", "--mailbox", ava.email, "--steps",
                          str(steps))
    assert code == 0 and "with 1 step" in out and "1 steps" not in out
    code, _out, err = cli("campaigns", "create", "test", "--mailbox", ava.email, "--steps",
                          str(steps))
    assert code == 3 and "a campaign named 'Test' already exists" in err  # one name, any case
    code, out, _err = cli("campaigns", "create", "Only broken", "--mailbox", cleo.email,
                          "--steps", str(steps))
    assert code == 0 and vocabulary.WAITING_FOR_A_MAILBOX in out  # active, but says it waits
    code, out, _err = cli("leads", "list", "Test")
    assert code == 0 and "No leads in 'Test' yet" in out  # never nothing at all
    code, out, _err = cli("notify", "list")
    assert code == 0 and "No alert channels yet" in out
    code, out, _err = cli("campaigns", "pause", "TEST")  # found whatever the case
    assert code == 0 and "Paused 'Test'" in out
    assert Lead.select().count() == 0


def test_times_and_percentages_only_where_measured(db: Path, clock: FakeClock,
                                                    qapp: QApplication) -> None:
    from datetime import timedelta

    from mailmonitor.services.monitoring.account_state import record_check
    from mailmonitor.services.monitoring.uptime import first_check_at, uptimes
    from mailmonitor.ui.models.leads import DUE_NOW
    from mailmonitor.ui.status_timeline import uptime_words
    from tests.factories import probe_fail, probe_ok

    ava = make_account("ava@northwind.example")
    campaign = make_campaign("Q4", [ava])
    make_leads(campaign, ava, 1, prefix="late", state="active", cursor=1,
               next_due_at=clock.now() - timedelta(minutes=9))  # waiting out the gap
    make_leads(campaign, ava, 1, prefix="later", state="active", cursor=1,
               next_due_at=clock.now() + timedelta(hours=2))
    leads = LeadsModel(campaign.id, clock)
    due = {display(leads, r, LeadsModel.EMAIL).split("@")[0]:
           display(leads, r, LeadsModel.NEXT_DUE) for r in range(leads.rowCount())}
    assert due["late0"] == DUE_NOW  # never a time already past
    assert due["later0"][:2] == "20" and ":" in due["later0"]

    # One check: no percentage at all (not "30 days 0.0 %").
    record_check(reload(ava), probe_fail("timeout", "no answer"), probe_ok(), clock.now())
    now = clock.now()
    one = uptime_words(uptimes([reload(ava)], now)[ava.id], first_check_at(ava.id), now)
    assert one == "Uptime: not enough history yet"
    # Two days of checks: the 24 hours are measured, the rest since the first check.
    for _ in range(2 * 24 * 12):
        record_check(reload(ava), probe_ok(), probe_ok(), clock.advance(minutes=5))
    now = clock.now()
    words = uptime_words(uptimes([reload(ava)], now)[ava.id], first_check_at(ava.id), now)
    assert words.startswith("Connected: 24 h 100.0 % · since ")
    assert "7 days" not in words and "30 days" not in words
