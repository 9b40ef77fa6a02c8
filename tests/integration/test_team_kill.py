"""Issue 15: two `run --headless` copies on one PostgreSQL database, SIGKILLed at random while
they send. Copy 1's keyring holds mailbox A's and B's passwords, copy 2's only B's. Every one
of the 200 emails reaches the sink exactly once; B's lease moves between the copies; A is never
served by copy 2; the database stays consistent; a last SIGTERM stops both cleanly."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from tests.kill_harness import mail_servers
from tests.servers.certs import TestPKI
from tests.servers.postgres import PostgresServer
from tests.team_kill_harness import TeamKillRunner

pytestmark = pytest.mark.integration


def test_two_copies_killed_at_random_deliver_every_email_exactly_once(
        test_pki: TestPKI, postgres: PostgresServer) -> None:
    started = time.monotonic()
    name = "team_kill"
    postgres.create_database(name)
    with tempfile.TemporaryDirectory(prefix="mm-teamkill-") as tmp, \
            mail_servers(test_pki) as (dovecot, sink):
        runner = TeamKillRunner(dovecot, sink, Path(tmp), postgres.url(name), lease_seconds=1)
        try:
            (a,), (b,) = runner.setup(only_first=1, shared=1, leads=100, steps=2)
            kills = 0
            while kills < 8 and runner.kill_one_while_sending(max_delay=0.3):
                kills += 1
            runner.finish()
        finally:
            runner.stop_all()
        result = runner.result(started)
    postgres.drop_database(name)

    assert result.kills >= 6, "the campaign finished before the kills landed"
    assert result.duplicates == [], "an email was delivered twice"
    assert result.missing == [], "an email was never delivered"
    assert sum(result.delivered.values()) == result.emails_expected == 200
    assert result.record_states["sending"] == 0 and result.record_states["unknown"] == 0
    assert result.integrity == []
    assert result.exit_codes == [0, 0]  # SIGTERM: both stop gracefully
    assert result.served_by[a.email] == {1}  # only copy 1's keyring can send from A
    assert result.served_by[b.email] == {1, 2}, "B's lease never moved between the copies"
    assert result.lease_generations[b.email] >= 2
    assert {(lead["cursor"], lead["messages_sent"], lead["state"]) for lead in result.leads} \
        == {(2, 2, "completed")}
