"""End to end in the window against a real Dovecot: a password changed on the server turns the
account red and pauses the campaign within one check interval; the reconnect wizard with the new
password (tested for real) brings it back and the campaign continues (spec §2–§5)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from mailmonitor.app import build_main_window
from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Campaign, Lead
from mailmonitor.services.accounts.adding import AccountSpec, create_account
from mailmonitor.services.alerts.reconciler import reconcile
from mailmonitor.services.auth import secrets
from mailmonitor.services.campaigns.setup import create_campaign
from mailmonitor.services.monitoring.monitor import Monitor
from mailmonitor.services.reconnect.flow import Page
from mailmonitor.ui.context import real_check
from mailmonitor.ui.models import Role
from tests.factories import make_leads
from tests.servers.certs import TestPKI
from tests.servers.dovecot import Dovecot
from tests.ui.helpers import run

pytestmark = [pytest.mark.ui, pytest.mark.integration]


def test_password_changed_on_server_then_wizard_brings_it_back(
        db: Path, clock: FakeClock, qloop: qasync.QEventLoop, qapp: QApplication, qtbot: Any,
        settle: Callable[[], None], dovecot: Dovecot, test_pki: TestPKI,
        memory_keyring: Any) -> None:
    user = dovecot.new_user()
    account = create_account(AccountSpec(
        email=user.email, name="Rep", imap_host="127.0.0.1", imap_port=dovecot.imap_port,
        imap_security="starttls", smtp_host="127.0.0.1", smtp_port=dovecot.submission_port,
        smtp_security="starttls", ca_file=str(test_pki.ca_cert)).validated(), user.password,
        clock.now())
    campaign = create_campaign("Q4 outreach", [user.email],
                               [{"subject": "Hi", "body": "Hello", "delay_days": 0}], None,
                               clock.now())
    make_leads(campaign, account, 8, cursor=1)

    monitor = Monitor(clock=clock, jitter=0)
    window = build_main_window(loop=qloop, clock=clock, monitor=monitor, check_fn=real_check,
                               use_tray=False, coalesce_ms=0)
    window.show()

    async def tick_and_wait() -> None:
        await monitor.tick()
        await asyncio.gather(*monitor._tasks)

    try:
        qloop.run_until_complete(tick_and_wait())
        settle()
        row = window.accounts_model.row_for(account.id)
        assert row is not None and row.status == "connected"

        dovecot.set_password(user.email, "Changed-On-Server-1")
        clock.advance(seconds=Account.get_by_id(account.id).check_interval_seconds)
        qloop.run_until_complete(tick_and_wait())
        settle()
        # Within one check interval: red, in words, and the campaign paused with a banner.
        row = window.accounts_model.row_for(account.id)
        assert row is not None and (row.status, row.reason) == \
            ("disconnected", "invalid_credentials")
        model = window.accounts_model
        (number,) = [i for i in range(model.rowCount())
                     if model.index(i, 0).data(Role.ID) == account.id]
        assert model.index(number, model.STATUS).data() == "Disconnected"
        assert model.index(number, model.REASON).data() == "Invalid Credentials"
        assert Campaign.get_by_id(campaign.id).pause_reason == "no_active_mailbox"
        assert {lead.state for lead in Lead.select()} == {"halted"}
        reconcile(clock.now())  # the app's background loop does this within half a second
        qtbot.waitUntil(window.attention.isVisible, timeout=2000)
        assert user.email in window.attention.text.text()

        wizard = window.open_wizard(account.id, Page.CONNECTION)
        connection = wizard.connection_page
        qtbot.keyClicks(connection.password, "Changed-On-Server-1")
        qtbot.mouseClick(connection.next, Qt.MouseButton.LeftButton)
        run(qloop, window)
        qtbot.waitUntil(lambda: wizard.stack.currentWidget() is wizard.ready_page,
                        timeout=10_000)
        with qtbot.waitSignal(wizard.reconnected, timeout=5000):
            qtbot.mouseClick(wizard.ready_page.save, Qt.MouseButton.LeftButton)
            run(qloop, window)
        settle()
        assert Account.get_by_id(account.id).status == "connected"
        assert secrets.get_secret(user.email, "password") == "Changed-On-Server-1"
        assert Campaign.get_by_id(campaign.id).status == "active"
        assert {(lead.state, lead.cursor) for lead in Lead.select()} == {("active", 1)}
        qtbot.waitUntil(lambda: not window.attention.isVisible(), timeout=2000)
        # The next scheduled check uses the stored new password and stays green.
        clock.advance(timedelta(minutes=6))
        qloop.run_until_complete(tick_and_wait())
        assert Account.get_by_id(account.id).status == "connected"
    finally:
        qloop.run_until_complete(window.ctx.cancel_all())
        qloop.run_until_complete(monitor.stop())
        window.ctx.bridge.close()
        window.hide()
        window.deleteLater()
        qapp.processEvents()
