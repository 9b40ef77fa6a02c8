"""Spec §6: "No email is sent twice, even if mailmonitor is killed in the middle of a send".

`mailmonitor run --headless` runs as a subprocess and is killed with SIGKILL at random moments
while it sends (each kill lands a random 0-250 ms after a delivery, i.e. inside the next sends),
then restarted, until the campaign completes; a last SIGTERM must stop it cleanly (exit 0).
What reached the SMTP sink is counted by (lead, step) from the message bodies, independently of
the app's own records. benchmarks/kill_test.py runs the same harness at a larger scale.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.kill_harness import CAMPAIGN, KillRunner, mail_servers, run_kill_test
from tests.servers.certs import TestPKI

pytestmark = pytest.mark.integration


def test_killed_at_random_every_step_of_every_lead_is_delivered_exactly_once(
        test_pki: TestPKI) -> None:
    """A provider that files every SMTP send in Sent (Gmail, Microsoft 365; here Dovecot's relay
    target does it): the server's record decides every interrupted send."""
    # A kill at most 30 ms after the first delivery of each run: even at full speed (hundreds of
    # emails a second) ten runs cannot finish the 80 emails before they are all interrupted.
    result = run_kill_test(test_pki, kills=10, leads=40, steps=2, mailboxes=2, seed=None,
                           max_delay=0.03)
    assert result.kills == 10
    assert result.duplicates == [], "an email was delivered twice"
    assert result.missing == [], "a step was never delivered"
    assert sum(result.delivered.values()) == result.emails_expected == 80
    assert result.unknown == [] and result.record_states["sending"] == 0
    assert result.integrity == "ok"
    assert result.exit_codes == [0]  # SIGTERM: graceful
    assert {(lead["cursor"], lead["messages_sent"], lead["state"]) for lead in result.leads} \
        == {(2, 2, "completed")}  # what `leads list` shows


def test_killed_at_random_without_a_server_copy_nothing_is_sent_twice(
        test_pki: TestPKI) -> None:
    """A provider that keeps no copy of SMTP sends (the app files them itself after the 250):
    an email cut off between the end of data and the server's answer cannot be checked. It is
    never re-sent; it is counted as sent and named to the rep."""
    result = run_kill_test(test_pki, kills=6, leads=40, steps=2, mailboxes=2,
                           provider="plain", max_delay=0.03)
    assert result.kills == 6
    assert result.duplicates == [], "an email was delivered twice"
    assert set(result.missing) <= set(result.unknown)  # anything missing was named
    assert result.record_states["sending"] == 0
    if result.unknown:
        assert result.unknown_alerts >= 1
    assert result.integrity == "ok"
    assert result.exit_codes == [0]
    assert {(lead["cursor"], lead["state"]) for lead in result.leads} == {(2, "completed")}


def test_sigterm_while_sending_finishes_and_records_the_email_in_flight(test_pki: TestPKI
                                                                       ) -> None:
    with tempfile.TemporaryDirectory(prefix="mm-term-") as tmp, \
            mail_servers(test_pki) as (dovecot, sink):
        runner = KillRunner(dovecot, sink, Path(tmp))
        runner.setup(mailboxes=1, leads=30, steps=1)
        assert runner.stop_while_sending() == 0
        assert runner.unsettled() == 0  # nothing left half-done for the next start
        delivered = len(sink.messages())
        assert 0 < delivered < 30
        listing = json.loads(runner.cli("leads", "list", CAMPAIGN, "--json").stdout)
        assert sum(lead["messages_sent"] for lead in listing) == delivered
        text = runner.cli("leads", "list", CAMPAIGN).stdout.splitlines()
        # The window's words: "Step 1 of 1", "Completed" / "Not contacted yet".
        assert sum("Step 1 of 1  Completed            1 sent" in line for line in text) \
            == delivered
        assert sum("Step 1 of 1  Not contacted yet    0 sent" in line for line in text) \
            == 30 - delivered


def test_a_second_runner_on_the_same_data_folder_is_refused(test_pki: TestPKI) -> None:
    with tempfile.TemporaryDirectory(prefix="mm-lock-") as tmp, \
            mail_servers(test_pki) as (dovecot, sink):
        runner = KillRunner(dovecot, sink, Path(tmp))
        runner.setup(mailboxes=1, leads=1, steps=1)
        first = runner.start()
        try:
            deadline = time.monotonic() + 30
            while runner.started_runs() == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            second = subprocess.run(
                [sys.executable, "-m", "mailmonitor", "--data-dir", str(runner.data_dir), "run",
                 "--headless"], env=runner.env, capture_output=True, text=True, timeout=30)
            assert second.returncode == 1
            assert "already running" in second.stderr
        finally:
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=30) == 0
