"""Two `mailmonitor run --headless` copies on one PostgreSQL database, killed at random
(tests/integration/test_team_kill.py, benchmarks/bench_team.py).

Each copy has its own data folder and its own keyring file (tests/file_keyring.py), as two
machines would: copy 1's keyring holds every mailbox's password; copy 2's holds only the
"shared" mailboxes (stored there by `accounts reconnect --password-stdin`, the way a second
machine gets a secret). What reached the SMTP sink is counted by (lead, step) from the bodies.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2

from tests.kill_harness import CAMPAIGN, ROOT
from tests.servers.dovecot import Dovecot, MailUser
from tests.servers.smtp_sink import SmtpSink


@dataclass
class TeamKillResult:
    kills: int
    emails_expected: int
    delivered: Counter[tuple[str, int]]
    duplicates: list[tuple[str, int]]
    missing: list[tuple[str, int]]
    record_states: Counter[str]
    integrity: list[str]
    served_by: dict[str, set[int]]  # mailbox -> copies (1, 2) that served it at some point
    lease_generations: dict[str, int]
    exit_codes: list[int]
    seconds: float
    leads: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exactly_once(self) -> bool:
        return not self.duplicates and not self.missing


class TeamKillRunner:
    def __init__(self, dovecot: Dovecot, sink: SmtpSink, folder: Path, database_url: str,
                 *, lease_seconds: float = 1.0, seed: int | None = None,
                 provider: str = "filing", send_tick: float = 0.05) -> None:
        self.dovecot, self.sink, self.folder = dovecot, sink, folder
        self.url = database_url
        self.lease_seconds = lease_seconds
        self.provider = provider
        self.rng = random.Random(seed)
        self.steps = self.leads = 0
        self.kills = 0
        self.exit_codes: list[int] = []
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.env: dict[int, dict[str, str]] = {}
        for copy in (1, 2):
            (folder / f"copy{copy}").mkdir(parents=True, exist_ok=True)
            env = dict(os.environ)
            env.update({
                "PYTHONPATH": str(ROOT),
                "PYTHON_KEYRING_BACKEND": "tests.file_keyring.FileKeyring",
                "MAILMONITOR_TEST_KEYRING_FILE": str(folder / f"keyring{copy}.json"),
                "MAILMONITOR_DATABASE_URL": database_url,
                "MAILMONITOR_SEND_TICK": str(send_tick),
                "MAILMONITOR_MONITOR_TICK": "0.2",
                "MAILMONITOR_REPLY_POLL": "3600",
                "MAILMONITOR_RECONCILE_SETTLE": "1",
                "MAILMONITOR_LEASE_SECONDS": str(lease_seconds),
                "QT_QPA_PLATFORM": "offscreen",
            })
            self.env[copy] = env

    def data_dir(self, copy: int) -> Path:
        return self.folder / f"copy{copy}" / "data"

    def cli(self, copy: int, *args: str, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "mailmonitor", "--data-dir", str(self.data_dir(copy)), *args],
            input=stdin, capture_output=True, text=True, env=self.env[copy], timeout=120,
            cwd=ROOT)
        if result.returncode != 0:
            raise AssertionError(f"mailmonitor {' '.join(args)} failed: {result.stderr}")
        return result

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        with psycopg2.connect(self.url) as conn, conn.cursor() as cursor:
            cursor.execute(query)
            rows = cursor.fetchall()
        conn.close()
        return rows

    # --- setup -----------------------------------------------------------------------------------

    def setup(self, only_first: int, shared: int, leads: int, steps: int,
              daily_limit: int = 100000) -> tuple[list[MailUser], list[MailUser]]:
        """`only_first` mailboxes whose secret only copy 1 holds, `shared` ones both hold."""
        first = [self.dovecot.new_user() for _ in range(only_first)]
        both = [self.dovecot.new_user() for _ in range(shared)]
        kind = "gmail" if self.provider == "filing" else "imap"
        for user in [*first, *both]:
            self.cli(1, "accounts", "add", "--email", user.email, "--kind", kind,
                     "--imap-host", self.dovecot.host, "--imap-port",
                     str(self.dovecot.imap_port), "--imap-security", "starttls",
                     "--smtp-host", self.dovecot.host, "--smtp-port",
                     str(self.dovecot.submission_port), "--smtp-security", "starttls",
                     "--ca-file", str(self.dovecot.pki.ca_cert), "--password-stdin",
                     "--daily-limit", str(daily_limit), "--min-gap", "0",
                     stdin=user.password + "\n")
        for user in both:  # the second machine stores the shared mailboxes' passwords
            self.cli(2, "accounts", "reconnect", user.email, "--password-stdin",
                     stdin=user.password + "\n")
        steps_file = self.folder / "steps.json"
        steps_file.write_text(json.dumps([
            {"subject": "Hello {{first_name}}" if n == 0 else "",
             "body": f"Hi {{{{first_name|there}}}} [step {n + 1}]", "delay_days": 0}
            for n in range(steps)]))
        args = ["campaigns", "create", CAMPAIGN, "--steps", str(steps_file)]
        for user in [*first, *both]:
            args += ["--mailbox", user.email]
        self.cli(1, *args)
        leads_file = self.folder / "leads.csv"
        leads_file.write_text("email,first_name\n" + "".join(
            f"k{i}@leads.example,Lead{i}\n" for i in range(leads)))
        self.cli(1, "leads", "import", CAMPAIGN, str(leads_file))
        self.steps, self.leads = steps, leads
        return first, both

    # --- running and killing -------------------------------------------------------------------

    def start(self, copy: int) -> subprocess.Popen[bytes]:
        # The child keeps its own copy of the log's descriptor; ours is closed at once.
        with (self.folder / f"copy{copy}" / "stderr.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "mailmonitor", "--data-dir", str(self.data_dir(copy)),
                 "run", "--headless"], env=self.env[copy], cwd=ROOT, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=log)
        self.processes[copy] = process
        return process

    def left(self) -> int:
        ((count,),) = self.sql("SELECT COUNT(*) FROM lead WHERE state != 'completed'")
        return int(count)

    def _check_alive(self) -> None:
        for copy, process in self.processes.items():
            if process.poll() is not None:
                log = (self.folder / f"copy{copy}" / "stderr.log").read_text()[-2000:]
                raise AssertionError(f"copy {copy} exited with {process.returncode}: {log}")

    def kill_one_while_sending(self, max_delay: float, wait: float = 60.0) -> bool:
        """Both copies run; after the next delivery, one is SIGKILLed a random moment later
        and started again. False when nothing is left to send."""
        for copy in (1, 2):
            if copy not in self.processes or self.processes[copy].poll() is not None:
                self.start(copy)
        before = len(self.sink.messages())
        deadline = time.monotonic() + wait
        while len(self.sink.messages()) == before:
            self._check_alive()
            if self.left() == 0:
                return False
            if time.monotonic() > deadline:
                raise AssertionError("the copies sent nothing")
            time.sleep(0.01)
        time.sleep(self.rng.uniform(0, max_delay))
        # The copies take turns; every fourth kill keeps its copy down for longer than a lease
        # (a closed laptop lid), so the other copy takes over what both can serve. Not two in a
        # row: meanwhile the other copy sends on alone, and two long pauses back to back let it
        # finish the campaign before the kills have landed.
        victim = 1 + self.kills % 2
        down = self.lease_seconds * 2 + 0.5 if self.kills % 4 == 3 else 0.0
        process = self.processes[victim]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        self.kills += 1
        time.sleep(down)
        self.start(victim)
        return True

    def finish(self, wait: float = 120.0) -> None:
        """Both run until every lead completed; then a graceful SIGTERM to each (exit 0)."""
        for copy in (1, 2):
            if copy not in self.processes or self.processes[copy].poll() is not None:
                self.start(copy)
        deadline = time.monotonic() + wait
        try:
            while self.left():
                self._check_alive()
                if time.monotonic() > deadline:
                    raise AssertionError(f"the campaign did not complete ({self.left()} left)")
                time.sleep(0.05)
        finally:
            for copy, process in self.processes.items():
                self._wait_started(copy, process)
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in self.processes.values():
                self.exit_codes.append(process.wait(timeout=30))

    def _wait_started(self, copy: int, process: subprocess.Popen[bytes],
                      wait: float = 30.0) -> None:
        """Until a copy started again just now has its SIGTERM handler (its "started" line):
        a SIGTERM during its start-up ends it before it could stop gracefully."""
        log = self.data_dir(copy) / "logs" / "mailmonitor.log"
        marker = f"headless runner started (pid {process.pid})"
        deadline = time.monotonic() + wait
        while process.poll() is None and time.monotonic() < deadline:
            if log.exists() and marker in log.read_text(errors="replace"):
                return
            time.sleep(0.02)

    def run_until_delivered(self, count: int, wait: float = 120.0) -> int:
        """Both copies run (started if needed) until the sink holds `count` messages."""
        for copy in (1, 2):
            if copy not in self.processes or self.processes[copy].poll() is not None:
                self.start(copy)
        deadline = time.monotonic() + wait
        while len(self.sink.messages()) < count:
            self._check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.sink.messages())} of {count} delivered")
            time.sleep(0.01)
        return len(self.sink.messages())

    def seconds_to_next_delivery(self, wait: float = 120.0) -> float:
        """From now until the sink receives one more message (the copies must keep running)."""
        started = time.monotonic()
        before = len(self.sink.messages())
        while len(self.sink.messages()) == before:
            self._check_alive()
            if time.monotonic() - started > wait:
                raise AssertionError(f"nothing was delivered for {wait:.0f} s")
            time.sleep(0.01)
        return time.monotonic() - started

    def log_text(self, copy: int) -> str:
        """Everything copy `copy` logged (the current log file and rotated ones)."""
        folder = self.data_dir(copy) / "logs"
        return "".join(path.read_text(errors="replace")
                       for path in sorted(folder.glob("mailmonitor.log*")))

    def stderr_text(self, copy: int) -> str:
        path = self.folder / f"copy{copy}" / "stderr.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    # --- what happened -------------------------------------------------------------------------

    def served_by(self) -> dict[str, set[int]]:
        """Mailboxes each copy took at some point (from their logs' "now serving" lines)."""
        emails = dict(self.sql("SELECT id, email FROM account"))
        out: dict[str, set[int]] = {e: set() for e in emails.values()}
        for copy in (1, 2):
            log = self.data_dir(copy) / "logs" / "mailmonitor.log"
            for match in re.finditer(r"now serving mailboxes \[([\d, ]+)\]",
                                     log.read_text() if log.exists() else ""):
                for ident in match.group(1).split(","):
                    out[emails[int(ident)]].add(copy)
        return out

    def integrity(self) -> list[str]:
        """Consistency of what the database says about the sends (empty: consistent)."""
        problems = [f"lead {email}: cursor {cursor}, {sent} sent, {records} records"
                    for email, cursor, sent, records in self.sql(
                        "SELECT l.email, l.cursor, l.messages_sent, COUNT(r.id) FROM lead l "
                        "LEFT JOIN send_record r ON r.lead_id = l.id AND r.state IN "
                        "('sent', 'unknown') GROUP BY l.id HAVING l.cursor != l.messages_sent "
                        "OR l.messages_sent != COUNT(r.id)")]
        problems += [f"lead {lead} step {step}: {n} sent records" for lead, step, n in self.sql(
            "SELECT lead_id, step, COUNT(*) FROM send_record WHERE state IN ('sent', 'unknown') "
            "GROUP BY lead_id, step HAVING COUNT(*) > 1")]
        return problems

    def result(self, started: float) -> TeamKillResult:
        delivered: Counter[tuple[str, int]] = Counter()
        for message in self.sink.messages():
            body = message.raw.split(b"\r\n\r\n", 1)[-1]
            step = next(n for n in range(1, self.steps + 1) if f"[step {n}]".encode() in body)
            delivered[(message.rcpt_tos[0], step)] += 1
        expected = {(f"k{i}@leads.example", n) for i in range(self.leads)
                    for n in range(1, self.steps + 1)}
        states = Counter(dict(self.sql("SELECT state, COUNT(*) FROM send_record GROUP BY state")))
        generations = dict(self.sql("SELECT a.email, l.generation FROM mailbox_lease l "
                                    "JOIN account a ON a.id = l.account_id"))
        listing = json.loads(self.cli(1, "leads", "list", CAMPAIGN, "--json").stdout)
        return TeamKillResult(
            kills=self.kills, emails_expected=len(expected), delivered=delivered,
            duplicates=sorted(k for k, n in delivered.items() if n > 1),
            missing=sorted(expected - set(delivered)), record_states=states,
            integrity=self.integrity(), served_by=self.served_by(),
            lease_generations=generations, exit_codes=self.exit_codes,
            seconds=time.monotonic() - started, leads=listing)
