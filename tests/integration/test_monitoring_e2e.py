"""Monitoring end to end against a real Dovecot on loopback: the `check` command's contract, a
password changed on the server, the one-click reconnect, no credential retry loop."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from mailmonitor.cli.common import EXIT_CRITICAL, EXIT_FAILED, EXIT_OK
from mailmonitor.clock import FakeClock, utcnow
from mailmonitor.models import Account, Campaign, Check, Lead, close_db, open_db
from mailmonitor.services.alerts.registry import open_alerts
from mailmonitor.services.monitoring import checker
from mailmonitor.services.monitoring.monitor import Monitor
from tests.servers.certs import TestPKI
from tests.servers.dovecot import Dovecot, MailUser

pytestmark = pytest.mark.integration


def add_args(user: MailUser, dovecot: Dovecot, pki: TestPKI, *, imap_port: int | None = None
             ) -> list[str]:
    return ["accounts", "add", "--email", user.email, "--imap-host", "127.0.0.1",
            "--imap-port", str(imap_port or dovecot.imap_port), "--imap-security", "starttls",
            "--smtp-host", "127.0.0.1", "--smtp-port", str(dovecot.submission_port),
            "--smtp-security", "starttls", "--ca-file", str(pki.ca_cert), "--password-stdin"]


def test_check_json_contract_for_good_bad_and_unreachable_accounts(
        cli, dovecot: Dovecot, test_pki: TestPKI) -> None:
    good, bad, down = dovecot.new_user(), dovecot.new_user(), dovecot.new_user()
    assert cli(*add_args(good, dovecot, test_pki), stdin=good.password + "\n")[0] == EXIT_OK
    code, out, _ = cli("check", "--json", good.email)
    assert code == EXIT_OK
    (row,) = json.loads(out)
    assert (row["email"], row["status"], row["reason"], row["label"]) == \
        (good.email, "connected", None, "Connected")
    assert row["imap"]["ok"] and row["smtp"]["ok"]
    assert row["imap"]["latency_ms"] >= 0 and row["smtp"]["error"] is None
    assert row["checked_at"].endswith("Z")

    assert cli(*add_args(bad, dovecot, test_pki), stdin="wrong-password\n")[0] == EXIT_OK
    code, out, _ = cli("check", "--json", bad.email)
    assert code == EXIT_CRITICAL
    (row,) = json.loads(out)
    assert (row["status"], row["reason"], row["label"]) == \
        ("disconnected", "invalid_credentials", "Invalid Credentials")
    assert row["imap"]["ok"] is False and "AUTHENTICATIONFAILED" in row["detail"]
    assert "wrong-password" not in out

    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    assert cli(*add_args(down, dovecot, test_pki, imap_port=closed_port),
               stdin=down.password + "\n")[0] == EXIT_OK
    code, out, _ = cli("check", "--json", down.email)
    assert code == EXIT_FAILED
    (row,) = json.loads(out)
    assert (row["status"], row["reason"]) == ("warning", "network")
    assert row["smtp"]["ok"] is True and row["imap"]["ok"] is False

    code, out, _ = cli("check", "--json")
    assert code == EXIT_CRITICAL and len(json.loads(out)) == 3


def test_add_with_test_refuses_an_account_that_does_not_connect(
        cli, dovecot: Dovecot, test_pki: TestPKI) -> None:
    user = dovecot.new_user()
    code, _, err = cli(*add_args(user, dovecot, test_pki), "--test", stdin="nope\n")
    assert code == EXIT_FAILED and "Invalid Credentials" in err and "nothing was stored" in err
    assert json.loads(cli("accounts", "list", "--json")[1]) == []
    code, out, _ = cli(*add_args(user, dovecot, test_pki), "--test", stdin=user.password + "\n")
    assert code == EXIT_OK and "connection tested" in out


def test_password_changed_on_server_halts_then_one_click_reconnect_resumes(
        cli, dovecot: Dovecot, test_pki: TestPKI, data_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    user = dovecot.new_user()
    assert cli(*add_args(user, dovecot, test_pki), stdin=user.password + "\n")[0] == EXIT_OK
    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps([{"subject": "Hi", "body": "Hello", "delay_days": 0}]))
    assert cli("campaigns", "create", "Solo", "--mailbox", user.email, "--steps", str(steps))[0] \
        == EXIT_OK
    leads = tmp_path / "leads.csv"
    leads.write_text("email\n" + "".join(f"l{i}@x.test\n" for i in range(5)))
    assert cli("leads", "import", "Solo", str(leads))[0] == EXIT_OK

    logins: list[str] = []

    def counting_check(account, password, timeout):
        logins.append(account.email)
        return checker.run_check(account, password, timeout)

    # The monitor's clock is a fake one, but the commands afterwards read the real one: the
    # scenario's 10 hours end before real now (a fixed start date would make the reconnect
    # below meet a 9-day-old disconnection once the calendar passes it).
    clock = FakeClock(utcnow().replace(microsecond=0) - timedelta(hours=11))
    open_db(data_dir / "mailmonitor.sqlite3")
    try:
        monitor_holder: list[Monitor] = []

        async def scenario() -> None:
            monitor = Monitor(clock=clock, check_fn=counting_check)
            monitor_holder.append(monitor)
            Account.update(next_check_at=clock.now()).execute()
            await monitor.tick()
            await asyncio.gather(*monitor._tasks)
            assert Account.get().status == "connected"

            dovecot.set_password(user.email, "changed-on-server")
            logins.clear()
            clock.advance(minutes=6)
            await monitor.tick()
            await asyncio.gather(*monitor._tasks)
            account = Account.get()
            assert (account.status, account.reason) == ("disconnected", "invalid_credentials")
            assert len(logins) == 2  # the check and its one confirming re-check
            assert {lead.state for lead in Lead.select()} == {"halted"}
            campaign = Campaign.get()
            assert (campaign.status, campaign.pause_reason) == ("paused", "no_active_mailbox")
            assert any(user.email in a.title for a in open_alerts())

            # Hours of ticking do not retry the rejected password (RFC 5530).
            for _ in range(30):
                clock.advance(minutes=20)
                await monitor.tick()
            await asyncio.gather(*monitor._tasks)
            assert len(logins) == 2
            await monitor.stop()

        asyncio.run(scenario())
        checks_before = Check.select().count()
    finally:
        close_db()

    code, _, err = cli("accounts", "reconnect", user.email, "--password-stdin",
                       stdin="still-the-old-one\n")
    assert code == EXIT_FAILED and "Invalid Credentials" in err
    code, out, _ = cli("accounts", "reconnect", user.email, "--password-stdin",
                       stdin="changed-on-server\n")
    assert code == EXIT_OK, out
    (account,) = json.loads(cli("accounts", "list", "--json")[1])
    assert account["status"] == "connected"
    rows = json.loads(cli("leads", "list", "Solo", "--json")[1])
    assert {r["state"] for r in rows} == {"pending"} and {r["cursor"] for r in rows} == {0}
    (campaign,) = json.loads(cli("campaigns", "list", "--json")[1])
    assert campaign["status"] == "active"
    assert checks_before >= 2
