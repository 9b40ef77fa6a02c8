"""Run inside a network namespace of its own (`unshare --net`, see test_offline_headless.py):
only loopback exists there, so the operating system reports "no network" — a real offline
computer, not a simulated one. It starts Dovecot and the sink on loopback, adds one mailbox on
them and one on an internet host, runs `mailmonitor run --headless` until both have a status,
and prints what it saw as JSON. Not a test module itself."""

from __future__ import annotations

import fcntl
import json
import signal
import socket
import sqlite3
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.kill_harness import KillRunner, mail_servers  # noqa: E402
from tests.servers.certs import shared_test_pki  # noqa: E402

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def loopback_up() -> None:
    """A new network namespace starts with `lo` down (no `ip` tool needed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


def statuses(data_dir: Path) -> dict[str, list[object]]:
    with sqlite3.connect(f"file:{data_dir / 'mailmonitor.sqlite3'}?mode=ro", uri=True,
                         timeout=10) as conn:
        rows = conn.execute("SELECT email, status, reason, (SELECT COUNT(*) FROM `check` "
                            "WHERE `check`.account_id = account.id) FROM account").fetchall()
    return {email: [status, reason, checks] for email, status, reason, checks in rows}


def main() -> int:
    loopback_up()
    with tempfile.TemporaryDirectory(prefix="mm-offline-") as tmp, \
            mail_servers(shared_test_pki(), provider="plain") as (dovecot, sink):
        runner = KillRunner(dovecot, sink, Path(tmp), provider="plain")
        local = dovecot.new_user()
        runner.cli("accounts", "add", "--email", local.email, "--imap-host", dovecot.host,
                   "--imap-port", str(dovecot.imap_port), "--imap-security", "starttls",
                   "--smtp-host", dovecot.host, "--smtp-port", str(dovecot.submission_port),
                   "--smtp-security", "starttls", "--ca-file", str(dovecot.pki.ca_cert),
                   "--password-stdin", stdin=local.password + "\n")
        runner.cli("accounts", "add", "--email", "rep@example.com", "--imap-host",
                   "imap.example.com", "--imap-port", "993", "--imap-security", "ssl",
                   "--smtp-host", "smtp.example.com", "--smtp-port", "465",
                   "--smtp-security", "ssl", "--password-stdin", stdin="pw\n")
        process = runner.start()
        seen: dict[str, list[object]] = {}
        deadline = time.monotonic() + 40
        try:
            while time.monotonic() < deadline and process.poll() is None:
                seen = statuses(runner.data_dir)
                if seen.get(local.email, [None])[0] == "connected" and \
                        seen.get("rep@example.com", [None])[0] == "offline":
                    break
                time.sleep(0.1)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
        log = (runner.data_dir / "logs" / "mailmonitor.log").read_text()
        print(json.dumps({"local": local.email, "statuses": seen, "exit": code,
                          "offline_logged": "this computer is offline" in log,
                          "backend": next((line.split("backend: ")[1] for line in
                                           log.splitlines() if "backend: " in line), None)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
