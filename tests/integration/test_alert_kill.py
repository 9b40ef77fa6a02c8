"""Alerts reach the rep exactly once across kill -9 of `mailmonitor run --headless`.

A real runner (a subprocess, as a rep's always-on machine runs it) walks a disconnection
through the days with a clock the test moves (MAILMONITOR_CLOCK_FILE): disconnected, reminded
on days 1, 3 and 7 (one reminder a run, never a burst for the days it was off), warned 24 hours
before its leads are stopped (the warning takes the mailbox over: no reminder on top), stopped
(told once; the mailbox's card coming back is not news). In every phase
the runner is SIGKILLed at a random moment, restarted, and SIGKILLed again right after the
alerts arrived. The local HTTP receiver and the SMTP sink must hold exactly one copy of each
digest: nothing lost, nothing twice. Set-up goes through the command line only.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import tempfile
import time
from datetime import datetime, timedelta
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest

from mailmonitor.clock import utcnow
from tests.kill_harness import CAMPAIGN, KillRunner, mail_servers
from tests.servers.certs import TestPKI
from tests.servers.smtp_sink import ReceivedMessage, SmtpSink
from tests.servers.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration

REP = "rep@alerts.test"


def alert_emails(sink: SmtpSink) -> list[ReceivedMessage]:
    return [m for m in sink.messages() if REP in m.rcpt_tos]


class AlertRunner(KillRunner):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.clock_file = self.folder / "now.txt"
        self.env.update({"MAILMONITOR_CLOCK_FILE": str(self.clock_file),
                         "MAILMONITOR_NOTIFY_TICK": "0.1"})

    def set_clock(self, when: datetime) -> None:
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(when.isoformat())
        tmp.replace(self.clock_file)  # the runner never reads half a time

    def outbox_states(self) -> dict[str, int]:
        with sqlite3.connect(self.data_dir / "mailmonitor.sqlite3", timeout=10) as conn:
            return dict(conn.execute(
                "SELECT state, COUNT(*) FROM outbox_message GROUP BY state").fetchall())

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            self.kills += 1
        process.wait(timeout=10)

    def phase(self, hook: WebhookReceiver, expected: int, rng: random.Random) -> None:
        """A run killed at a random moment (before, during or after its deliveries), then a
        run killed as soon as both receivers hold `expected` digests."""
        process = self.start()
        time.sleep(rng.uniform(0.3, 2.0))
        self.kill(process)
        process = self.start()
        deadline = time.monotonic() + 40
        try:
            while len(hook.accepted()) < expected or len(alert_emails(self.sink)) < expected:
                if process.poll() is not None:
                    raise AssertionError("the runner exited: " +
                                         (self.folder / "stderr.log").read_text()[-2000:])
                if time.monotonic() > deadline:
                    raise AssertionError(f"expected {expected} digests, got "
                                         f"{len(hook.accepted())} webhook calls and "
                                         f"{len(alert_emails(self.sink))} emails")
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.05))
        finally:
            self.kill(process)


def test_alerts_through_the_days_and_the_stop_arrive_once_each_across_kill_9(
        test_pki: TestPKI) -> None:
    rng = random.Random()
    with tempfile.TemporaryDirectory(prefix="mm-alert-kill-") as tmp, \
            mail_servers(test_pki, "plain") as (dovecot, sink), WebhookReceiver() as hook:
        runner = AlertRunner(dovecot, sink, Path(tmp), "plain")
        start = utcnow().replace(microsecond=0)
        runner.set_clock(start)
        broken, good = dovecot.new_user(), dovecot.new_user()
        for user in (broken, good):
            runner.cli("accounts", "add", "--email", user.email, "--imap-host", dovecot.host,
                       "--imap-port", str(dovecot.imap_port), "--imap-security", "starttls",
                       "--smtp-host", dovecot.host, "--smtp-port", str(dovecot.submission_port),
                       "--smtp-security", "starttls", "--ca-file", str(dovecot.pki.ca_cert),
                       "--password-stdin", "--min-gap", "0", stdin=user.password + "\n")
        steps = Path(tmp) / "steps.json"
        steps.write_text(json.dumps([{"subject": "Hello", "body": "Hi [step 1]", "delay_days": 0},
                                     {"subject": "", "body": "Again [step 2]",
                                      "delay_days": 30}]))
        runner.cli("campaigns", "create", CAMPAIGN, "--mailbox", broken.email, "--steps",
                   str(steps))
        leads = Path(tmp) / "leads.csv"
        leads.write_text("email,first_name\n" + "".join(f"k{i}@leads.example,K{i}\n"
                                                       for i in range(3)))
        runner.cli("leads", "import", CAMPAIGN, str(leads))
        runner.cli("notify", "add", "Hook", "--webhook", hook.url())
        runner.cli("notify", "add", "Me", "--email", REP, "--from", good.email)

        # Day 0: the first step goes out from the mailbox that is about to break.
        runner.set_clock(start + timedelta(minutes=1))  # the accounts were added meanwhile
        process = runner.start()
        deadline = time.monotonic() + 40
        while len(sink.messages()) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert len(sink.messages()) == 3

        # Its password changes at the provider; its next check finds out.
        dovecot.set_password(broken.email, "changed-elsewhere")
        broken_at = start + timedelta(minutes=10)
        runner.set_clock(broken_at)
        runner.phase(hook, 1, rng)
        for n, days in enumerate((1, 3, 7, 8), start=2):
            runner.set_clock(broken_at + timedelta(days=days, minutes=1))
            runner.phase(hook, n, rng)
        runner.set_clock(broken_at + timedelta(days=9, hours=1))
        runner.phase(hook, 6, rng)
        # A last run: nothing more to say, and SIGTERM stops it cleanly.
        process = runner.start()
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0

        calls = hook.accepted()
        events = [[e["event"] for e in call.json()["events"]] for call in calls]
        assert events == [
            ["disconnected"], ["reminder"], ["reminder"], ["reminder"], ["leads_stopping"],
            ["leads_stopping"]]
        changes = [[e["change"] for e in call.json()["events"]] for call in calls]
        assert changes[4:] == [["opened"], ["resolved"]]  # warned, then stopped
        assert len({c.headers["x-mailmonitor-delivery"] for c in calls}) == 6
        emails = alert_emails(sink)
        assert len(emails) == 6 and len({m.message_id for m in emails}) == 6
        assert {m.mail_from for m in emails} == {good.email}
        subjects = [str(BytesParser(policy=default).parsebytes(m.raw)["Subject"]).strip()
                    for m in emails]
        assert subjects == [c.json()["title"] for c in calls]
        # Each arrived exactly once (above). A kill between the last byte and the receiver's
        # answer leaves a message `unknown` (never re-sent, named to the rep), so a random kill
        # may legitimately end one that way; nothing may be pending or failed.
        states = runner.outbox_states()
        assert set(states) <= {"sent", "unknown"} and sum(states.values()) == 12, states
        listing = json.loads(runner.cli("leads", "list", CAMPAIGN, "--json").stdout)
        assert {lead["state"] for lead in listing} == {"campaign_stopped"}
        assert runner.kills >= 12
