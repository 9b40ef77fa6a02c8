"""The always-on sender's deployment (docs/team.md): the wrapper keeps the mailboxes' secrets in
a GNOME Keyring unlocked from a password file, inside a private D-Bus session — a keyring that
works with no desktop session — and the systemd unit and container file run it that way."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.kill_harness import ROOT
from tests.servers.dovecot import Dovecot, MailUser

pytestmark = pytest.mark.integration

TEAM = ROOT / "packaging" / "team"
WRAPPER = TEAM / "mailmonitor-sender"


def run_wrapper(home: Path, password_file: Path, *args: str, stdin: str | None = None
                ) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "LANG": "C.UTF-8", "PYTHONPATH": str(ROOT),
           "MAILMONITOR_BIN": f"{sys.executable} -m mailmonitor",
           "MAILMONITOR_DATA_DIR": str(home / "data"),
           "MAILMONITOR_KEYRING_PASSWORD_FILE": str(password_file)}
    return subprocess.run([str(WRAPPER), *args], input=stdin, env=env, capture_output=True,
                          text=True, timeout=90, cwd=ROOT, check=False)


def test_the_wrapper_keeps_secrets_in_a_keyring_that_needs_no_desktop(
        dovecot: Dovecot, dovecot_user: MailUser) -> None:
    for tool in ("dbus-run-session", "gnome-keyring-daemon"):
        assert shutil.which(tool), f"{tool} is missing: apt-get install dbus gnome-keyring"
    home = Path(tempfile.mkdtemp(prefix="mm-sender-home-"))
    try:
        password_file = home / "keyring-password"
        password_file.write_text("unlock-" + os.urandom(8).hex())
        password_file.chmod(0o600)
        added = run_wrapper(
            home, password_file, "accounts", "add", "--email", dovecot_user.email,
            "--imap-host", dovecot.host, "--imap-port", str(dovecot.imap_port),
            "--imap-security", "starttls", "--smtp-host", dovecot.host, "--smtp-port",
            str(dovecot.submission_port), "--smtp-security", "starttls", "--ca-file",
            str(dovecot.pki.ca_cert), "--password-stdin", stdin=dovecot_user.password + "\n")
        assert added.returncode == 0, added.stderr
        # A new D-Bus session and keyring daemon (as after a reboot): the secret is read back.
        checked = run_wrapper(home, password_file, "check", "--json", dovecot_user.email)
        assert checked.returncode == 0, checked.stderr
        assert [row["status"] for row in json.loads(checked.stdout)] == ["connected"]
        keyrings = list((home / ".local/share/keyrings").glob("*.keyring"))
        assert keyrings, "nothing was stored in GNOME Keyring"
        for path in [*keyrings, *(home / "data").rglob("*")]:
            if path.is_file():  # encrypted at rest, never in the data folder or its logs
                assert dovecot_user.password.encode() not in path.read_bytes(), path
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_the_wrapper_without_its_password_file_says_so(tmp_path: Path) -> None:
    result = run_wrapper(tmp_path, tmp_path / "missing", "run", "--headless")
    assert result.returncode == 78
    assert result.stderr.strip() == (
        f"mailmonitor-sender: no keyring password file at {tmp_path / 'missing'}")


def unit_entries(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A unit file's sections as (key, value) lists (keys like Environment= repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections[current] = []
        else:
            key, _, value = line.partition("=")
            sections[current].append((key.strip(), value.strip()))
    return sections


def test_the_systemd_unit_runs_the_headless_sender_with_a_credential_and_restarts() -> None:
    unit = unit_entries(TEAM / "mailmonitor-sender.service")
    service = dict(unit["Service"])
    environment = [v for k, v in unit["Service"] if k == "Environment"]
    assert service["ExecStart"] == "/usr/local/bin/mailmonitor-sender run --headless"
    assert service["Restart"] == "on-failure"
    assert service["LoadCredential"].startswith("keyring-password:")
    assert service["KillSignal"] == "SIGTERM" and service["User"] == "mailmonitor"
    assert any(e.startswith("MAILMONITOR_DATABASE_URL=postgresql://") and
               "sslmode=verify-full" in e for e in environment)
    assert dict(unit["Install"])["WantedBy"] == "multi-user.target"
    assert "network-online.target" in dict(unit["Unit"])["After"]


def test_the_container_file_runs_the_same_wrapper() -> None:
    text = (TEAM / "Containerfile").read_text()
    assert "gnome-keyring" in text and "dbus" in text
    assert 'ENTRYPOINT ["/usr/local/bin/mailmonitor-sender"]' in text
    assert 'CMD ["run", "--headless"]' in text
    assert "MAILMONITOR_KEYRING_PASSWORD_FILE=/run/secrets/keyring-password" in text
    assert "USER mailmonitor" in text  # not root
