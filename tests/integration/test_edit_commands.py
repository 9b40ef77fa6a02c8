"""No dead ends (issue 11) end to end through the command line, against a real Dovecot (IMAP +
submission relaying to the SMTP sink): fixing a mailbox's wrong port with `accounts edit`, and
rescuing a campaign whose only mailbox broke with `campaigns edit --add-mailbox` + `campaigns
reallocate`. The sending engine runs in-process with an injected clock."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock, utcnow
from mailmonitor.models import Account, Campaign, Check, Lead, SendRecord, close_db, open_db
from mailmonitor.services.sending.engine import SendingEngine
from tests.integration.mailboxes import STEPS, deliveries
from tests.servers.dovecot import Dovecot, MailUser
from tests.servers.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

Cli = Callable[..., tuple[int, str, str]]


def add_account(cli: Cli, dovecot: Dovecot, user: MailUser, *, imap_port: int | None = None,
                daily_limit: int = 100) -> None:
    code, _, err = cli(
        "accounts", "add", "--email", user.email, "--imap-host", dovecot.host,
        "--imap-port", str(imap_port or dovecot.imap_port), "--imap-security", "starttls",
        "--smtp-host", dovecot.host, "--smtp-port", str(dovecot.submission_port),
        "--smtp-security", "starttls", "--ca-file", str(dovecot.pki.ca_cert),
        "--daily-limit", str(daily_limit), "--min-gap", "0", "--password-stdin",
        stdin=user.password + "\n")
    assert code == 0, err


def make_campaign(cli: Cli, folder: Path, name: str, mailbox: str, leads: int) -> None:
    steps = folder / "steps.json"
    steps.write_text(json.dumps(STEPS))
    assert cli("campaigns", "create", name, "--mailbox", mailbox, "--steps", str(steps))[0] == 0
    csv = folder / "leads.csv"
    csv.write_text("email,first_name\n" + "".join(
        f"{name.lower()}{i}@leads.example,Lead{i}\n" for i in range(leads)))
    assert cli("leads", "import", name, str(csv))[0] == 0


def leads(cli: Cli, name: str) -> list[dict[str, object]]:
    code, out, _ = cli("leads", "list", name, "--json")
    assert code == 0
    return json.loads(out)


def send(data_dir: Path, clock: FakeClock) -> int:
    """One engine run until idle on the data folder's database (the CLI closes it each time)."""
    open_db(data_dir / "mailmonitor.sqlite3")
    try:
        return SendingEngine(clock, timeout=10, rng=random.Random(1)).run_until_idle()
    finally:
        close_db()


def test_accounts_edit_fixes_a_wrong_imap_port_and_keeps_the_accounts_history(
        cli: Cli, data_dir: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    user = dovecot.new_user()
    add_account(cli, dovecot, user)
    make_campaign(cli, data_dir, "Port", user.email, 3)
    assert cli("check", user.email)[0] == 0
    clock = FakeClock(utcnow())
    assert send(data_dir, clock) == 3

    # The rep types the submission port as the IMAP port: saved, re-checked, disconnected.
    code, out, err = cli("accounts", "edit", user.email, "--imap-port",
                         str(dovecot.submission_port))
    assert code == 0, err
    assert "imap_port changed; checked: Request is Invalid" in out
    assert {lead["state"] for lead in leads(cli, "Port")} == {"halted"}

    # --test with settings that do not connect: exit 1, one line, nothing changed.
    code, _, err = cli("accounts", "edit", user.email, "--imap-port", "1", "--test")
    assert code == 1 and err.count("\n") == 1
    assert "did not connect with the new settings (IMAP" in err and "nothing was changed" in err
    (row,) = json.loads(cli("accounts", "list", "--json")[1])
    assert row["imap"]["port"] == dovecot.submission_port

    # The right port, tested first: connected, the same account, its history kept.
    code, out, err = cli("accounts", "edit", user.email, "--imap-port",
                         str(dovecot.imap_port), "--test")
    assert code == 0, err
    assert "checked: Connected" in out
    (row,) = json.loads(cli("accounts", "list", "--json")[1])
    assert (row["status"], row["imap"]["port"]) == ("connected", dovecot.imap_port)
    open_db(data_dir / "mailmonitor.sqlite3")
    try:
        (account,) = Account.select()
        assert SendRecord.select().where(SendRecord.account == account).count() == 3
        checks = [c.status for c in Check.select().where(Check.account == account)
                  .order_by(Check.id)]
        assert checks == ["connected", "disconnected", "connected"]
        assert {(lead.state, lead.cursor) for lead in Lead.select()} == {("active", 1)}
    finally:
        close_db()

    # Its leads continue from their cursor: step 2, in the same thread.
    clock.advance(days=1, minutes=1)
    assert send(data_dir, clock) == 3
    assert set(deliveries(smtp_sink.messages()).values()) == {1}
    assert {(lead["cursor"], lead["mailbox"]) for lead in leads(cli, "Port")} == \
        {(2, user.email)}


def test_a_campaign_whose_only_mailbox_broke_continues_from_a_mailbox_added_to_it(
        cli: Cli, data_dir: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    first, second = dovecot.new_user(), dovecot.new_user()
    add_account(cli, dovecot, first, daily_limit=2)
    make_campaign(cli, data_dir, "Rescue", first.email, 4)
    assert cli("check", first.email)[0] == 0
    clock = FakeClock(utcnow())
    assert send(data_dir, clock) == 2  # its daily limit: two leads got step 1

    dovecot.set_password(first.email, "changed-on-the-server")
    assert cli("check", first.email)[0] == 2
    (campaign,) = json.loads(cli("campaigns", "list", "--json")[1])
    assert (campaign["status"], campaign["pause_reason"]) == ("paused", "no_active_mailbox")

    # The dead end of before: nothing to re-allocate to. The line names the way out.
    code, _, err = cli("campaigns", "reallocate", "Rescue")
    assert code == 1 and "add and connect a mailbox first" in err
    assert "mailmonitor campaigns edit 'Rescue' --add-mailbox EMAIL" in err
    code, _, err = cli("campaigns", "resume", "Rescue")
    assert code == 1 and "re-allocate" not in err and "--add-mailbox" in err

    add_account(cli, dovecot, second)
    assert cli("check", second.email)[0] == 0
    code, out, err = cli("campaigns", "edit", "Rescue", "--add-mailbox", second.email)
    assert code == 0, err
    assert f"added {second.email}" in out and "4 leads wait for a mailbox" in out
    code, out, err = cli("campaigns", "reallocate", "Rescue", "--include-contacted")
    assert code == 0, err
    assert f"Moved 4 leads: 4 to {second.email}" in out
    (campaign,) = json.loads(cli("campaigns", "list", "--json")[1])
    assert campaign["status"] == "active"
    assert sorted(campaign["mailboxes"]) == sorted([first.email, second.email])

    # The leads continue from the new mailbox: step 1 for the two never emailed, and (after the
    # delay) step 2 for the two that got step 1 from the broken one.
    smtp_sink.clear()
    assert send(data_dir, clock) == 2
    clock.advance(days=1, minutes=1)
    assert send(data_dir, clock) == 4
    messages = smtp_sink.messages()
    assert {m.mail_from for m in messages} == {second.email}
    got = deliveries(messages)
    assert got[("rescue0@leads.example", 2)] == got[("rescue2@leads.example", 1)] == 1
    assert {(lead["mailbox"], lead["cursor"]) for lead in leads(cli, "Rescue")} == \
        {(second.email, 2)}
    open_db(data_dir / "mailmonitor.sqlite3")
    try:
        assert Campaign.select().count() == 1
        history = SendRecord.select().where(SendRecord.account == Account.get(
            Account.email == first.email)).count()
        assert history == 2  # the broken mailbox's emails stay in the history
    finally:
        close_db()
