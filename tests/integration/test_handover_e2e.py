"""Issue 21, part 3, end to end: a rep's copy signs a Gmail-style mailbox in (loopback identity
provider, without a browser on that machine), hands the sign-in over to a `run --headless`
copy whose keyring is empty, and is done; the headless copy sends the whole campaign through
Dovecot with XOAUTH2, refreshing the token itself. A dump of the database and every log and
output hold no token, no client secret and no private key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest

from tests.integration.oauth_support import oauth_add_args
from tests.kill_harness import ROOT
from tests.servers.dovecot import Dovecot
from tests.servers.idp import IdentityProvider, TestBrowser
from tests.servers.postgres import PostgresServer
from tests.servers.smtp_sink import SmtpSink

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

LEADS = 20
Rep = Callable[[str, IO[str]], bool]


class Computer:
    """One machine's mailmonitor: its data folder and its own keyring file."""

    def __init__(self, name: str, folder: Path, base_env: dict[str, str]) -> None:
        self.name = name
        self.data = folder / name / "data"
        self.keyring = folder / name / "keyring.json"
        self.data.mkdir(parents=True)
        self.env = {**base_env, "MAILMONITOR_DATA_DIR": str(self.data),
                    "MAILMONITOR_TEST_KEYRING_FILE": str(self.keyring)}
        self.outputs: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    def cli(self, *args: str, rep: Rep | None = None) -> tuple[int, str, str]:
        out: list[str] = []
        with subprocess.Popen([sys.executable, "-m", "mailmonitor", *args], env=self.env,
                              cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) as process:
            assert process.stdout and process.stdin and process.stderr

            def follow() -> None:
                acted = rep is None
                for line in process.stdout:  # type: ignore[union-attr]
                    out.append(line)
                    if not acted:
                        acted = rep("".join(out), process.stdin)  # type: ignore[arg-type,misc]

            reader = threading.Thread(target=follow, daemon=True)
            reader.start()
            err = process.stderr.read()
            code = process.wait(timeout=120)
            reader.join(timeout=10)
        self.outputs += ["".join(out), err]
        return code, "".join(out), err

    def start_headless(self) -> None:
        log = (self.data.parent / "stderr.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mailmonitor", "run", "--headless"], env=self.env, cwd=ROOT,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, text=True)
        log.close()

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def texts(self) -> str:
        logs = "".join(p.read_text(errors="replace")
                       for p in (self.data / "logs").glob("mailmonitor.log*"))
        stderr = self.data.parent / "stderr.log"
        return logs + "".join(self.outputs) + (stderr.read_text() if stderr.exists() else "")


def paste_back(idp: IdentityProvider) -> Rep:
    device = TestBrowser(idp)

    def act(printed: str, stdin: IO[str]) -> bool:
        if "paste it here" not in printed:
            return False
        url = next(w for w in printed.split() if w.startswith("https://"))
        stdin.write(device.redirected_address(url) + "\n")
        stdin.flush()
        return True

    return act


def wait_for(condition: Callable[[], Any], what: str, seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_gmail_sign_in_handed_over_to_an_empty_sender_which_sends_the_campaign(
        idp: IdentityProvider, dovecot_oauth: Dovecot, smtp_sink_server: SmtpSink,
        postgres: PostgresServer, tmp_path: Path) -> None:
    url = postgres.create_database("handover_e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILMONITOR_")}
    env.update({"PYTHONPATH": str(ROOT), "MAILMONITOR_DATABASE_URL": url,
                "PYTHON_KEYRING_BACKEND": "tests.file_keyring.FileKeyring",
                "REQUESTS_CA_BUNDLE": str(idp.pki.ca_cert), "BROWSER": "false",
                "MAILMONITOR_SEND_TICK": "0.1", "MAILMONITOR_MONITOR_TICK": "0.5",
                "MAILMONITOR_REPLY_POLL": "3600", "MAILMONITOR_LEASE_SECONDS": "3",
                "QT_QPA_PLATFORM": "offscreen"})
    laptop, server = Computer("laptop", tmp_path, env), Computer("server", tmp_path, env)
    email = dovecot_oauth.new_user().email
    google = idp.env()
    try:
        # The team's Google client, set up once from the rep's computer: the ID in the
        # database, the client secret in this computer's keyring only.
        assert laptop.cli("oauth", "setup", "--google-client-id",
                          google["MAILMONITOR_GOOGLE_CLIENT_ID"], "--google-client-secret",
                          google["MAILMONITOR_GOOGLE_CLIENT_SECRET"], "--google-auth-uri",
                          google["MAILMONITOR_GOOGLE_AUTH_URI"], "--google-token-uri",
                          google["MAILMONITOR_GOOGLE_TOKEN_URI"])[0] == 0
        code, _, err = laptop.cli(*oauth_add_args("gmail", email, dovecot_oauth),
                                  "--no-browser", rep=paste_back(idp))
        assert code == 0, err
        steps = tmp_path / "steps.json"
        steps.write_text(json.dumps([{"subject": "Hi {{first_name}}", "body": "Hello [step 1]",
                                      "delay_days": 0}]))
        assert laptop.cli("campaigns", "create", "Handed over", "--mailbox", email,
                          "--steps", str(steps))[0] == 0
        leads = tmp_path / "leads.csv"
        leads.write_text("email,first_name\n" + "".join(
            f"h{i}@handover.example,H{i}\n" for i in range(LEADS)))
        assert laptop.cli("leads", "import", "Handed over", str(leads))[0] == 0

        # The always-on sender starts with an empty keyring: it cannot serve the mailbox.
        server.start_headless()
        senders = wait_for(lambda: json.loads(laptop.cli("team", "senders", "--json")[1]),
                           "the sender's key on the database")
        (sender,) = senders
        assert (sender["kind"], sender["mailboxes"]) == ("headless", [])
        assert len(sender["fingerprint"]) == 39
        time.sleep(1.0)
        assert not [m for m in smtp_sink_server.messages()
                    if m.rcpt_tos[0].endswith("@handover.example")]

        started = time.monotonic()
        code, out, err = laptop.cli("accounts", "hand-over", email, "--to", sender["machine"])
        handed = time.monotonic() - started
        assert code == 0, err
        assert f"Handed {email} over to {sender['machine']} (headless, fingerprint " \
               f"{sender['fingerprint']})" in out
        assert "this computer no longer holds it" in out
        # The laptop is done: nothing of the sign-in is left on it.
        keyring_a = json.loads(laptop.keyring.read_text())
        assert not [k for k in keyring_a if k.startswith(email)]

        delivered = wait_for(lambda: len([m for m in smtp_sink_server.messages()
                                          if m.rcpt_tos[0].endswith("@handover.example")])
                             >= LEADS and time.monotonic(), "the campaign to be sent")
        print(f"\nhand-over stored after {handed:.1f} s (command included); whole campaign "
              f"sent {delivered - started:.1f} s after the hand-over began")
        rows = json.loads(laptop.cli("leads", "list", "Handed over", "--json")[1])
        assert {r["state"] for r in rows} == {"completed"} and len(rows) == LEADS
        assert idp.stats.refreshes.get(email, 0) >= 1  # the sender refreshed it itself
        senders = json.loads(laptop.cli("team", "senders", "--json")[1])
        assert senders[0]["mailboxes"] == [email]
    finally:
        code = server.stop()
    assert code == 0
    dump = postgres._run(str(postgres.bin / "pg_dump"), "-h", postgres.host, "-p",
                         str(postgres.port), "-U", "mm", "-d", "handover_e2e").stdout
    postgres.drop_database("handover_e2e")
    assert "CREATE TABLE public.sealed_secret" in dump
    keyring_b = json.loads(server.keyring.read_text())
    secrets_seen = [*idp.issued_tokens(), *idp.issued_codes(),
                    google["MAILMONITOR_GOOGLE_CLIENT_SECRET"], *keyring_b.values()]
    assert len(secrets_seen) > 3
    everything = dump + laptop.texts() + server.texts()
    leaked = [s[:12] for s in secrets_seen if s and s in everything]
    assert leaked == []
