"""Kill `mailmonitor run --headless` at random moments while it sends, restart it, and check
that every step of every lead reached the SMTP sink exactly once (tests/integration/test_kill.py
and benchmarks/kill_test.py).

The setup goes through the command line only (accounts add, campaigns create, leads import), with
a keyring file that crosses processes (tests/file_keyring.py). Dovecot's submission relays to a
sink; with `provider="filing"` the sink files every accepted message in the sender's Sent folder
before it answers (as Gmail and Microsoft 365 do) and the accounts are of kind gmail; with
`provider="plain"` nothing is filed by the server (the app appends copies itself).
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers.certs import TestPKI
from tests.servers.dovecot import Dovecot, MailUser
from tests.servers.filing_sink import FilingSink
from tests.servers.smtp_sink import ReceivedMessage, SmtpSink

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = "Kill"


@dataclass
class KillResult:
    kills: int
    restarts: int
    emails_expected: int
    delivered: Counter[tuple[str, int]]
    duplicates: list[tuple[str, int]]
    missing: list[tuple[str, int]]
    record_states: Counter[str]
    unknown: list[tuple[str, int]]  # (lead, step) of `unknown` records
    integrity: str
    leads: list[dict[str, object]]
    seconds: float
    exit_codes: list[int] = field(default_factory=list)
    reconciled: Counter[str] = field(default_factory=Counter)  # what the restarts settled
    unknown_alerts: int = 0

    @property
    def exactly_once(self) -> bool:
        return not self.duplicates and not self.missing


@contextmanager
def mail_servers(pki: TestPKI, provider: str = "filing") -> Iterator[tuple[Dovecot, SmtpSink]]:
    sink: SmtpSink = FilingSink() if provider == "filing" else SmtpSink()
    with sink, Dovecot(pki, relay_port=sink.port) as dovecot:
        if isinstance(sink, FilingSink):
            sink.dovecot = dovecot
        yield dovecot, sink


class KillRunner:
    def __init__(self, dovecot: Dovecot, sink: SmtpSink, folder: Path,
                 provider: str = "filing", seed: int | None = None) -> None:
        self.dovecot, self.sink, self.folder = dovecot, sink, folder
        self.provider = provider
        self.data_dir = folder / "data"
        self.rng = random.Random(seed)
        self.env = dict(os.environ)
        self.env.update({
            "PYTHONPATH": str(ROOT),
            "PYTHON_KEYRING_BACKEND": "tests.file_keyring.FileKeyring",
            "MAILMONITOR_TEST_KEYRING_FILE": str(folder / "keyring.json"),
            "MAILMONITOR_SEND_TICK": "0.05",
            "MAILMONITOR_MONITOR_TICK": "0.2",
            "MAILMONITOR_REPLY_POLL": "3600",
            "MAILMONITOR_RECONCILE_SETTLE": "1",
            "QT_QPA_PLATFORM": "offscreen",
        })
        self.steps = 0
        self.leads = 0
        self.kills = 0
        self.restarts = 0
        self.exit_codes: list[int] = []

    # --- setup through the command line -------------------------------------------------------

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "mailmonitor", "--data-dir", str(self.data_dir), *args],
            input=stdin, capture_output=True, text=True, env=self.env, timeout=60, cwd=ROOT)
        if result.returncode != 0:
            raise AssertionError(f"mailmonitor {' '.join(args)} failed: {result.stderr}")
        return result

    def setup(self, mailboxes: int, leads: int, steps: int) -> list[MailUser]:
        users = [self.dovecot.new_user() for _ in range(mailboxes)]
        kind = "gmail" if self.provider == "filing" else "imap"
        for user in users:
            self.cli("accounts", "add", "--email", user.email, "--kind", kind,
                     "--imap-host", self.dovecot.host, "--imap-port",
                     str(self.dovecot.imap_port), "--imap-security", "starttls",
                     "--smtp-host", self.dovecot.host, "--smtp-port",
                     str(self.dovecot.submission_port), "--smtp-security", "starttls",
                     "--ca-file", str(self.dovecot.pki.ca_cert), "--password-stdin",
                     "--daily-limit", "100000", "--min-gap", "0", stdin=user.password + "\n")
        steps_file = self.folder / "steps.json"
        steps_file.write_text(json.dumps([
            {"subject": "Hello {{first_name}}" if n == 0 else "",
             "body": f"Hi {{{{first_name|there}}}} [step {n + 1}]", "delay_days": 0}
            for n in range(steps)]))
        args = ["campaigns", "create", CAMPAIGN, "--steps", str(steps_file)]
        for user in users:
            args += ["--mailbox", user.email]
        self.cli(*args)
        leads_file = self.folder / "leads.csv"
        with leads_file.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["email", "first_name"])
            for i in range(leads):
                writer.writerow([f"k{i}@leads.example", f"Lead{i}"])
        self.cli("leads", "import", CAMPAIGN, str(leads_file))
        self.steps, self.leads = steps, leads
        return users

    # --- running and killing ------------------------------------------------------------------

    def start(self) -> subprocess.Popen[bytes]:
        self.restarts += 1
        # The child keeps its own copy of the descriptor: ours is closed right away.
        with (self.folder / "stderr.log").open("ab") as stderr:
            return subprocess.Popen(
                [sys.executable, "-m", "mailmonitor", "--data-dir", str(self.data_dir), "run",
                 "--headless"], env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr)

    def completed(self) -> bool:
        with sqlite3.connect(f"file:{self.data_dir / 'mailmonitor.sqlite3'}?mode=ro",
                             uri=True, timeout=10) as conn:
            (left,) = conn.execute("SELECT COUNT(*) FROM lead WHERE state != 'completed'"
                                   ).fetchone()
        return int(left) == 0

    def kill_while_sending(self, max_delay: float = 0.25, wait: float = 30.0) -> bool:
        """Start the runner, wait until it delivers something, SIGKILL it a random moment
        later. False when everything was already sent (nothing left to interrupt)."""
        process = self.start()
        before = len(self.sink.messages())
        deadline = time.monotonic() + wait
        try:
            while len(self.sink.messages()) == before:
                if process.poll() is not None:
                    raise AssertionError(f"the runner exited with {process.returncode}: "
                                         f"{(self.folder / 'stderr.log').read_text()[-2000:]}")
                if self.completed():
                    return False
                if time.monotonic() > deadline:
                    raise AssertionError("the runner sent nothing")
                time.sleep(0.005)
            time.sleep(self.rng.uniform(0, max_delay))
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                self.kills += 1
            process.wait(timeout=10)
        return True

    def stop_while_sending(self, delay: float = 0.05) -> int:
        """SIGTERM a runner that is sending; returns its exit code."""
        process = self.start()
        before = len(self.sink.messages())
        deadline = time.monotonic() + 30
        while len(self.sink.messages()) == before and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay)
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=30)

    def unsettled(self) -> int:
        with sqlite3.connect(self.data_dir / "mailmonitor.sqlite3", timeout=10) as conn:
            (count,) = conn.execute("SELECT COUNT(*) FROM send_record WHERE state = 'sending'"
                                    ).fetchone()
        return int(count)

    def started_runs(self) -> int:
        log = self.data_dir / "logs" / "mailmonitor.log"
        return log.read_text().count("headless runner started") if log.exists() else 0

    def finish(self, wait: float = 60.0) -> None:
        """A last run until every lead completed, then a graceful SIGTERM (exit 0)."""
        runs = self.started_runs()
        process = self.start()
        deadline = time.monotonic() + wait
        try:
            while not self.completed() or self.started_runs() == runs:
                if process.poll() is not None:
                    raise AssertionError(f"the runner exited with {process.returncode}")
                if time.monotonic() > deadline:
                    raise AssertionError("the campaign did not complete")
                time.sleep(0.05)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            self.exit_codes.append(process.wait(timeout=30))

    # --- what happened ------------------------------------------------------------------------

    def result(self, started: float) -> KillResult:
        messages: list[ReceivedMessage] = self.sink.messages()
        delivered: Counter[tuple[str, int]] = Counter()
        for message in messages:
            body = message.raw.split(b"\r\n\r\n", 1)[-1]
            step = next(n for n in range(1, self.steps + 1) if f"[step {n}]".encode() in body)
            delivered[(message.rcpt_tos[0], step)] += 1
        expected = {(f"k{i}@leads.example", n) for i in range(self.leads)
                    for n in range(1, self.steps + 1)}
        db_path = self.data_dir / "mailmonitor.sqlite3"
        with sqlite3.connect(db_path, timeout=10) as conn:
            (integrity,) = conn.execute("PRAGMA integrity_check").fetchone()
            states = Counter(dict(conn.execute(
                "SELECT state, COUNT(*) FROM send_record GROUP BY state").fetchall()))
            unknown = [(email, step + 1) for email, step in conn.execute(
                "SELECT lead.email, send_record.step FROM send_record JOIN lead "
                "ON lead.id = send_record.lead_id WHERE send_record.state = 'unknown'")]
            (alerts,) = conn.execute("SELECT COUNT(*) FROM alert WHERE kind = 'send_unknown' "
                                     "AND resolved_at IS NULL").fetchone()
        listing = json.loads(self.cli("leads", "list", CAMPAIGN, "--json").stdout)
        return KillResult(
            kills=self.kills, restarts=self.restarts, emails_expected=len(expected),
            delivered=delivered,
            duplicates=sorted(k for k, n in delivered.items() if n > 1),
            missing=sorted(expected - set(delivered)),
            record_states=states, unknown=sorted(unknown), integrity=str(integrity),
            leads=listing, seconds=time.monotonic() - started, exit_codes=self.exit_codes,
            reconciled=self.reconciled(), unknown_alerts=int(alerts),
        )

    def reconciled(self) -> Counter[str]:
        """Totals of the runners' "reconciled interrupted sends" log lines."""
        totals: Counter[str] = Counter()
        log = self.data_dir / "logs" / "mailmonitor.log"
        for line in log.read_text().splitlines():
            match = re.search(r"reconciled interrupted sends: ReconcileReport\((.*)\)", line)
            if match:
                for name, value in re.findall(r"(\w+)=(\d+)", match.group(1)):
                    totals[name] += int(value)
        return totals


def run_kill_test(pki: TestPKI, *, kills: int, leads: int, steps: int, mailboxes: int = 2,
                  provider: str = "filing", seed: int | None = None,
                  max_delay: float = 0.25) -> KillResult:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mm-kill-") as tmp, \
            mail_servers(pki, provider) as (dovecot, sink):
        runner = KillRunner(dovecot, sink, Path(tmp), provider, seed)
        runner.setup(mailboxes, leads, steps)
        for _ in range(kills):
            if not runner.kill_while_sending(max_delay):
                break
        runner.finish()
        return runner.result(started)
