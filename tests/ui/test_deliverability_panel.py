"""The account detail's Deliverability tab in the window (offscreen) against real servers: the
"Test sending and receiving" button runs the round trip through Dovecot in a worker thread and
shows where the email landed; a mailbox paused for bounces shows why and resumes with one
click; "Check DNS now" asks the loopback DNS server and lists what to fix."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import qasync

from mailmonitor.models import Account, Alert, Check, set_setting
from mailmonitor.services.alerts.reconciler import reconcile
from mailmonitor.services.deliverability import holds
from mailmonitor.ui.account_detail import AccountDetailDialog
from mailmonitor.ui.main_window import MainWindow
from tests.integration.mailboxes import dovecot_account
from tests.integration.test_round_trip import delivering
from tests.servers.dns_server import DnsServer
from tests.ui.helpers import run

pytestmark = [pytest.mark.ui, pytest.mark.integration]
__all__ = ["delivering"]  # the Dovecot + delivering sink fixture

# docs/screenshots/34-account-deliverability.png comes from this test with
# MAILMONITOR_SCREENSHOTS=docs/screenshots; otherwise the picture goes to a temporary folder.
SHOTS_ENV = "MAILMONITOR_SCREENSHOTS"


def open_tab(make_window: Callable[..., MainWindow], account: Account
             ) -> tuple[MainWindow, AccountDetailDialog]:
    window = make_window(use_tray=False)
    dialog = AccountDetailDialog(window.ctx, account.id, window)
    dialog.tabs.setCurrentWidget(dialog.deliverability)
    dialog.show()
    return window, dialog


def test_test_sending_and_receiving_shows_where_the_email_landed(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        delivering: Any, settle: Callable[[], None]) -> None:
    server, sink = delivering
    sink.spam_words(b"automatic test from mailmonitor")
    account = dovecot_account(server, server.new_user())
    window, dialog = open_tab(make_window, account)
    panel = dialog.deliverability
    assert "Not tested yet" in panel.round_trip_result.text()
    panel.round_trip_button.click()
    assert not panel.round_trip_button.isEnabled()
    run(qloop, window)
    settle()
    assert panel.round_trip_button.isEnabled()
    assert "arrived in the spam folder (Junk)" in panel.round_trip_result.text()
    assert Check.get(Check.trigger == "round_trip").round_trip["outcome"] == "spam"
    assert Alert.get(Alert.kind == "round_trip_failed").resolved_at is None
    sink.deliver_all()
    panel.round_trip_button.click()
    run(qloop, window)
    settle()
    assert "arrived in the Inbox" in panel.round_trip_result.text()
    dialog.close()


def test_a_paused_mailbox_says_why_and_resumes_and_dns_lists_what_to_fix(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        delivering: Any, settle: Callable[[], None], tmp_path: Path) -> None:
    server, _sink = delivering
    account = dovecot_account(server, server.new_user())
    holds.place_hold(account, "high_bounce_rate", "4 of the last 20 emails bounced (20.0 %). "
                     "Bounced: a@x.example, b@x.example", datetime(2026, 11, 23, 9))
    with DnsServer({"example.test": [("TXT", "v=spf1 include:mailgun.org ~all")]}) as dns:
        set_setting("dns_resolver", dns.address)
        window, dialog = open_tab(make_window, account)
        panel = dialog.deliverability
        assert panel.resume_button.isVisibleTo(panel)
        assert "Paused: high bounce rate" in panel.hold_text.text()
        assert "a@x.example" in panel.hold_text.text()
        panel.selector.setText("mm1")
        panel.dns_button.click()
        run(qloop, window)
        settle()
        spf = panel.findChild(type(panel.hold_text), "dnsSPF")
        assert spf is not None and "does not authorise" in spf.text()
        dmarc = panel.findChild(type(panel.hold_text), "dnsDMARC")
        assert dmarc is not None and "_dmarc.example.test" in dmarc.text()
        assert panel.findChild(type(panel.hold_text), "dnsDKIMStatus").text() == "DKIM: Missing"
        assert ("mm1._domainkey.example.test.", "TXT") in dns.queries
        shots = Path(os.environ.get(SHOTS_ENV) or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        dialog.resize(760, 720)
        settle()
        assert dialog.grab().save(str(shots / "34-account-deliverability.png"))

        panel.resume_button.click()
        settle()
        assert Account.get_by_id(account.id).status == "connected"
        assert not panel.resume_button.isVisibleTo(panel)
        dialog.close()


def test_the_alert_of_a_paused_mailbox_offers_resume_sending_not_reconnect(
        db: Path, make_window: Callable[..., MainWindow], settle: Callable[[], None]) -> None:
    from tests.factories import make_account, make_campaign, make_leads

    account = make_account("ava@northwind.example")
    campaign = make_campaign("Q4 outreach", [account])
    make_leads(campaign, account, 3)
    holds.place_hold(account, "sending_blocked", "The server refused an email: 554 5.7.1 spam",
                     datetime(2026, 11, 23, 9))
    reconcile(datetime(2026, 11, 23, 9))
    window = make_window(use_tray=False)
    dialog = window.open_alerts()
    (card,) = dialog.cards
    assert card.card.title == "ava@northwind.example stopped sending: Sending Blocked"
    assert list(card.action_buttons) == ["resume_sending"]
    card.action_buttons["resume_sending"].click()
    settle()
    assert Account.get_by_id(account.id).status == "connected"
    assert dialog.cards == []  # reconciled at once


def test_a_test_email_that_failed_before_the_reconnect_is_history_not_the_state_now(
        db: Path, make_window: Callable[..., MainWindow], settle: Callable[[], None]) -> None:
    """Issue 25: the Deliverability tab said "535 5.7.8" after the mailbox was reconnected."""
    from mailmonitor.services.monitoring.account_state import update_status
    from tests.factories import make_account

    before = datetime(2026, 11, 23, 8)
    account = make_account("ava@northwind.example")
    Check.create(account=account, checked_at=before, status="disconnected",
                 reason="invalid_credentials", trigger="round_trip",
                 detail="Sending the test email failed: 535 5.7.8 Username and Password not "
                        "accepted", round_trip={"outcome": "send_failed",
                                                "label": "could not be sent"})
    update_status(account, "disconnected", "invalid_credentials", "535 5.7.8", before)
    update_status(Account.get_by_id(account.id), "connected", None, "",
                  datetime(2026, 11, 23, 8, 30))
    reconcile(datetime(2026, 11, 23, 9))
    assert not Alert.select().where(Alert.resolved_at.is_null()).exists()
    _window, dialog = open_tab(make_window, account)
    panel = dialog.deliverability
    assert panel.round_trip_result.text().startswith("Not tested since the reconnect on ")
    assert "535" not in panel.round_trip_result.text()
    assert panel.round_trip_before.isVisibleTo(panel)
    assert panel.round_trip_before.objectName() == "muted"  # greyed
    assert panel.round_trip_before.text().startswith("Before the reconnect on ")
    assert "535 5.7.8" in panel.round_trip_before.text()
    dialog.close()


def test_import_in_the_campaign_view_says_which_unsubscribed_addresses_it_refused(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        settle: Callable[[], None], tmp_path: Path) -> None:
    from mailmonitor.models import Lead
    from mailmonitor.services.deliverability import suppression
    from tests.factories import make_account, make_campaign

    ava = make_account("ava@northwind.example")
    campaign = make_campaign("Q4 outreach", [ava])
    suppression.suppress(["gone@acme.example"], datetime(2026, 11, 23, 9))
    window = make_window()
    window.show()
    window.tabs.setCurrentIndex(1)
    window.select_campaign(campaign.id)
    view = window.campaigns_tab.campaign_view
    csv = tmp_path / "leads.csv"
    csv.write_text("email,first_name\nGone@acme.example,G\nnew@acme.example,N\n")
    view.import_file(csv)
    run(qloop, window)
    settle()
    assert view.import_banner.text.text() == (
        "Imported 1 lead; 1 refused: they unsubscribed (gone@acme.example).")
    assert [lead.email for lead in Lead.select()] == ["new@acme.example"]
