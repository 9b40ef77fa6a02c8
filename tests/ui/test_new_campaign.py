"""Creating a campaign and importing leads from the window (not only the command line), and
editing a mailbox's sender name and signature."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qasync
import shiboken6
from PySide6.QtCore import QTime
from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from mailmonitor.models import Account, Campaign, CampaignMailbox, Lead, Step
from mailmonitor.ui.account_detail import AccountDetailDialog
from mailmonitor.ui.main_window import MainWindow
from mailmonitor.ui.new_campaign import NewCampaignDialog
from tests.factories import make_account, make_campaign, make_leads, reload
from tests.ui.helpers import run

pytestmark = pytest.mark.ui

LEADS_CSV = """email,first_name,company
ada@acme.example,Ada,Acme
grace@globex.example,Grace,Globex
linus@initech.example,Linus,Initech
margaret@hooli.example,,Hooli
alan@stark.example,Alan,Stark
"""

BAD_CSV = """email,first_name
ok@acme.example,Ok
not-an-address,Bad
fine@globex.example,Fine
"""


@pytest.fixture
def mailboxes(db: Path) -> list[Account]:
    return [make_account("ava@northwind.example", daily_limit=100),
            make_account("ben@northwind.example", daily_limit=100),
            make_account("cleo@northwind.example", status="disconnected",
                         reason="invalid_credentials")]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def open_dialog(window: MainWindow) -> NewCampaignDialog:
    window.new_campaign_action.trigger()
    dialog = window.new_campaign_dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def fill(dialog: NewCampaignDialog, name: str, emails: list[str], subject: str = "Hi") -> None:
    dialog.name.setText(name)
    dialog.set_mailboxes(emails)
    dialog.steps.set_current(0)
    dialog.steps.subject.setText(subject)
    dialog.steps.body.setPlainText("Hello {{first_name|there}}")


def closed(dialog: QWidget) -> bool:
    """Closed (a dialog with WA_DeleteOnClose may already be gone)."""
    return not shiboken6.isValid(dialog) or not dialog.isVisible()


def error_text(dialog: NewCampaignDialog) -> str:
    assert dialog.error.isVisible()
    return dialog.error.text.text()


def form_value(form: QFormLayout, label: str) -> str:
    for row in range(form.rowCount()):
        name = form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget()
        field = form.itemAt(row, QFormLayout.ItemRole.FieldRole).widget()
        if isinstance(name, QLabel) and name.text() == label and isinstance(field, QLabel):
            return field.text()
    raise AssertionError(f"no row {label!r}")


def test_create_campaign_with_steps_window_and_leads(
        mailboxes: list[Account], make_window: Callable[..., MainWindow],
        qloop: qasync.QEventLoop, settle: Callable[[], None], tmp_path: Path,
        qtbot: Any) -> None:
    ava, ben, _cleo = mailboxes
    window = make_window()
    window.show()
    assert {a.text(): a.shortcut().toString() for a in window.actions()}[
        "New campaign"] == "Ctrl+Shift+N"
    dialog = open_dialog(window)
    # Every mailbox is offered, with its status in words.
    labels = [dialog.mailboxes.item(i).text() for i in range(dialog.mailboxes.count())]
    assert labels == ["ava@northwind.example — Connected", "ben@northwind.example — Connected",
                      "cleo@northwind.example — Invalid Credentials"]
    assert "{{first_name|there}}" in dialog.steps.hint.text()

    qtbot.keyClicks(dialog.name, "Q1 logistics")
    dialog.set_mailboxes([ava.email, ben.email])
    steps = dialog.steps
    assert not steps.delay.isEnabled()  # step 1 goes out first: no delay
    qtbot.keyClicks(steps.subject, "Quick question, {{first_name|there}}")
    steps.body.setPlainText("Hi {{first_name|there}},\n\nDoes {{company}} ship weekly?")
    steps.add_button.click()
    assert steps.current() == 1 and steps.delay.isEnabled() and steps.delay.value() == 3
    steps.body.setPlainText("Just bumping this up.")
    steps.delay.setValue(4)
    assert steps.list.item(1).text() == "2. +4 days · Reply in thread"
    editor = dialog.window_editor
    assert editor.limited.isChecked()
    editor.set_days(["mon", "tue", "wed", "thu", "fri"])
    editor.start.setTime(QTime(8, 30))
    editor.end.setTime(QTime(17, 0))
    editor.zone.setCurrentText("Europe/Berlin")
    dialog.csv_path.setText(str(write(tmp_path, "leads.csv", LEADS_CSV)))
    dialog.create_button.click()
    run(qloop, window)
    settle()

    assert closed(dialog)
    campaign = Campaign.get(Campaign.name == "Q1 logistics")
    assert campaign.status == "active"
    assert campaign.window == {"days": [0, 1, 2, 3, 4], "start": "08:30", "end": "17:00",
                               "tz": "Europe/Berlin"}
    stored = [(s.position, s.subject, s.body, s.delay_days)
              for s in Step.select().where(Step.campaign == campaign).order_by(Step.position)]
    assert stored == [
        (0, "Quick question, {{first_name|there}}",
         "Hi {{first_name|there}},\n\nDoes {{company}} ship weekly?", 0.0),
        (1, "", "Just bumping this up.", 4.0)]
    members = {m.account_id for m in CampaignMailbox.select().where(
        CampaignMailbox.campaign == campaign)}
    assert members == {ava.id, ben.id}
    leads = list(Lead.select().where(Lead.campaign == campaign))
    assert len(leads) == 5
    assert {lead.mailbox_id for lead in leads} == {ava.id, ben.id}  # inbox rotation
    assert all(lead.state == "pending" for lead in leads)
    grace = next(lead for lead in leads if lead.email == "grace@globex.example")
    assert grace.fields == {"first_name": "Grace", "company": "Globex"}

    # The window shows it: Campaigns tab, the new row selected, its leads listed.
    assert window.tabs.currentIndex() == 1
    assert window.campaigns_tab.campaign_view.campaign_id == campaign.id
    current = window.campaigns_tab.view.currentIndex()
    assert current.isValid() and current.siblingAtColumn(0).data() == "Q1 logistics"
    qtbot.waitUntil(lambda: window.campaigns_tab.campaign_view.leads.total() == 5, timeout=2000)
    assert "5 leads" in window.statusBar().currentMessage()


def test_steps_editor_add_move_remove(mailboxes: list[Account],
                                      make_window: Callable[..., MainWindow]) -> None:
    dialog = open_dialog(make_window())
    steps = dialog.steps
    steps.subject.setText("First")
    steps.add_step("Second", "b2", 2)
    steps.add_step("Third", "b3", 5)
    steps.move_step(-1)  # Third before Second
    assert [s["subject"] for s in steps.steps()] == ["First", "Third", "Second"]
    assert steps.subject.text() == "Third" and steps.current() == 1
    steps.set_current(1)
    steps.move_step(-1)  # Third first: its delay no longer counts
    assert [(s["subject"], s["delay_days"]) for s in steps.steps()] == [
        ("Third", 0.0), ("First", 0.0), ("Second", 2.0)]
    assert not steps.delay.isEnabled() and not steps.up_button.isEnabled()
    steps.remove_step()
    assert [s["subject"] for s in steps.steps()] == ["First", "Second"]
    steps.remove_step()
    assert [s["subject"] for s in steps.steps()] == ["Second"]
    assert not steps.remove_button.isEnabled()  # a campaign keeps at least one step
    steps.remove_step()
    assert len(steps.steps()) == 1


def test_bad_input_creates_nothing(
        mailboxes: list[Account], make_window: Callable[..., MainWindow],
        qloop: qasync.QEventLoop, settle: Callable[[], None], tmp_path: Path) -> None:
    ava, ben, _cleo = mailboxes
    make_campaign("Existing", [ava])
    window = make_window()
    dialog = open_dialog(window)

    def attempt() -> str:
        dialog.create_button.click()
        run(qloop, window)
        settle()
        assert dialog.isVisible()
        assert Campaign.select().count() == 1
        assert Lead.select().count() == 0
        return error_text(dialog)

    fill(dialog, "", [ava.email])
    assert "The campaign needs a name." in attempt()
    fill(dialog, "Existing", [ava.email])
    assert "A campaign named 'Existing' already exists." in attempt()
    fill(dialog, "Fresh", [])
    assert "Tick at least one mailbox" in attempt()
    fill(dialog, "Fresh", [ava.email, ben.email], subject="  ")
    assert "Step 1 needs a subject." in attempt()
    fill(dialog, "Fresh", [ava.email, ben.email])
    dialog.window_editor.set_days([])
    assert "Tick at least one weekday" in attempt()
    dialog.window_editor.set_days(["mon"])
    dialog.window_editor.zone.setCurrentText("Mars/Olympus")
    assert "Unknown time zone 'Mars/Olympus'" in attempt()
    dialog.window_editor.always.setChecked(True)
    dialog.csv_path.setText(str(write(tmp_path, "bad.csv", BAD_CSV)))
    text = attempt()
    assert "The campaign was not created, because its leads could not be imported" in text
    assert "line 3: 'not-an-address' is not a valid email address" in text
    assert Campaign.get_or_none(Campaign.name == "Fresh") is None
    assert Step.select().count() == 3  # only the existing campaign's

    # Fixed: the same dialog creates it.
    dialog.csv_path.setText(str(write(tmp_path, "good.csv", LEADS_CSV)))
    dialog.create_button.click()
    run(qloop, window)
    settle()
    assert closed(dialog)
    fresh = Campaign.get(Campaign.name == "Fresh")
    assert fresh.window is None  # always
    assert Lead.select().where(Lead.campaign == fresh).count() == 5


def test_draft_without_leads(mailboxes: list[Account], make_window: Callable[..., MainWindow],
                             qloop: qasync.QEventLoop, settle: Callable[[], None]) -> None:
    window = make_window()
    dialog = open_dialog(window)
    fill(dialog, "Later", [mailboxes[0].email])
    dialog.start_now.setChecked(False)
    dialog.create_button.click()
    run(qloop, window)
    settle()
    campaign = Campaign.get(Campaign.name == "Later")
    assert campaign.status == "draft"
    assert Lead.select().count() == 0
    assert window.campaigns_tab.campaign_view.resume_button.text() == "Start"


def test_campaign_button_in_campaigns_tab(mailboxes: list[Account],
                                          make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    window.campaigns_tab.new_campaign_button.click()
    assert window.new_campaign_dialog is not None
    assert window.new_campaign_dialog.isVisible()
    window.new_campaign_dialog.reject()


def test_import_leads_from_campaign_view(
        mailboxes: list[Account], make_window: Callable[..., MainWindow],
        qloop: qasync.QEventLoop, settle: Callable[[], None], tmp_path: Path,
        qtbot: Any) -> None:
    ava, ben, _cleo = mailboxes
    campaign = make_campaign("Q4 outreach", [ava, ben])
    make_leads(campaign, ava, 2, prefix="old", cursor=1)
    window = make_window()
    window.show()
    window.tabs.setCurrentIndex(1)
    window.select_campaign(campaign.id)
    view = window.campaigns_tab.campaign_view
    assert view.campaign_id == campaign.id and view.import_button.isEnabled()

    picker = view.browse_leads()
    assert picker is not None and picker.isVisible()  # opened with open(): nothing blocks
    picker.reject()

    csv = write(tmp_path, "more.csv", "email,first_name\nold0@leads.example,Olga\n"
                "new1@acme.example,Nia\nnew2@acme.example,Ned\nnew3@acme.example,Noor\n")
    view.import_file(csv)
    assert not view.import_button.isEnabled()
    run(qloop, window)
    settle()
    assert view.import_banner.isVisible()
    assert view.import_banner.property("severity") == "ok"
    assert view.import_banner.text.text() == (
        "Imported 3 leads; 1 already there kept their place (fields updated).")
    assert Lead.select().where(Lead.campaign == campaign).count() == 5
    old = Lead.get(Lead.email == "old0@leads.example")
    assert (old.cursor, old.mailbox_id, old.fields["first_name"]) == (1, ava.id, "Olga")
    qtbot.waitUntil(lambda: view.leads.total() == 5, timeout=2000)

    view.import_file(write(tmp_path, "bad.csv", BAD_CSV))
    run(qloop, window)
    settle()
    assert view.import_banner.property("severity") == "error"
    text = view.import_banner.text.text()
    assert "No lead was imported" in text and "line 3" in text
    assert Lead.select().where(Lead.campaign == campaign).count() == 5
    assert view.import_button.isEnabled()


def test_edit_sender_name_and_signature(
        mailboxes: list[Account], make_window: Callable[..., MainWindow],
        settle: Callable[[], None]) -> None:
    ava = mailboxes[0]
    window = make_window()
    detail: AccountDetailDialog = window.open_account(ava.id)
    detail.sender_button.click()
    sender = detail.sender_dialog
    assert sender is not None and sender.isVisible()
    assert sender.name.text() == "Ava"
    sender.name.setText("  Ava Stone ")
    sender.signature.setPlainText("Ava Stone\nAccount Executive, Northwind\n")
    sender.save_button.click()
    settle()
    assert closed(sender)
    stored = reload(ava)
    assert stored.name == "Ava Stone"
    assert stored.signature == "Ava Stone\nAccount Executive, Northwind"
    assert form_value(detail.settings, "Sender name") == "Ava Stone"
    assert form_value(detail.settings, "Signature") == "Ava Stone\nAccount Executive, Northwind"
    assert detail.title.text() == "Ava Stone <ava@northwind.example>"

    detail.sender_button.click()
    assert detail.sender_dialog is not None
    detail.sender_dialog.signature.setPlainText("ignored")
    detail.sender_dialog.reject()  # Cancel keeps what was stored
    assert reload(ava).signature == "Ava Stone\nAccount Executive, Northwind"
