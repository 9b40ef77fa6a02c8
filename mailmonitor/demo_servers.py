"""Small in-process mail servers for `mailmonitor demo` (no Dovecot needed): an IMAP server that
speaks enough of RFC 3501 for a login check, and an aiosmtpd SMTP server with AUTH.

Each user has a password and optionally a scripted failure, so the demo can show every reason and
a reconnect that really succeeds once the rep types the new password."""

from __future__ import annotations

import logging
import shlex
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class DemoUser:
    password: str
    imap_refusal: str | None = None  # a scripted NO answer to LOGIN, e.g. Gmail's ALERT
    smtp_refusal: tuple[int, str] | None = None


@dataclass
class Directory:
    users: dict[str, DemoUser] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: list[bytes] = field(default_factory=list)

    def check(self, user: str, password: str) -> DemoUser | None:
        with self.lock:
            found = self.users.get(user.lower())
        return found if found is not None and found.password == password else None

    def get(self, user: str) -> DemoUser | None:
        with self.lock:
            return self.users.get(user.lower())


class _ImapHandler(socketserver.StreamRequestHandler):
    directory: Directory
    timeout = 60

    def send(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self.send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN ID] mailmonitor demo IMAP ready")
        logged_in = False
        while True:
            raw = self.rfile.readline(65536)
            if not raw:
                return
            try:
                parts = shlex.split(raw.decode(errors="replace").strip())
            except ValueError:
                parts = raw.decode(errors="replace").split()
            if len(parts) < 2:
                self.send("* BAD empty command")
                continue
            tag, command, args = parts[0], parts[1].upper(), parts[2:]
            if command == "CAPABILITY":
                self.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN ID")
                self.send(f"{tag} OK CAPABILITY completed")
            elif command == "ID":
                self.send('* ID ("name" "mailmonitor-demo")')
                self.send(f"{tag} OK ID completed")
            elif command == "LOGIN" and len(args) == 2:
                user = self.directory.get(args[0])
                if user is not None and user.imap_refusal:
                    self.send(f"{tag} NO {user.imap_refusal}")
                elif self.directory.check(args[0], args[1]):
                    logged_in = True
                    self.send(f"{tag} OK [CAPABILITY IMAP4rev1] Logged in")
                else:
                    self.send(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed.")
            elif command in ("SELECT", "EXAMINE") and logged_in:
                self.send("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
                self.send("* 0 EXISTS")
                self.send("* 0 RECENT")
                self.send("* OK [UIDVALIDITY 1] UIDs valid")
                self.send(f"{tag} OK [READ-ONLY] {command} completed")
            elif command == "NOOP":
                self.send(f"{tag} OK NOOP completed")
            elif command == "LOGOUT":
                self.send("* BYE Logging out")
                self.send(f"{tag} OK LOGOUT completed")
                return
            else:
                self.send(f"{tag} BAD Command not supported in the demo")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


# aiosmtpd logs a warning about its own deprecated attribute on every login; not ours to fix.
logging.getLogger("mail.log").addFilter(
    lambda record: "login_data is deprecated" not in record.getMessage())


class _Authenticator:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        user = self.directory.get(login)
        if user is not None and user.smtp_refusal:
            code, text = user.smtp_refusal
            return AuthResult(success=False, handled=False, message=f"{code} {text}")
        ok = self.directory.check(login, auth_data.password.decode())
        return AuthResult(success=ok is not None, handled=False)


class _Sink:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.directory.lock:
            self.directory.sent.append(envelope.content)
        return "250 2.0.0 Message accepted by the demo server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DemoServers:
    """Both servers on 127.0.0.1, ephemeral ports, plain text (it is a demo on loopback)."""

    def __init__(self) -> None:
        self.directory = Directory()
        handler = type("DemoImap", (_ImapHandler,), {"directory": self.directory})
        self._imap = _Server(("127.0.0.1", 0), handler)
        self.imap_port = int(self._imap.server_address[1])
        self.smtp_port = free_port()
        self._smtp = Controller(
            _Sink(self.directory), hostname="127.0.0.1", port=self.smtp_port,
            authenticator=_Authenticator(self.directory), auth_require_tls=False,
            auth_exclude_mechanism=["CRAM-MD5"], ready_timeout=5,
        )
        self._thread: threading.Thread | None = None

    def start(self) -> DemoServers:
        self._thread = threading.Thread(target=self._imap.serve_forever, daemon=True,
                                        name="demo-imap")
        self._thread.start()
        self._smtp.start()
        return self

    def stop(self) -> None:
        self._imap.shutdown()
        self._imap.server_close()
        self._smtp.stop()

    def add_user(self, email: str, password: str, **kwargs: Any) -> None:
        with self.directory.lock:
            self.directory.users[email.lower()] = DemoUser(password, **kwargs)
