"""Issue 22, `mailmonitor run --headless` as a rep's always-on machine runs it (a subprocess):
a slow alert receiver holds up no other channel, SIGTERM ends the runner within 10 s whatever
is in flight, and a database that can no longer be written stops it with one line and exit 1
— without losing or doubling an email once it runs again.

Set-up goes through the command line, with a keyring file that crosses processes."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kill_harness import KillRunner, mail_servers
from tests.servers.bad_http import BadHttpReceiver
from tests.servers.certs import TestPKI
from tests.servers.dovecot import Dovecot
from tests.servers.smtp_sink import SmtpSink
from tests.servers.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET_PATH = "/hooks/T0SECRET1/B0SECRET2"


class Runner:
    """The command line on one data folder, with a keyring file and quick ticks."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data_dir = folder / "data"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT),
                    "PYTHON_KEYRING_BACKEND": "tests.file_keyring.FileKeyring",
                    "MAILMONITOR_TEST_KEYRING_FILE": str(folder / "keyring.json"),
                    "MAILMONITOR_MONITOR_TICK": "0.2", "MAILMONITOR_NOTIFY_TICK": "0.2",
                    "MAILMONITOR_SEND_TICK": "0.1", "MAILMONITOR_REPLY_POLL": "3600",
                    "QT_QPA_PLATFORM": "offscreen"}

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "mailmonitor", "--data-dir",
                                 str(self.data_dir), *args], input=stdin, capture_output=True,
                                text=True, env=self.env, timeout=60, cwd=ROOT)
        assert result.returncode == 0, (args, result.stderr)
        return result

    def start(self) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "mailmonitor", "--data-dir",
                                 str(self.data_dir), "run", "--headless"], env=self.env,
                                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def outbox(self) -> dict[str, str]:
        with sqlite3.connect(self.data_dir / "mailmonitor.sqlite3", timeout=10) as conn:
            return dict(conn.execute(
                "SELECT c.name, m.state FROM outbox_message m JOIN notify_channel c "
                "ON c.id = m.channel_id").fetchall())


@pytest.fixture
def runner() -> Iterator[Runner]:
    yield Runner(Path(tempfile.mkdtemp(prefix="mm-headless-")))


def test_sigterm_ends_the_runner_within_10_s_while_a_receiver_drips_its_answer(
        runner: Runner, dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    runner.cli("accounts", "add", "--email", user.email, "--imap-host", dovecot.host,
               "--imap-port", str(dovecot.imap_port), "--imap-security", "starttls",
               "--smtp-host", dovecot.host, "--smtp-port", str(dovecot.submission_port),
               "--smtp-security", "starttls", "--ca-file", str(dovecot.pki.ca_cert),
               "--password-stdin", stdin="not-the-password\n")  # it will be disconnected
    with BadHttpReceiver("drip", interval=1.0) as slow, WebhookReceiver() as quick:
        # The slow channel comes first: its lane must not hold up the quick one.
        runner.cli("notify", "add", "Slow", "--webhook", slow.url(SECRET_PATH))
        runner.cli("notify", "add", "Quick", "--webhook", quick.url())
        process = runner.start()
        try:
            slow.wait_for_request(timeout=30)  # an alert is on its way to the slow receiver
            quick.wait_for(1, timeout=5)  # ... and the quick one has it already
            assert process.poll() is None
            time.sleep(0.5)  # well inside the slow answer (66 bytes, one a second)
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
            took = time.monotonic() - signalled
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert process.returncode == 0, stderr
        assert took < 10.0, took
        assert slow.complete_requests() == 1 and slow.answer_bytes_sent < 10
    assert runner.outbox() == {"Slow": "unknown", "Quick": "sent"}
    log = (runner.data_dir / "logs" / "mailmonitor.log").read_text()
    assert "SECRET" not in log
    listed = json.loads(runner.cli("notify", "list", "--json").stdout)
    slow_row = next(row for row in listed if row["name"] == "Slow")
    assert "SECRET" not in json.dumps(listed) and "stopping" in slow_row["last_error"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_sigterm_ends_the_runner_within_10_s_while_a_server_holds_an_email_in_flight(
        runner: Runner, dovecot: Dovecot) -> None:
    """The provider took the whole message and never confirms it: the stop waits a few seconds
    for the answer, then leaves the send to the next start (recorded as handed over)."""
    user = dovecot.new_user()
    with SmtpSink(users={user.email: user.password}, stall_after_data=120) as provider:
        runner.cli("accounts", "add", "--email", user.email, "--imap-host", dovecot.host,
                   "--imap-port", str(dovecot.imap_port), "--imap-security", "starttls",
                   "--ca-file", str(dovecot.pki.ca_cert), "--smtp-host", "127.0.0.1",
                   "--smtp-port", str(provider.port), "--smtp-security", "plain",
                   "--min-gap", "0", "--password-stdin", stdin=user.password + "\n")
        steps = runner.folder / "steps.json"
        steps.write_text(json.dumps([{"subject": "Hi", "body": "Hello", "delay_days": 0}]))
        runner.cli("campaigns", "create", "Stall", "--mailbox", user.email, "--steps",
                   str(steps))
        leads = runner.folder / "leads.csv"
        leads.write_text("email\nada@leads.example\nbob@leads.example\n")
        runner.cli("leads", "import", "Stall", str(leads))
        process = runner.start()
        try:
            provider.wait_for(1, timeout=30)  # the whole message is there, unconfirmed
            time.sleep(0.3)
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
            took = time.monotonic() - signalled
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, stderr
    assert took < 10.0, took
    assert len(provider.messages()) == 1  # nothing else was started meanwhile
    with sqlite3.connect(runner.data_dir / "mailmonitor.sqlite3", timeout=10) as conn:
        records = conn.execute("SELECT state, handed_over_at IS NOT NULL FROM send_record"
                               ).fetchall()
    assert records == [("sending", 1)]  # settled by the next start, like any interrupted send


def test_a_full_disk_stops_the_runner_with_one_line_and_loses_nothing(
        test_pki: TestPKI) -> None:
    """The kernel refuses to grow any file past a limit a little above the database's size
    (RLIMIT_FSIZE: what a full disk does to SQLite, without root): the runner stops with one
    line and exit 1 within a minute. Started again with room, every lead gets its email once."""
    with mail_servers(test_pki, provider="plain") as (dovecot, sink):
        folder = Path(tempfile.mkdtemp(prefix="mm-full-"))
        kill = KillRunner(dovecot, sink, folder, provider="plain")
        kill.setup(mailboxes=1, leads=300, steps=1)
        database = kill.data_dir / "mailmonitor.sqlite3"
        limit = database.stat().st_size + 150_000

        def no_room() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        started = time.monotonic()
        full = subprocess.run(
            [sys.executable, "-m", "mailmonitor", "--data-dir", str(kill.data_dir), "run",
             "--headless"], env=kill.env, cwd=ROOT, capture_output=True, text=True,
            timeout=90, preexec_fn=no_room)
        assert time.monotonic() - started < 60
        assert full.returncode == 1
        assert full.stderr.count("\n") == 1, full.stderr
        assert full.stderr.startswith("mailmonitor: the database could not be written") or \
            full.stderr.startswith("mailmonitor: the disk is full"), full.stderr
        assert "stopped sending" in full.stderr and "Traceback" not in full.stderr
        sent_before = len(sink.messages())
        assert 0 < sent_before < 300  # it was sending when the disk filled up

        kill.finish()  # room again: a run until every lead completed, then SIGTERM
        result = kill.result(started)
    assert result.exactly_once, (result.duplicates[:5], result.missing[:5])
    assert result.integrity == "ok"
    assert result.exit_codes == [0]
