"""Small in-process mail servers for `mailmonitor demo` (no Dovecot needed): an IMAP server that
speaks the part of RFC 3501 mailmonitor uses — logging in, the INBOX with its replies, a Sent
folder that takes copies (APPEND), a Junk folder, SEARCH, FETCH, STORE and EXPUNGE for the
round trip — and an aiosmtpd SMTP server with AUTH that delivers to the demo users' INBOXes.

Each user has a password and optionally a scripted refusal (Gmail's "application-specific
password required"), lifted by the app password the demo tells the rep, so every broken demo
mailbox can really be fixed from the window."""

from __future__ import annotations

import fnmatch
import logging
import re
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SEPARATOR = "/"
FOLDERS = (("INBOX", ""), ("Sent", "\\Sent"), ("Junk", "\\Junk"))
CAPABILITIES = "IMAP4rev1 AUTH=PLAIN ID SPECIAL-USE UIDPLUS"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass
class Message:
    uid: int
    data: bytes
    when: datetime
    flags: set[str] = field(default_factory=set)

    def header(self, name: str) -> str:
        headers = BytesHeaderParser().parsebytes(self.data)
        return " ".join(str(v) for v in headers.get_all(name, []))

    def header_bytes(self) -> bytes:
        end = self.data.find(b"\r\n\r\n")
        return self.data if end < 0 else self.data[:end + 4]


@dataclass
class Folder:
    messages: list[Message] = field(default_factory=list)
    uidnext: int = 1
    uidvalidity: int = 1

    def add(self, data: bytes, when: datetime, flags: set[str] | None = None) -> int:
        uid = self.uidnext
        self.uidnext += 1
        self.messages.append(Message(uid, data, when, set(flags or ())))
        return uid


@dataclass
class DemoUser:
    password: str
    imap_refusal: str | None = None  # a scripted NO answer to LOGIN, e.g. Gmail's ALERT
    smtp_refusal: tuple[int, str] | None = None
    # With an app password, the refusal answers the account password; the app password signs
    # in (what the rep types after creating one, as the demo's hint says).
    app_password: str | None = None
    folders: dict[str, Folder] = field(default_factory=lambda: {n: Folder() for n, _ in FOLDERS})

    def accepts(self, password: str) -> bool:
        if self.app_password:  # shown in groups of four, as Google does: spaces are fine
            return password.replace(" ", "") == self.app_password
        return password == self.password

    def refuses_with_words(self, password: str) -> bool:
        """A scripted refusal instead of "wrong password" (the app password lifts it)."""
        return not (self.app_password and self.accepts(password))


@dataclass
class Directory:
    users: dict[str, DemoUser] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    sent: list[bytes] = field(default_factory=list)

    def check(self, user: str, password: str) -> DemoUser | None:
        with self.lock:
            found = self.users.get(user.lower())
        return found if found is not None and found.accepts(password) else None

    def get(self, user: str) -> DemoUser | None:
        with self.lock:
            return self.users.get(user.lower())

    def deliver(self, recipients: list[str], data: bytes, when: datetime) -> None:
        """What the SMTP server accepted reaches the INBOX of each demo user among them."""
        with self.lock:
            self.sent.append(data)
            for address in recipients:
                user = self.users.get(address.lower())
                if user is not None:
                    user.folders["INBOX"].add(data, when)


# --- IMAP: reading commands ------------------------------------------------------------------

_TOKEN = re.compile(rb'\s*(?:"((?:[^"\\]|\\.)*)"|(\()|(\))|\{(\d+)\+?\}$|([^\s()"]+))')


class _Commands:
    """Reads one command at a time, with its literals ({n} then n bytes after "+ Ready")."""

    def __init__(self, handler: _ImapHandler) -> None:
        self.handler = handler

    def read(self) -> list[Any] | None:
        tokens: list[Any] = []
        stack: list[list[Any]] = [tokens]
        while True:
            line = self.handler.rfile.readline(1 << 20)
            if not line:
                return None
            line = line.rstrip(b"\r\n")
            position = 0
            literal: int | None = None
            while position < len(line):
                match = _TOKEN.match(line, position)
                if match is None or match.end() == position:
                    break
                position = match.end()
                quoted, opened, closed, size, atom = match.groups()
                if quoted is not None:
                    stack[-1].append(re.sub(rb"\\(.)", rb"\1", quoted).decode("utf-8", "replace"))
                elif opened:
                    inner: list[Any] = []
                    stack[-1].append(inner)
                    stack.append(inner)
                elif closed and len(stack) > 1:
                    stack.pop()
                elif size is not None:
                    literal = int(size)
                elif atom is not None:
                    stack[-1].append(atom.decode("utf-8", "replace"))
            if literal is None:
                return tokens
            if not line.endswith(b"+}"):
                self.handler.send("+ Ready")
            stack[-1].append(self.handler.rfile.read(literal))


def _sequence(spec: str, numbers: list[int]) -> list[int]:
    """The members of `numbers` (UIDs or message numbers) an IMAP sequence set names."""
    if not numbers:
        return []
    top = max(numbers)
    wanted: set[int] = set()
    for part in spec.split(","):
        low, _, high = part.partition(":")
        a = top if low == "*" else int(low)
        b = a if not high else (top if high == "*" else int(high))
        a, b = min(a, b), max(a, b)
        wanted.update(n for n in numbers if a <= n <= b)
    return sorted(wanted)


def _imap_date(text: str) -> date:
    day, month, year = text.split("-")
    return date(int(year), MONTHS.index(month.capitalize()) + 1, int(day))


def _internaldate(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%d-") + MONTHS[when.month - 1] + \
        when.astimezone(UTC).strftime("-%Y %H:%M:%S +0000")


class _ImapHandler(socketserver.StreamRequestHandler):
    directory: Directory
    timeout = 60

    def send(self, line: str | bytes) -> None:
        self.wfile.write((line.encode() if isinstance(line, str) else line) + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self.send(f"* OK [CAPABILITY {CAPABILITIES}] mailmonitor demo IMAP ready")
        self.user: DemoUser | None = None
        self.folder: Folder | None = None
        self.readonly = False
        commands = _Commands(self)
        while True:
            tokens = commands.read()
            if tokens is None:
                return
            if len(tokens) < 2 or not isinstance(tokens[0], str):
                self.send("* BAD empty command")
                continue
            tag, command, args = tokens[0], str(tokens[1]).upper(), tokens[2:]
            uid = command == "UID" and bool(args)
            if uid:
                command, args = str(args[0]).upper(), args[1:]
            try:
                with self.directory.lock:
                    done = self.command(tag, command, args, uid)
            except (ValueError, IndexError, TypeError):
                self.send(f"{tag} BAD Could not parse that command")
                continue
            if done:
                return

    def command(self, tag: str, command: str, args: list[Any], uid: bool) -> bool:
        if command == "CAPABILITY":
            self.send(f"* CAPABILITY {CAPABILITIES}")
        elif command == "ID":
            self.send('* ID ("name" "mailmonitor-demo")')
        elif command == "NOOP":
            pass
        elif command == "LOGOUT":
            self.send("* BYE Logging out")
            self.send(f"{tag} OK LOGOUT completed")
            return True
        elif command == "LOGIN":
            return self.login(tag, str(args[0]), _text(args[1]))
        elif self.user is None:
            self.send(f"{tag} NO Log in first")
            return False
        elif command == "LIST":
            pattern = _text(args[1]) if len(args) > 1 else "*"
            for name, flag in FOLDERS:
                if fnmatch.fnmatchcase(name, pattern.replace("%", "*")):
                    flags = "\\HasNoChildren" + (f" {flag}" if flag else "")
                    self.send(f'* LIST ({flags}) "{SEPARATOR}" "{name}"')
        elif command in ("SELECT", "EXAMINE"):
            return self.select(tag, command, _text(args[0]))
        elif command == "APPEND":
            return self.append(tag, args)
        elif command in ("CLOSE", "UNSELECT"):
            if command == "CLOSE" and self.folder is not None and not self.readonly:
                self.expunge(None, quiet=True)
            self.folder = None
        elif self.folder is None:
            self.send(f"{tag} NO Select a folder first")
            return False
        elif command == "SEARCH":
            found = self.search(args)
            numbers = [m.uid if uid else n for n, m in self.numbered() if m in found]
            self.send("* SEARCH" + "".join(f" {n}" for n in numbers))
        elif command == "FETCH":
            self.fetch(str(args[0]), args[1], uid)
        elif command == "STORE":
            self.store(str(args[0]), str(args[1]).upper(), args[2], uid)
        elif command == "EXPUNGE":
            self.expunge(str(args[0]) if uid and args else None)
        else:
            self.send(f"{tag} BAD Command not supported in the demo")
            return False
        self.send(f"{tag} OK {command} completed")
        return False

    # --- the commands -----------------------------------------------------------------------

    def login(self, tag: str, name: str, password: str) -> bool:
        user = self.directory.get(name)
        if user is not None and user.imap_refusal and user.refuses_with_words(password):
            self.send(f"{tag} NO {user.imap_refusal}")
        elif user is not None and user.accepts(password):
            self.user = user
            self.send(f"{tag} OK [CAPABILITY {CAPABILITIES}] Logged in")
        else:
            self.send(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed.")
        return False

    def _folder(self, name: str) -> Folder | None:
        assert self.user is not None
        for known in self.user.folders:
            if known.lower() == name.lower():
                return self.user.folders[known]
        return None

    def select(self, tag: str, command: str, name: str) -> bool:
        folder = self._folder(name)
        if folder is None:
            self.send(f"{tag} NO [NONEXISTENT] No such folder")
            return False
        self.folder, self.readonly = folder, command == "EXAMINE"
        self.send("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
        self.send(f"* {len(folder.messages)} EXISTS")
        self.send("* 0 RECENT")
        self.send(f"* OK [UIDVALIDITY {folder.uidvalidity}] UIDs valid")
        self.send(f"* OK [UIDNEXT {folder.uidnext}] Predicted next UID")
        mode = "READ-ONLY" if self.readonly else "READ-WRITE"
        self.send(f"{tag} OK [{mode}] {command} completed")
        return False

    def append(self, tag: str, args: list[Any]) -> bool:
        folder = self._folder(_text(args[0]))
        if folder is None:
            self.send(f"{tag} NO [TRYCREATE] No such folder")
            return False
        flags = next((set(map(str, a)) for a in args[1:-1] if isinstance(a, list)), set())
        data = args[-1] if isinstance(args[-1], bytes) else _text(args[-1]).encode()
        new = folder.add(data, datetime.now(UTC), flags)
        self.send(f"{tag} OK [APPENDUID {folder.uidvalidity} {new}] APPEND completed")
        return False

    def numbered(self) -> list[tuple[int, Message]]:
        assert self.folder is not None
        return list(enumerate(self.folder.messages, start=1))

    def chosen(self, spec: str, uid: bool) -> list[tuple[int, Message]]:
        numbered = self.numbered()
        keys = [m.uid if uid else n for n, m in numbered]
        wanted = set(_sequence(spec, keys))
        return [(n, m) for n, m in numbered if (m.uid if uid else n) in wanted]

    def search(self, criteria: list[Any]) -> list[Message]:
        found = [m for _n, m in self.numbered()]
        items = list(criteria)
        while items:
            key = str(items.pop(0)).upper()
            if key == "CHARSET":
                items.pop(0)
            elif key == "SINCE":
                since = _imap_date(_text(items.pop(0)))
                found = [m for m in found if m.when.date() >= since]
            elif key == "UID":
                keep = set(_sequence(_text(items.pop(0)), [m.uid for m in found]))
                found = [m for m in found if m.uid in keep]
            elif key == "HEADER":
                name, value = _text(items.pop(0)), _text(items.pop(0)).lower()
                found = [m for m in found if value in m.header(name).lower()]
            elif key in ("DELETED", "UNDELETED"):
                found = [m for m in found if ("\\Deleted" in m.flags) == (key == "DELETED")]
            # ALL and anything unknown: no narrowing
        return found

    def fetch(self, spec: str, items: Any, uid: bool) -> None:
        wanted = [str(i).upper() for i in (items if isinstance(items, list) else [items])]
        for number, message in self.chosen(spec, uid):
            parts: list[bytes] = []
            if uid or "UID" in wanted:
                parts.append(f"UID {message.uid}".encode())
            for item in wanted:
                if item == "FLAGS":
                    parts.append(f"FLAGS ({' '.join(sorted(message.flags))})".encode())
                elif item == "RFC822.SIZE":
                    parts.append(f"RFC822.SIZE {len(message.data)}".encode())
                elif item == "INTERNALDATE":
                    parts.append(f'INTERNALDATE "{_internaldate(message.when)}"'.encode())
                elif item in ("BODY.PEEK[HEADER]", "BODY[HEADER]", "RFC822.HEADER"):
                    data = message.header_bytes()
                    parts.append(f"BODY[HEADER] {{{len(data)}}}\r\n".encode() + data)
                elif item in ("BODY.PEEK[]", "BODY[]", "RFC822"):
                    parts.append(f"BODY[] {{{len(message.data)}}}\r\n".encode() + message.data)
            self.send(f"* {number} FETCH (".encode() + b" ".join(parts) + b")")

    def store(self, spec: str, how: str, flags: Any, uid: bool) -> None:
        names = {str(f) for f in (flags if isinstance(flags, list) else [flags])}
        for number, message in self.chosen(spec, uid):
            if how.startswith("+"):
                message.flags |= names
            elif how.startswith("-"):
                message.flags -= names
            else:
                message.flags = set(names)
            if not how.endswith(".SILENT"):
                self.send(f"* {number} FETCH (FLAGS ({' '.join(sorted(message.flags))}) "
                          f"UID {message.uid})")

    def expunge(self, uid_spec: str | None, quiet: bool = False) -> None:
        assert self.folder is not None
        limit = set(_sequence(uid_spec, [m.uid for m in self.folder.messages])) \
            if uid_spec else None
        number = 1
        for message in list(self.folder.messages):
            if "\\Deleted" in message.flags and (limit is None or message.uid in limit):
                self.folder.messages.remove(message)
                if not quiet:
                    self.send(f"* {number} EXPUNGE")
            else:
                number += 1


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


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
        password = auth_data.password.decode()
        user = self.directory.get(login)
        if user is not None and user.smtp_refusal and user.refuses_with_words(password):
            code, text = user.smtp_refusal
            return AuthResult(success=False, handled=False, message=f"{code} {text}")
        ok = self.directory.check(login, password)
        return AuthResult(success=ok is not None, handled=False)


class _Sink:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.directory.deliver(list(envelope.rcpt_tos), envelope.content, datetime.now(UTC))
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

    def add_user(self, email_address: str, password: str, **kwargs: Any) -> None:
        with self.directory.lock:
            self.directory.users[email_address.lower()] = DemoUser(password, **kwargs)

    def deliver(self, to: str, data: bytes, when: datetime | None = None) -> None:
        """Put a message in a demo user's INBOX (a lead's reply, for the tour)."""
        self.directory.deliver([to], data, when or datetime.now(UTC))

    def folder(self, email_address: str, name: str) -> list[bytes]:
        """What a demo user's folder holds now (tests, the tour)."""
        user = self.directory.get(email_address)
        if user is None:
            return []
        with self.directory.lock:
            return [m.data for m in user.folders[name].messages]
