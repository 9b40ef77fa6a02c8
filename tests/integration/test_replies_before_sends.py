"""Replies before sends (issue 11), with the real `mailmonitor run --headless`, Dovecot and the
SMTP sink: a lead answers while the runner is stopped; after a restart past the next step's due
time, that lead gets no further email and the others get theirs."""

from __future__ import annotations

import json
import signal
import sqlite3
import tempfile
import time
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailmonitor.clock import utcnow
from tests.integration.mailboxes import STEPS, deliveries
from tests.kill_harness import CAMPAIGN, KillRunner, mail_servers
from tests.servers.certs import TestPKI

pytestmark = pytest.mark.integration


def wait_for(condition, what: str, process, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the runner exited with {process.returncode} before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def stop(process) -> int:  # type: ignore[no-untyped-def]
    process.send_signal(signal.SIGTERM)
    return int(process.wait(timeout=30))


def test_a_reply_that_arrived_while_stopped_is_read_before_the_next_step(test_pki: TestPKI
                                                                           ) -> None:
    with tempfile.TemporaryDirectory(prefix="mm-replies-") as tmp, \
            mail_servers(test_pki, provider="plain") as (dovecot, sink):
        folder = Path(tmp)
        runner = KillRunner(dovecot, sink, folder, provider="plain")
        user = dovecot.new_user()
        runner.cli("accounts", "add", "--email", user.email, "--imap-host", dovecot.host,
                   "--imap-port", str(dovecot.imap_port), "--imap-security", "starttls",
                   "--smtp-host", dovecot.host, "--smtp-port", str(dovecot.submission_port),
                   "--smtp-security", "starttls", "--ca-file", str(dovecot.pki.ca_cert),
                   "--min-gap", "0", "--password-stdin", stdin=user.password + "\n")
        (folder / "steps.json").write_text(json.dumps(STEPS))  # step 2 one day after step 1
        runner.cli("campaigns", "create", CAMPAIGN, "--mailbox", user.email,
                   "--steps", str(folder / "steps.json"))
        (folder / "leads.csv").write_text(
            "email,first_name\n" + "".join(f"l{i}@leads.example,L{i}\n" for i in range(4)))
        runner.cli("leads", "import", CAMPAIGN, str(folder / "leads.csv"))

        process = runner.start()
        wait_for(lambda: len(sink.messages()) == 4, "step 1 to every lead", process)
        assert stop(process) == 0

        # While it is stopped, L1 answers step 1 (in its thread) ...
        first = next(m for m in sink.messages() if m.rcpt_tos == ("l1@leads.example",))
        reply = EmailMessage()
        reply["From"] = "L1 <l1@leads.example>"
        reply["To"] = user.email
        reply["Subject"] = "Re: Hello L1"
        reply["Message-ID"] = "<answer-l1@leads.example>"
        reply["In-Reply-To"] = first.message_id
        reply["References"] = first.message_id
        reply.set_content("Interested, call me.")
        dovecot.deliver(user.email, reply.as_bytes())
        # ... and the day passes: step 2 is due for everyone when the runner starts again.
        due = (utcnow() - timedelta(minutes=1)).isoformat(sep=" ")
        with sqlite3.connect(runner.data_dir / "mailmonitor.sqlite3") as conn:
            conn.execute("UPDATE lead SET next_due_at = ?", (due,))

        process = runner.start()
        try:
            wait_for(lambda: len(sink.messages()) == 7, "step 2 to the three others", process)
            listing = {row["email"]: row for row in json.loads(
                runner.cli("leads", "list", CAMPAIGN, "--json").stdout)}
        finally:
            assert stop(process) == 0

    got = deliveries(sink.messages())
    assert got[("l1@leads.example", 2)] == 0
    assert {got[(f"l{i}@leads.example", 2)] for i in (0, 2, 3)} == {1}
    assert set(got.values()) == {1} and len(got) == 7
    assert (listing["l1@leads.example"]["state"], listing["l1@leads.example"]["cursor"]) == \
        ("replied", 1)
    assert {listing[f"l{i}@leads.example"]["cursor"] for i in (0, 2, 3)} == {2}
