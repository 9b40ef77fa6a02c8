"""A small scripted, misbehaving IMAP/SMTP server on 127.0.0.1 for probe tests.

It plays just enough of either protocol for a sign-in probe, and answers what a :class:`Script`
tells it: a provider's greeting, a provider's rejection of LOGIN/AUTH or SELECT, a BYE or 421 at
greeting, silence, a dropped connection, garbage bytes, slow or byte-by-byte answers, TLS from the
first byte or after STARTTLS with a certificate made by ``tests.servers.certs`` (``openssl``).

    script = Script("imap", login="NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)")
    with ScriptedServer(script) as srv:
        probe_imap(Endpoint("127.0.0.1", srv.port, "plain", "rep@example.com"), ...)

Answers are text; lines are separated by ``\\n`` and sent with CRLF. For IMAP, lines that start with
``*`` or ``+`` are sent as they are, other lines get the command's tag. ``{echo}`` in an answer is
replaced by what the client sent for that step (to check that probes redact echoed secrets).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

from tests.servers.certs import issue_server_cert

__all__ = ["CertPair", "Script", "ScriptedServer", "free_port", "make_cert", "temp_cert"]

HOST = "127.0.0.1"


# --- certificates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertPair:
    """A server certificate and key signed by a throwaway CA (``ca_file`` is what clients trust)."""

    cert_file: str
    key_file: str
    ca_file: str
    not_after: dt.datetime  # naive UTC, as the probes report it


def make_cert(
    directory: str | Path,
    *,
    hostnames: tuple[str, ...] = ("localhost",),
    ips: tuple[str, ...] = (HOST,),
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> CertPair:
    """A CA and a server certificate for ``hostnames``/``ips`` in ``directory`` (made like the
    Dovecot PKI, by ``tests.servers.certs`` with the ``openssl`` command line).

    Valid from a day ago for 30 days unless ``not_before``/``not_after`` (aware or naive UTC) say
    otherwise, e.g. a ``not_after`` in the past for an expired certificate.
    """
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = _utc(not_before) if not_before else now - dt.timedelta(days=1)
    end = _utc(not_after) if not_after else now + dt.timedelta(days=30)
    cert, key, ca = issue_server_cert(Path(directory), hostnames, ips, start, end)
    return CertPair(cert_file=str(cert), key_file=str(key), ca_file=str(ca),
                    not_after=end.replace(tzinfo=None, microsecond=0))


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


# --- scripts -------------------------------------------------------------------------------------


@dataclass
class Script:
    """What the server does. ``None`` answers mean "a normal, successful answer".

    Steps (keys of ``delays``/``trickle``): greeting, capability, starttls, login (LOGIN or
    AUTHENTICATE / AUTH), select (SELECT or EXAMINE), ehlo, noop.
    """

    protocol: Literal["imap", "smtp"]
    greeting: str | None = None
    login: str | None = None  # answer to LOGIN/AUTHENTICATE (IMAP) or AUTH (SMTP)
    select: str | None = None  # IMAP: answer to SELECT/EXAMINE
    ehlo: str | None = None  # SMTP: answer to EHLO
    noop: str | None = None  # SMTP: answer to NOOP
    capabilities: str = "IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2"  # IMAP, without STARTTLS
    auth_mechanisms: str = "PLAIN LOGIN XOAUTH2"  # SMTP
    auth_challenge: str | None = None  # XOAUTH2 error challenge sent before the ``login`` answer
    silent: bool = False  # accept the connection, never say a thing
    drop_after_greeting: bool = False  # greet, read the client's first command, close (no answer)
    garbage: bytes | None = None  # sent instead of a greeting
    close_after_garbage: bool = False  # … then close (else keep the connection open, silent)
    delays: dict[str, float] = field(default_factory=dict)  # step → seconds before answering
    trickle: dict[str, float] = field(default_factory=dict)  # step → seconds between bytes
    tls: Literal["none", "implicit", "starttls"] = "none"
    cert: CertPair | None = None  # required for tls != "none"
    # step → a line sent again and again instead of the answer, until the client hangs up
    # (a reply that never ends: SMTP "250-…" or IMAP "* OK …" for ever)
    endless: dict[str, str] = field(default_factory=dict)


class _Conn:
    """One client connection: a line reader that survives the TLS upgrade."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def readline(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"


class ScriptedServer:
    """The server, as a context manager, on ``HOST`` and an ephemeral ``port``.

    ``received`` holds every line the clients sent (decoded), ``auth`` the decoded AUTH/LOGIN
    payloads, ``connections`` how many connections were accepted.
    """

    def __init__(self, script: Script) -> None:
        if script.tls != "none" and script.cert is None:
            raise ValueError("a TLS script needs a certificate (make_cert)")
        self.script = script
        self.received: list[str] = []
        self.endless_bytes_sent = 0  # what an `endless` answer pushed before the client hung up
        self.auth: list[tuple[str, str]] = []  # (mechanism, decoded payload)
        self.connections = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._clients: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server((HOST, 0))
        self.port: int = self._listener.getsockname()[1]
        self.host = HOST
        self._tls_context: ssl.SSLContext | None = None
        if script.cert is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(script.cert.cert_file, script.cert.key_file)
            self._tls_context = ctx

    # lifecycle

    def __enter__(self) -> ScriptedServer:
        thread = threading.Thread(target=self._accept_loop, name="scripted-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() (close() alone does not)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                client.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.2)  # also look at the stop flag now and then
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                self.connections += 1
                self._clients.append(client)
            thread = threading.Thread(
                target=self._serve_safely, args=(client,), name="scripted-conn", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _serve_safely(self, client: socket.socket) -> None:
        try:
            client.settimeout(10)
            self._serve(client)
        except (OSError, ValueError):
            pass  # the client went away, TLS failed, the server is stopping
        finally:
            with contextlib.suppress(OSError):
                client.close()

    # helpers

    def _wrap(self, sock: socket.socket) -> ssl.SSLSocket:
        assert self._tls_context is not None
        tls = self._tls_context.wrap_socket(sock, server_side=True)
        with self._lock:
            self._clients.append(tls)
        return tls

    def _send(self, conn: _Conn, step: str, text: str) -> None:
        data = "".join(line + "\r\n" for line in text.split("\n")).encode("utf-8")
        self._send_raw(conn, step, data)

    def _send_raw(self, conn: _Conn, step: str, data: bytes) -> None:
        endless = self.script.endless.get(step)
        if endless is not None:
            chunk = (endless + "\r\n").encode("utf-8") * 2000
            with contextlib.suppress(OSError):
                while not self._stop.is_set():
                    conn.sock.sendall(chunk)
                    with self._lock:
                        self.endless_bytes_sent += len(chunk)
            return
        delay = self.script.delays.get(step, 0.0)
        if delay and self._stop.wait(delay):
            return
        gap = self.script.trickle.get(step)
        if gap:
            for i in range(len(data)):
                conn.sock.sendall(data[i : i + 1])
                if self._stop.wait(gap):
                    return
        else:
            conn.sock.sendall(data)

    def _readline(self, conn: _Conn) -> str:
        line = conn.readline().decode("utf-8", "replace").rstrip("\r\n")
        with self._lock:
            self.received.append(line)
        return line

    def _record_auth(self, mechanism: str, payload: str) -> None:
        try:
            decoded = base64.b64decode(payload, validate=True).decode("utf-8", "replace")
        except ValueError:
            decoded = payload
        with self._lock:
            self.auth.append((mechanism, decoded))

    def _serve(self, sock: socket.socket) -> None:
        s = self.script
        if s.tls == "implicit":
            sock = self._wrap(sock)
        conn = _Conn(sock)
        if s.silent:
            self._stop.wait()
            return
        if s.garbage is not None:
            self._send_raw(conn, "greeting", s.garbage)
            if not s.close_after_garbage:
                self._stop.wait()
            return
        if s.protocol == "imap":
            self._serve_imap(conn)
        else:
            self._serve_smtp(conn)

    # IMAP

    def _imap_caps(self, tls_active: bool) -> str:
        caps = self.script.capabilities
        if self.script.tls == "starttls" and not tls_active:
            caps += " STARTTLS"
        return caps

    def _imap_answer(self, conn: _Conn, step: str, tag: str, text: str, echo: str) -> None:
        lines = []
        for line in text.replace("{echo}", echo).split("\n"):
            lines.append(line if line.startswith(("*", "+")) else f"{tag} {line}")
        self._send(conn, step, "\n".join(lines))

    def _serve_imap(self, conn: _Conn) -> None:
        s = self.script
        tls_active = s.tls == "implicit"
        greeting = s.greeting or "* OK [CAPABILITY {caps}] Scripted IMAP ready."
        self._send(conn, "greeting", greeting.replace("{caps}", self._imap_caps(tls_active)))
        if s.drop_after_greeting:
            self._readline(conn)  # consume the command, so that closing is a clean FIN, not a RST
            return
        while not self._stop.is_set():
            line = self._readline(conn)
            if not line:
                return
            tag, _, rest = line.partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            if command == "CAPABILITY":
                self._imap_answer(
                    conn, "capability", tag,
                    f"* CAPABILITY {self._imap_caps(tls_active)}\nOK CAPABILITY completed", "",
                )
            elif command == "STARTTLS" and s.tls == "starttls" and not tls_active:
                self._imap_answer(conn, "starttls", tag, "OK Begin TLS negotiation now", "")
                conn.sock = self._wrap(conn.sock)
                tls_active = True
            elif command == "LOGIN":
                self._record_auth("LOGIN", base64.b64encode(args.encode()).decode())
                self._imap_answer(conn, "login", tag, s.login or "OK LOGIN completed", line)
            elif command == "AUTHENTICATE":
                mechanism, _, initial = args.partition(" ")
                echo = [line]
                if not initial:
                    self._send(conn, "login", "+ ")
                    initial = self._readline(conn)
                    echo.append(initial)
                self._record_auth(mechanism.upper(), initial)
                if s.auth_challenge is not None and s.login is not None:
                    self._send(conn, "login", f"+ {s.auth_challenge}")
                    echo.append(self._readline(conn))
                answer = s.login or "OK AUTHENTICATE completed"
                self._imap_answer(conn, "login", tag, answer, " ".join(echo))
            elif command in ("SELECT", "EXAMINE"):
                default = (
                    "* 2 EXISTS\n* 0 RECENT\n* FLAGS (\\Seen \\Answered)\n"
                    f"* OK [UIDVALIDITY 7] UIDs valid\nOK [READ-ONLY] {command} completed"
                )
                self._imap_answer(conn, "select", tag, s.select or default, line)
            elif command == "NOOP":
                self._imap_answer(conn, "noop", tag, "OK NOOP completed", "")
            elif command == "LOGOUT":
                self._imap_answer(conn, "logout", tag, "* BYE Logging out\nOK LOGOUT completed", "")
                return
            else:
                self._imap_answer(conn, "other", tag, "BAD Unknown command", "")

    # SMTP

    def _smtp_ehlo(self, tls_active: bool) -> str:
        lines = ["250-scripted.test Hello", f"250-AUTH {self.script.auth_mechanisms}"]
        if self.script.tls == "starttls" and not tls_active:
            lines.append("250-STARTTLS")
        lines.append("250 8BITMIME")
        return "\n".join(line for line in lines if line != "250-AUTH ")

    def _serve_smtp(self, conn: _Conn) -> None:
        s = self.script
        tls_active = s.tls == "implicit"
        self._send(conn, "greeting", s.greeting or "220 scripted.test ESMTP ready")
        if s.drop_after_greeting:
            self._readline(conn)  # consume the command, so that closing is a clean FIN, not a RST
            return
        while not self._stop.is_set():
            line = self._readline(conn)
            if not line:
                return
            verb, _, args = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self._send(conn, "ehlo", s.ehlo or self._smtp_ehlo(tls_active))
            elif verb == "HELO":
                self._send(conn, "ehlo", "250 scripted.test")
            elif verb == "STARTTLS" and s.tls == "starttls" and not tls_active:
                self._send(conn, "starttls", "220 2.0.0 Ready to start TLS")
                conn.sock = self._wrap(conn.sock)
                tls_active = True
            elif verb == "AUTH":
                mechanism, _, initial = args.partition(" ")
                mechanism = mechanism.upper()
                echo = [line]
                if mechanism == "LOGIN":
                    if not initial:
                        self._send(conn, "login", "334 VXNlcm5hbWU6")
                        initial = self._readline(conn)
                        echo.append(initial)
                    self._send(conn, "login", "334 UGFzc3dvcmQ6")
                    password = self._readline(conn)
                    echo.append(password)
                    self._record_auth("LOGIN", password)
                else:
                    if not initial:
                        self._send(conn, "login", "334 ")
                        initial = self._readline(conn)
                        echo.append(initial)
                    self._record_auth(mechanism, initial)
                    if s.auth_challenge is not None and s.login is not None:
                        self._send(conn, "login", f"334 {s.auth_challenge}")
                        echo.append(self._readline(conn))
                answer = s.login or "235 2.7.0 Authentication successful"
                self._send(conn, "login", answer.replace("{echo}", " ".join(echo)))
            elif verb == "NOOP":
                self._send(conn, "noop", s.noop or "250 2.0.0 OK")
            elif verb == "QUIT":
                self._send(conn, "quit", "221 2.0.0 Bye")
                return
            elif verb == "RSET":
                self._send(conn, "other", "250 2.0.0 OK")
            else:  # MAIL, RCPT, DATA… a probe must never get here
                self._send(conn, "other", "502 5.5.2 Error: command not recognized")


# --- helpers for tests ---------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed): connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def temp_cert(**kwargs: object) -> Iterator[CertPair]:
    """make_cert into a temporary directory removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="scripted-cert-") as directory:
        yield make_cert(directory, **kwargs)  # type: ignore[arg-type]
