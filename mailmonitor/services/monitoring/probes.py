"""Connection probes: one real sign-in test of an IMAP or SMTP endpoint (spec §1 "Check", §2, §3).

Blocking and Qt-free: the monitor runs them in worker threads. Nothing raises out of
:func:`probe_imap` / :func:`probe_smtp`; every outcome is a :class:`ProbeResult` whose reason comes
from :mod:`mailmonitor.services.monitoring.classify`.

- IMAP (its own few commands, :class:`_ProbeIMAP`): connect (``ssl``: TLS from the first byte,
  ``starttls``: plain then STARTTLS, ``plain``), the capabilities (the greeting's, else
  CAPABILITY; asked again after STARTTLS), LOGIN (or AUTHENTICATE PLAIN when LOGIN is disabled or
  the password is not ASCII) or XOAUTH2, EXAMINE INBOX (read-only SELECT), LOGOUT.
- SMTP (smtplib): connect, EHLO, STARTTLS + EHLO, one AUTH (PLAIN, else LOGIN; XOAUTH2 with a
  token), NOOP, QUIT. Never MAIL/RCPT/DATA: a probe never sends mail.
- TLS: certificates and host names are verified against the system CAs plus ``ca_file``.
- Time: every step (connect, TLS handshake, greeting, each command) has ``timeout`` seconds,
  enforced on each read and write *and* as a deadline for the whole step, so a server that accepts
  and stays silent, or answers a byte at a time, ends as ``timeout`` after about ``timeout``
  seconds. DNS lookups are bounded too.
- Secrets (password, token, and the base64 forms sent on the wire) are redacted from ``detail`` and
  ``error``; :class:`Credentials` does not show them in its repr.
- Failed logins: with a ``gate`` on the endpoint (the login budget, ``login_budget``), the
  sign-in command is only sent when the budget allows it, and each side tries exactly one
  mechanism, so one check costs the server at most one failed login per side. A sign-in held
  back is a result with ``held`` set (status ``checking``: nothing was learned).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import ipaddress
import os
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast

from mailmonitor.logsetup import scrub_secrets
from mailmonitor.services.common.reasons import CREDENTIAL_REASONS, Status
from mailmonitor.services.common.validation import needs_smtputf8, no_smtputf8
from mailmonitor.services.monitoring import classify
from mailmonitor.services.monitoring.login_budget import LoginHeld, MailboxGate
from mailmonitor.services.monitoring.progress import ProbeWatch

__all__ = [
    "SECURITY_MODES",
    "Credentials",
    "Endpoint",
    "ProbeResult",
    "probe_imap",
    "probe_smtp",
]

SECURITY_MODES = ("ssl", "starttls", "plain")
MAX_DETAIL_CHARS = 2000
MAX_ERROR_CHARS = 200
_MAX_LINE = 1_000_000  # as imaplib/smtplib: a longer "line" is an error
_MAX_KEPT_LINES = 100  # server lines kept per command for the detail
_RECV_SIZE = 16384
# Bytes one probe reads at most. A sign-in exchange is a few kilobytes; a server that streams
# reply lines for ever ("250-" or "* OK" without end) is cut off here, not at a gigabyte.
MAX_BYTES_PER_CHECK = 4_000_000


@dataclass
class Endpoint:
    host: str
    port: int
    security: str  # 'ssl' | 'starttls' | 'plain'
    username: str
    ca_file: str | None = None  # extra trusted CA (PEM); otherwise system CAs
    timeout: float = 20.0  # per connection step, seconds
    # An interactive test's watcher: told each step, can cancel (progress.ProbeWatch).
    watch: ProbeWatch | None = field(default=None, repr=False, compare=False)
    # The login budget as this mailbox's probes see it (login_budget.MailboxGate): asked before
    # the sign-in command is sent. None: not gated (the probes' own tests).
    gate: MailboxGate | None = field(default=None, repr=False, compare=False)
    # The mailbox's address: one with non-ASCII characters before the @ can send only
    # through a server that announces SMTPUTF8 (RFC 6531), so the SMTP check asks for it.
    address: str = ""


@dataclass
class Credentials:
    password: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)  # set: XOAUTH2 as endpoint.username


@dataclass
class ProbeResult:
    protocol: str  # 'imap' | 'smtp'
    ok: bool
    status: str  # 'connected' | 'warning' | 'disconnected'  (reasons.Status values)
    reason: str | None  # a code from reasons.REASONS, None when ok
    detail: str  # the server's exact answer / error text, secrets redacted
    latency_ms: int  # total
    phases: dict[str, float]  # ms per phase: connect, tls, greeting, (ehlo), auth, select / noop, …
    cert_expires_at: datetime | None  # naive UTC notAfter of the server cert when TLS was used
    error: str | None  # short error for JSON (None when ok)
    # The login budget held the sign-in back: its words ("held back: 3 failed logins to …"),
    # and when it frees up (the budget's clock). Nothing was learned about the mailbox.
    held: str | None = None
    held_until: datetime | None = None
    # The server refused the sign-in command itself (one failed login as it counts them).
    login_refused: bool = False

    def to_json(self) -> dict[str, Any]:
        data = {
            "protocol": self.protocol,
            "ok": self.ok,
            "status": str(self.status),
            "reason": self.reason,
            "detail": self.detail,
            "latency_ms": self.latency_ms,
            "phases": {name: round(ms, 1) for name, ms in self.phases.items()},
            "cert_expires_at": self.cert_expires_at.isoformat() if self.cert_expires_at else None,
            "error": self.error,
        }
        if self.held:  # only then: the JSON of every other check keeps its shape
            data["held"] = self.held
        return data


# --- secrets -------------------------------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _xoauth2_payload(user: str, token: str) -> str:
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def _secrets_of(ep: Endpoint, creds: Credentials) -> list[str]:
    """Secrets plus the exact strings a probe puts on the wire (scrub_secrets adds the rest)."""
    found: list[str] = []
    if creds.password:
        found += [creds.password, f"\x00{ep.username}\x00{creds.password}"]  # LOGIN, AUTH PLAIN
    if creds.access_token:
        found += [creds.access_token, _xoauth2_payload(ep.username, creds.access_token)]
    return found


# --- per-probe bookkeeping ------------------------------------------------------------------------


class _Fail(Exception):
    """A failure the probe recognised itself, with its reason already known."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class _BadReply(Exception):
    """An SMTP step answered with an unexpected reply code (the words are in the wire record)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"unexpected reply code {code}")
        self.code = code


class _Session:
    """Phase timings, the per-step deadline, the sockets to close, what TLS showed."""

    def __init__(self, timeout: float, watch: ProbeWatch | None = None, protocol: str = ""
                 ) -> None:
        self.timeout = timeout
        self.watch = watch
        self.protocol = protocol
        self.started = time.monotonic()
        self.phases: dict[str, float] = {}
        self.phase: str | None = None
        self._phase_started = self.started
        self.deadline = self.started + timeout
        self.sockets: list[socket.socket] = []
        self.cert_expires_at: datetime | None = None
        self.wire: _Wire | None = None  # the connection's record of what the server said
        self.bytes_read = 0
        self.login: tuple[MailboxGate, str] | None = None  # a sign-in in flight: gate, host
        self.sent_login = False  # the sign-in command went out (whether or not gated)

    def begin_login(self, ep: Endpoint) -> None:
        """Right before the sign-in command: the login budget's turn (raises LoginHeld)."""
        if ep.gate is not None:
            ep.gate.begin(ep.host, self.remaining())
            self.login = (ep.gate, ep.host)
        self.sent_login = True

    def end_login(self, refused: bool = False, accepted: bool = False) -> None:
        """The server answered the sign-in (or the probe ended without an answer)."""
        if self.login is not None:
            gate, host = self.login
            self.login = None
            gate.end(host, self.protocol, refused, accepted)

    def count_bytes(self, count: int) -> None:
        """Bound what one probe reads (MAX_BYTES_PER_CHECK), as well as the time."""
        self.bytes_read += count
        if self.bytes_read > MAX_BYTES_PER_CHECK:
            raise _Fail("request_invalid",
                        f"The server sent more than {MAX_BYTES_PER_CHECK // 1_000_000} MB "
                        f"during {self.phase or 'the connection'} without finishing its answer; "
                        "mailmonitor stopped reading (a mail server never answers like this)")

    def enter(self, name: str) -> None:
        """End the current phase and start ``name`` with a fresh deadline."""
        self.end_phase()
        if self.watch is not None:
            self.watch.step(self.protocol, name)
        self.phase = name
        self._phase_started = time.monotonic()
        self.deadline = self._phase_started + self.timeout

    def end_phase(self) -> None:
        if self.phase is not None:
            elapsed = (time.monotonic() - self._phase_started) * 1000.0
            self.phases[self.phase] = self.phases.get(self.phase, 0.0) + elapsed
            self._phase_started = time.monotonic()

    def remaining(self) -> float:
        """Seconds left for the current step; raises TimeoutError when it is used up."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no answer within {self.timeout:g} s ({self.phase})")
        return left

    def latency_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def note_cert(self, sock: ssl.SSLSocket) -> None:
        try:
            der = sock.getpeercert(binary_form=True)
        except (OSError, ValueError):
            return
        if not der:
            return
        # Decoding a certificate into Python objects costs a tenth of a millisecond, twice per
        # check: a server shows every mailbox the same one, so its expiry is kept by its bytes.
        try:
            found = _cert_expiry[der]
        except KeyError:
            if len(_cert_expiry) >= _MAX_KEPT_CERTS:
                _cert_expiry.clear()
            found = _cert_expiry[der] = _expiry_of(sock)
        if found is not None:
            self.cert_expires_at = found

    def track(self, sock: socket.socket) -> None:
        self.sockets.append(sock)
        if self.watch is not None:
            self.watch.track(sock)

    def close_sockets(self) -> None:
        for sock in reversed(self.sockets):
            with contextlib.suppress(OSError):
                sock.close()


_MAX_KEPT_CERTS = 1000
# A certificate (DER bytes) -> its notAfter (naive UTC), or None when it has none that parses.
_cert_expiry: dict[bytes, datetime | None] = {}


def _expiry_of(sock: ssl.SSLSocket) -> datetime | None:
    try:
        cert = sock.getpeercert()
    except (OSError, ValueError):
        return None
    not_after = cert.get("notAfter") if cert else None
    if not isinstance(not_after, str):
        return None
    try:
        seconds = ssl.cert_time_to_seconds(not_after)
    except ValueError:
        return None
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


class _Wire:
    """Reads lines from whatever socket the client uses now, under the session's deadline.

    Keeps the lines the server sent since the client's last command (for classification and the
    detail) and the bytes of an unfinished line. Refuses plaintext the server sent ahead of a TLS
    upgrade (STARTTLS response injection).
    """

    def __init__(self, session: _Session, get_sock: Callable[[], socket.socket | None]) -> None:
        self._session = session
        self._get_sock = get_sock
        self._buf = bytearray()
        self._buf_sock: socket.socket | None = None
        self.lines: list[bytes] = []
        self.eof = False

    def mark(self) -> None:
        """The client is sending a command: what follows is the answer to it."""
        self.lines.clear()

    def ensure_drained(self) -> None:
        """Raise when the server sent more than was asked for (before a TLS upgrade)."""
        if self._buf:
            raise _Fail(
                "request_invalid",
                "The server sent unencrypted data right before the TLS upgrade (STARTTLS): "
                + _printable(bytes(self._buf[:200])),
            )

    def _sock(self) -> socket.socket:
        sock = self._get_sock()
        if sock is None:
            raise ConnectionAbortedError("not connected")
        if self._buf_sock is not None and sock is not self._buf_sock:
            self.ensure_drained()  # the socket was upgraded to TLS: nothing may be left over
        return sock

    def _fill(self, sock: socket.socket) -> bool:
        sock.settimeout(self._session.remaining())
        chunk = sock.recv(_RECV_SIZE)
        self._buf_sock = sock
        if not chunk:
            self.eof = True
            return False
        self._session.count_bytes(len(chunk))
        self._buf += chunk
        return True

    def readline(self, limit: int = -1) -> bytes:
        sock = self._sock()
        while True:
            newline = self._buf.find(b"\n")
            if newline >= 0:
                end = newline + 1
            elif 0 < limit <= len(self._buf):
                end = limit
            elif self._fill(sock):
                continue
            else:
                end = len(self._buf)  # end of stream: what is left (possibly nothing)
            if limit > 0:
                end = min(end, limit)
            line = bytes(self._buf[:end])
            del self._buf[:end]
            if line and len(self.lines) < _MAX_KEPT_LINES:
                self.lines.append(line)
            return line

    def read(self, size: int) -> bytes:
        sock = self._sock()
        while len(self._buf) < size and self._fill(sock):
            pass
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    def close(self) -> None:
        """File-like close (the socket is closed by its owner)."""

    def answer(self) -> list[str]:
        """The server's lines since the last command, and an unfinished line, as printable text."""
        out = [_printable(line) for line in self.lines]
        if self._buf:
            out.append(_printable(bytes(self._buf[:500])))
        return [line for line in out if line]


def _printable(data: bytes) -> str:
    text = data.decode("utf-8", "replace").rstrip("\r\n")
    return "".join(
        c if c.isprintable() or c == "\t" else c.encode("unicode_escape").decode("ascii")
        for c in text[:MAX_DETAIL_CHARS]
    )


# --- sockets -------------------------------------------------------------------------------------


def _resolve(host: str, port: int, session: _Session) -> list[Any]:
    """getaddrinfo, bounded by the step's deadline (a hung resolver must not hang the probe)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    box: dict[str, Any] = {}

    def lookup() -> None:
        try:
            box["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except Exception as exc:  # handed over to the probing thread
            box["error"] = exc

    worker = threading.Thread(target=lookup, name=f"dns {host}", daemon=True)
    worker.start()
    worker.join(session.remaining())
    if "error" in box:
        raise box["error"]
    if "infos" not in box:
        raise socket.gaierror(f"looking up {host} took more than {session.timeout:g} s")
    return cast(list[Any], box["infos"])


def _connect_tcp(host: str, port: int, session: _Session) -> socket.socket:
    session.enter("connect")
    last_error: OSError | None = None
    for family, socktype, proto, _name, address in _resolve(host, port, session):
        sock = socket.socket(family, socktype, proto)
        session.track(sock)
        try:
            sock.settimeout(session.remaining())
            sock.connect(address)
            return sock
        except TimeoutError:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            last_error = exc
    raise last_error or OSError(f"no address found for {host}")


def _wrap_tls(
    sock: socket.socket, context: ssl.SSLContext, host: str, session: _Session
) -> ssl.SSLSocket:
    """TLS handshake (certificate and host name verified) under the current step's deadline."""
    sock.settimeout(session.remaining())
    tls = context.wrap_socket(sock, server_hostname=host)
    session.track(tls)
    session.note_cert(tls)
    return tls


def _tls_context(ep: Endpoint) -> ssl.SSLContext:
    """A verifying context, shared between probes with the same trust: building one parses the
    whole system CA store (about 20 ms of CPU and a megabyte each), which dominated a sweep of
    hundreds of accounts. SSLContext is safe to share between threads. Built under a lock: the
    first checks of a sweep start together, and each would otherwise build its own (sixteen
    threads: a third of a second of CPU at the start of every `check`)."""
    return _tls_context_for(ep.ca_file)


def _tls_context_for(ca_file: str | None) -> ssl.SSLContext:
    mtime = 0.0
    if ca_file:
        with contextlib.suppress(OSError):
            mtime = os.stat(ca_file).st_mtime
    with _tls_context_lock:
        return _cached_tls_context(ca_file, mtime)


def prepare_tls(ca_files: Iterable[str | None]) -> threading.Thread:
    """Build the TLS contexts that probes trusting these CA files (None: the system's alone)
    will share, now, in a thread of its own: OpenSSL parses the CA store (about 20 ms) without
    the interpreter lock, so a command's start-up goes on meanwhile instead of its first
    probes waiting for it. The same contexts the probes would build; a CA file that cannot
    be used is left for its probes to report."""
    wanted = list(dict.fromkeys(ca_files))

    def build() -> None:
        for ca_file in wanted:
            with contextlib.suppress(Exception):
                _tls_context_for(ca_file)

    # Not a daemon: a command that ends at once (a keyring that cannot be read) waits for it,
    # or OpenSSL's clean-up at exit would free what the thread is still using (a crash).
    thread = threading.Thread(target=build, name="tls-contexts")
    thread.start()
    return thread


_tls_context_lock = threading.Lock()


@functools.lru_cache(maxsize=32)
def _cached_tls_context(ca_file: str | None, _mtime: float) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise _Fail(
                "tls_error", f"The trusted CA file {ca_file} cannot be used: {exc}"
            ) from exc
    return context


def _check_endpoint(ep: Endpoint) -> None:
    if ep.security not in SECURITY_MODES:
        raise _Fail(
            "request_invalid", f"Unknown security {ep.security!r} (use ssl, starttls or plain)"
        )
    if not ep.host or not isinstance(ep.port, int) or not 0 < ep.port < 65536:
        raise _Fail("request_invalid", f"Invalid server address {ep.host!r}:{ep.port!r}")
    if not ep.timeout or ep.timeout <= 0:
        raise _Fail("request_invalid", f"Invalid timeout {ep.timeout!r}")


# --- XOAUTH2 -------------------------------------------------------------------------------------


class _XOAuth2:
    """SASL XOAUTH2 client: the token first; an empty answer to the server's error challenge."""

    def __init__(self, user: str, token: str) -> None:
        self._payload = _xoauth2_payload(user, token)
        self._sent = False
        self.challenge: str | None = None  # the server's error (JSON), decoded

    def __call__(self, challenge: bytes | None = None) -> str:
        if not self._sent:
            self._sent = True
            return self._payload
        if challenge:
            self.challenge = _printable(challenge)
        return ""


# --- IMAP ----------------------------------------------------------------------------------------


class _ImapRefused(Exception):
    """The IMAP server answered a command with something other than OK (its words are in the
    wire's record, which classifies the failure)."""


class _ImapClosed(Exception):
    """The server closed the connection where an answer was due ("EOF": never a network error,
    which a reset or a refused connection is)."""


class _ProbeIMAP:
    """The IMAP a sign-in probe speaks (RFC 3501 / 9051): the greeting (with its capabilities,
    else CAPABILITY), STARTTLS, LOGIN or AUTHENTICATE, EXAMINE INBOX and LOGOUT, each read
    through the probe's wire (its step deadline, its byte cap, its record of the answer).
    Written for the probe: imaplib with imapclient on top parsed every line with several
    patterns and kept every answer in dictionaries, about a third of an IMAP probe's CPU
    against a fast server.

    As imaplib: a command's answer ends with its tagged line; an untagged BYE before it ends the
    session (raised at once, but after LOGOUT); a literal ``{n}`` is read whole; continuation
    requests (``+``) are answered only by AUTHENTICATE."""

    def __init__(self, host: str, port: int, *, session: _Session,
                 context: ssl.SSLContext | None, use_ssl: bool) -> None:
        self._session = session
        self.host = host
        self.sock: socket.socket | None = None
        self.wire = _Wire(session, lambda: self.sock)
        session.wire = self.wire  # there even when connecting fails (greeting, TLS…)
        self._tags = 0
        sock = _connect_tcp(host, port, session)
        if use_ssl:
            assert context is not None
            session.enter("tls")
            sock = _wrap_tls(sock, context, host, session)
        self.sock = sock
        session.enter("greeting")
        greeting = self._line()
        status = _imap_status(greeting[2:]) if greeting.startswith(b"* ") else b""
        if status not in (b"OK", b"PREAUTH"):
            raise _ImapRefused(f"greeting: {_printable(greeting)}")
        self.state = "AUTH" if status == b"PREAUTH" else "NONAUTH"
        # Most servers (Dovecot, Cyrus, Exchange…) say their capabilities in the greeting
        # (`* OK [CAPABILITY …]`, RFC 3501 7.1): taken from there as imaplib does, a round trip
        # saved; asked for when the greeting does not say them (Gmail).
        said = _IMAP_CAPABILITY_CODE.match(greeting)
        self.capabilities = _imap_capabilities(said.group(1)) if said else self._capability()

    def _line(self) -> bytes:
        """One response line, with the literals it announces read (and left out)."""
        line = self._readline()
        while (literal := _IMAP_LITERAL.search(line)) is not None:
            size = int(literal.group(1))
            if len(self.wire.read(size)) < size:
                raise _ImapClosed("EOF: the server closed the connection inside a literal")
            line = line[:literal.start()] + self._readline()
        return line

    def _readline(self) -> bytes:
        line = self.wire.readline(_MAX_LINE + 1)
        if not line:
            raise _ImapClosed("EOF: the server closed the connection without an answer")
        if len(line) > _MAX_LINE:
            raise _ImapRefused(f"got more than {_MAX_LINE} bytes in one line")
        return line

    def send(self, data: bytes) -> None:
        assert self.sock is not None
        self.wire.mark()
        self.sock.settimeout(self._session.remaining())
        self.sock.sendall(data)

    def command(self, *words: str, respond: Callable[[bytes], bytes] | None = None,
                logout: bool = False) -> list[bytes]:
        """Send one command; its untagged lines when the server answered OK, else raises
        `_ImapRefused`. `respond`: what to send to each continuation request (the challenge,
        base64-decoded, in; the response, not yet encoded, out)."""
        self._tags += 1
        tag = b"mm%d" % self._tags
        self.send(tag + b" " + " ".join(words).encode("utf-8") + b"\r\n")
        untagged: list[bytes] = []
        while True:
            line = self._line()
            if line.startswith(tag + b" "):
                if _imap_status(line[len(tag) + 1:]) != b"OK":
                    raise _ImapRefused(f"{words[0]} failed: {_printable(line)}")
                return untagged
            if line.startswith(b"+"):
                if respond is not None:
                    challenge = base64.b64decode(line[1:].strip() or b"")
                    self.send(base64.b64encode(respond(challenge)) + b"\r\n")
                continue
            if not line.startswith(b"*"):
                raise _ImapRefused(f"unexpected response: {_printable(line)}")
            if line[2:5].upper() == b"BYE" and not logout:
                raise _ImapRefused(f"{words[0]}: {_printable(line)}")
            untagged.append(line)

    def _capability(self) -> tuple[str, ...]:
        for line in self.command("CAPABILITY"):
            if line[2:13].upper() == b"CAPABILITY ":
                return _imap_capabilities(line[13:])
        raise _ImapRefused("no CAPABILITY response from server")

    def starttls(self, context: ssl.SSLContext) -> None:
        self.command("STARTTLS")
        self.wire.ensure_drained()  # refuse plaintext sent ahead of the handshake
        assert self.sock is not None
        self.sock = _wrap_tls(self.sock, context, self.host, self._session)
        self.capabilities = self._capability()

    def authenticate(self, mechanism: str, mech: Callable[[bytes | None], str]) -> None:
        """AUTHENTICATE without an initial response, as imaplib: the first continuation gets
        the mechanism's answer, later ones (an error challenge) what it says to them."""
        self.command("AUTHENTICATE", mechanism, respond=lambda c: mech(c).encode("utf-8"))
        self.state = "AUTH"

    def login(self, username: str, password: str) -> None:
        self.command("LOGIN", username, _imap_quote_always(password))
        self.state = "AUTH"

    def examine_inbox(self) -> int | None:
        """EXAMINE (a read-only SELECT) of INBOX: how many messages it holds, when said."""
        for line in self.command("EXAMINE", '"INBOX"'):
            words = line[2:].split()
            if len(words) >= 2 and words[1].upper() == b"EXISTS" and words[0].isdigit():
                return int(words[0])
        return None

    def logout(self) -> None:
        self.command("LOGOUT", logout=True)


_IMAP_LITERAL = re.compile(rb"\{(\d+)\+?\}\r?\n?$")
_IMAP_CAPABILITY_CODE = re.compile(rb"\* (?:OK|PREAUTH) \[CAPABILITY ([^\]\r\n]*)\]", re.IGNORECASE)


def _imap_capabilities(words: bytes) -> tuple[str, ...]:
    """A CAPABILITY list (a response or the greeting's response code), upper-cased; an IMAP4
    server names its revision in it."""
    found = tuple(words.decode("ascii", "replace").upper().split())
    if not {"IMAP4REV1", "IMAP4REV2", "IMAP4"} & set(found):
        raise _ImapRefused("server not IMAP4 compliant")
    return found


def _imap_status(rest: bytes) -> bytes:
    """The status word that starts a response's text (``OK``, ``NO``, ``BYE``…), upper-cased."""
    words = rest.split(None, 1)
    return words[0].upper() if words else b""


_IMAP_ATOM = re.compile(r"^[A-Za-z0-9!#$&'+,\-./:;<=>?@^_`|~]+$")
_IMAP_TAG = re.compile(r"^[A-Za-z]{1,8}\d+ ")
_IMAP_NOISE = re.compile(
    r"^\* (?:CAPABILITY|\d+ (?:EXISTS|RECENT|EXPUNGE|FETCH)|FLAGS|LIST|LSUB|STATUS|ENABLED|ID|"
    r"NAMESPACE|OK \[(?:UIDVALIDITY|UIDNEXT|PERMANENTFLAGS|UNSEEN|HIGHESTMODSEQ|CAPABILITY)\b)",
    re.IGNORECASE,
)


def _imap_quote(text: str) -> str:
    if _IMAP_ATOM.match(text):
        return text
    return _imap_quote_always(text)


def _imap_quote_always(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_answer(wire: _Wire | None) -> str:
    if wire is None:
        return ""
    lines = [_IMAP_TAG.sub("", line, count=1) for line in wire.answer()]
    return "\n".join(line for line in lines if not _IMAP_NOISE.match(line))


def probe_imap(ep: Endpoint, creds: Credentials) -> ProbeResult:
    """Sign in to the IMAP endpoint and open INBOX read-only. Never raises."""
    session = _Session(ep.timeout if ep.timeout and ep.timeout > 0 else 20.0, ep.watch, "imap")
    oauth = bool(creds.access_token)
    mech: _XOAuth2 | None = None
    try:
        _check_endpoint(ep)
        context = _tls_context(ep) if ep.security != "plain" else None
        conn = _ProbeIMAP(ep.host, ep.port, session=session, context=context,
                          use_ssl=ep.security == "ssl")
        tls = ep.security == "ssl"
        if ep.security == "starttls":
            session.enter("tls")
            if "STARTTLS" not in conn.capabilities:
                raise _Fail(
                    "tls_error",
                    "The server does not offer STARTTLS (capabilities: "
                    + " ".join(conn.capabilities) + ")",
                )
            assert context is not None
            conn.starttls(context)
            tls = True

        session.enter("auth")
        caps = set(conn.capabilities)
        ascii_only = creds.password is None or (creds.password + ep.username).isascii()
        if conn.state != "NONAUTH":
            pass  # PREAUTH greeting: already signed in by the connection itself
        elif creds.access_token:
            if "AUTH=XOAUTH2" not in caps:
                raise _Fail(
                    "request_invalid",
                    "The server does not offer XOAUTH2 sign-in (no AUTH=XOAUTH2 capability).",
                )
            mech = _XOAuth2(ep.username, creds.access_token)
            session.begin_login(ep)
            conn.authenticate("XOAUTH2", mech)
        elif not creds.password:
            raise _Fail("invalid_credentials", "No password is stored for this account.")
        elif "LOGINDISABLED" in caps or not ascii_only:
            if "AUTH=PLAIN" in caps:
                session.begin_login(ep)
                plain = f"\0{ep.username}\0{creds.password}"
                conn.authenticate("PLAIN", lambda _challenge: plain)
            elif not tls:
                raise _Fail(
                    "tls_error",
                    "The server refuses passwords on an unencrypted connection (LOGINDISABLED); "
                    "use SSL or STARTTLS.",
                )
            else:
                raise _Fail(
                    "request_invalid",
                    "No usable sign-in method: LOGIN is disabled or the password is not ASCII, "
                    "and AUTH=PLAIN is not offered.",
                )
        else:
            session.begin_login(ep)
            conn.login(_imap_quote(ep.username), creds.password)
        session.end_login(accepted=True)

        session.enter("select")
        exists = conn.examine_inbox()

        session.enter("logout")
        with contextlib.suppress(Exception):  # signed in and INBOX opened: LOGOUT is a courtesy
            conn.logout()
        session.end_phase()
        count = f" ({exists} messages)" if isinstance(exists, int) else ""
        return _success("imap", session, f"Signed in as {ep.username} and opened INBOX{count}.")
    except Exception as exc:
        answer = _imap_answer(session.wire)
        return _failure("imap", session, exc, answer, None, oauth, mech, ep, creds)
    finally:
        session.end_login()
        session.close_sockets()


# --- SMTP ----------------------------------------------------------------------------------------


class _ProbeSMTP(smtplib.SMTP):
    """smtplib connection whose socket, reads and writes follow the probe's session."""

    def __init__(self, session: _Session) -> None:
        self._session = session
        self.wire = _Wire(session, lambda: self.sock)
        session.wire = self.wire
        super().__init__(host="", port=0, local_hostname="localhost", timeout=session.timeout)

    def open(self, host: str, port: int, context: ssl.SSLContext | None) -> tuple[int, bytes]:
        """Connect (TLS first when ``context`` is given) and read the greeting."""
        self._host = host
        sock: socket.socket = _connect_tcp(host, port, self._session)
        if context is not None:
            self._session.enter("tls")
            sock = _wrap_tls(sock, context, host, self._session)
        self.sock = sock
        self.file = cast(BinaryIO, self.wire)
        self.local_hostname = _address_literal(sock)
        self._session.enter("greeting")
        return self.getreply()

    def send(self, s: Any) -> None:
        self.wire.mark()
        if self.sock is not None:
            self.sock.settimeout(self._session.remaining())
        super().send(s)

    def hello(self) -> None:
        """EHLO, falling back to HELO; raises _BadReply when neither is accepted."""
        code, _ = self.ehlo()
        if code == 250:
            return
        if code < 0 or 400 <= code < 500:
            raise _BadReply(code)
        code, _ = self.helo()
        if code != 250:
            raise _BadReply(code)

    def upgrade(self, context: ssl.SSLContext, host: str) -> None:
        """STARTTLS and the handshake; the EHLO state is reset as RFC 3207 requires."""
        code, _ = self.docmd("STARTTLS")
        if code != 220:
            raise _BadReply(code)
        assert self.sock is not None
        self.wire.ensure_drained()  # refuse plaintext sent ahead of the handshake
        self.sock = _wrap_tls(self.sock, context, host, self._session)
        self.helo_resp = None
        self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False

    def auth(
        self, mechanism: str, authobject: Callable[..., str | None], *,
        initial_response_ok: bool = True,
    ) -> tuple[int, bytes]:
        """smtplib's AUTH exchange, with UTF-8 (RFC 4616) instead of ASCII-only responses."""
        mechanism = mechanism.upper()
        initial = authobject() if initial_response_ok else None
        if initial is not None:
            code, resp = self.docmd("AUTH", f"{mechanism} {_b64(initial)}")
            self._auth_challenge_count = 1
        else:
            code, resp = self.docmd("AUTH", mechanism)
            self._auth_challenge_count = 0
        while code == 334:
            self._auth_challenge_count += 1
            if self._auth_challenge_count > 5:
                raise smtplib.SMTPException("The server keeps sending AUTH challenges")
            challenge = base64.decodebytes(resp)
            code, resp = self.docmd(_b64(authobject(challenge) or ""))
        if code in (235, 503):
            return code, resp
        raise smtplib.SMTPAuthenticationError(code, resp)


def _address_literal(sock: socket.socket) -> str:
    """The EHLO name: our address literal (no slow reverse lookup of getfqdn())."""
    try:
        address = sock.getsockname()[0]
    except OSError:
        return "localhost"
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


def _auth_mechanisms(smtp: _ProbeSMTP) -> set[str]:
    return {m.lstrip("=").upper() for m in smtp.esmtp_features.get("auth", "").split()}


def probe_smtp(ep: Endpoint, creds: Credentials) -> ProbeResult:
    """Sign in to the SMTP endpoint (EHLO, STARTTLS, AUTH, NOOP, QUIT).

    Never raises; never sends mail.
    """
    session = _Session(ep.timeout if ep.timeout and ep.timeout > 0 else 20.0, ep.watch, "smtp")
    oauth = bool(creds.access_token)
    mech: _XOAuth2 | None = None
    smtp: _ProbeSMTP | None = None
    try:
        _check_endpoint(ep)
        context = _tls_context(ep) if ep.security != "plain" else None
        smtp = _ProbeSMTP(session)
        code, _ = smtp.open(ep.host, ep.port, context if ep.security == "ssl" else None)
        if code != 220:
            raise _BadReply(code)
        session.enter("ehlo")
        smtp.hello()
        if ep.security == "starttls":
            assert context is not None
            session.enter("tls")
            if not smtp.has_extn("starttls"):
                raise _Fail("tls_error", "The server does not offer STARTTLS.")
            smtp.upgrade(context, ep.host)
            session.enter("ehlo")
            smtp.hello()

        if needs_smtputf8(ep.address) and not smtp.has_extn("smtputf8"):
            raise _Fail("request_invalid", no_smtputf8(ep.host, ep.address) + ".")
        session.enter("auth")
        mechanisms = _auth_mechanisms(smtp)
        if not smtp.has_extn("auth"):
            if ep.security == "plain" and smtp.has_extn("starttls"):
                raise _Fail(
                    "tls_error",
                    "The server offers sign-in only after STARTTLS; use STARTTLS security.",
                )
            raise _Fail(
                "request_invalid", "The server does not offer SMTP AUTH (AUTH not supported)."
            )
        offered = " ".join(sorted(mechanisms)) or "none"
        if creds.access_token:
            if "XOAUTH2" not in mechanisms:
                raise _Fail(
                    "request_invalid", f"The server does not offer XOAUTH2 (offers: {offered})."
                )
            mech = _XOAuth2(ep.username, creds.access_token)
            session.begin_login(ep)
            smtp.auth("XOAUTH2", mech)
        elif not creds.password:
            raise _Fail("invalid_credentials", "No password is stored for this account.")
        else:
            # Exactly one mechanism (smtplib's login() would try each one the server offers:
            # a wrong password would cost two or three failed logins): PLAIN, else LOGIN.
            smtp.user, smtp.password = ep.username, creds.password
            if "PLAIN" in mechanisms:
                session.begin_login(ep)
                smtp.auth("PLAIN", smtp.auth_plain)
            elif "LOGIN" in mechanisms:
                session.begin_login(ep)
                smtp.auth("LOGIN", smtp.auth_login)
            else:
                raise _Fail("request_invalid",
                            f"No suitable authentication method (server offers: {offered}).")
        session.end_login(accepted=True)

        session.enter("noop")
        code, _ = smtp.noop()
        if code != 250:
            raise _BadReply(code)
        noop_answer = smtp.wire.answer()

        session.enter("quit")
        with contextlib.suppress(Exception):  # signed in and NOOP answered: QUIT is a courtesy
            smtp.quit()
        session.end_phase()
        said = f"; NOOP: {noop_answer[-1]}" if noop_answer else ""
        return _success("smtp", session, f"Signed in as {ep.username}{said}.")
    except Exception as exc:
        answer = "\n".join(session.wire.answer()) if session.wire is not None else ""
        code_seen: int | None = None
        if isinstance(exc, _BadReply):
            code_seen = exc.code
        elif isinstance(exc, smtplib.SMTPResponseException):
            code_seen = exc.smtp_code
        return _failure("smtp", session, exc, answer, code_seen, oauth, mech, ep, creds)
    finally:
        session.end_login()
        session.close_sockets()


# --- results -------------------------------------------------------------------------------------


def _success(protocol: str, session: _Session, detail: str) -> ProbeResult:
    return ProbeResult(
        protocol=protocol,
        ok=True,
        status=Status.CONNECTED,
        reason=None,
        detail=detail,
        latency_ms=session.latency_ms(),
        phases=dict(session.phases),
        cert_expires_at=session.cert_expires_at,
        error=None,
    )


def _failure(
    protocol: str,
    session: _Session,
    exc: BaseException,
    answer: str,
    code: int | None,
    oauth: bool,
    mech: _XOAuth2 | None,
    ep: Endpoint,
    creds: Credentials,
) -> ProbeResult:
    if isinstance(exc, LoginHeld):
        return _held(protocol, session, exc)
    try:
        session.end_phase()
        phase = session.phase or "connect"
        if isinstance(exc, _Fail):
            reason = exc.reason
            detail = exc.detail
        else:
            _status, reason = classify.classify_failure(
                protocol, phase, exc=exc, answer=answer, code=code, oauth=oauth
            )
            detail = _describe(protocol, phase, exc, answer, reason, ep)
        if mech is not None and mech.challenge:
            detail += f"\nXOAUTH2 error from the server: {mech.challenge}"
        secrets = _secrets_of(ep, creds)
        detail = scrub_secrets(detail, secrets)[:MAX_DETAIL_CHARS]
        first = next((ln.strip() for ln in detail.splitlines() if ln.strip()), reason)
        error = scrub_secrets(f"{phase}: {first}", secrets)[:MAX_ERROR_CHARS]
    except Exception as inner:  # never raise out of a probe, even on a bug here
        reason, phase = "request_invalid", session.phase or "connect"
        detail = error = f"{phase}: {type(inner).__name__} while reporting a failure"
    # A refusal of the sign-in itself is a failed login as the server counts it.
    refused = session.sent_login and phase == "auth" and reason in CREDENTIAL_REASONS
    session.end_login(refused=refused)
    return ProbeResult(
        protocol=protocol,
        ok=False,
        status=classify.status_of(reason).value,
        reason=reason,
        detail=detail,
        latency_ms=session.latency_ms(),
        phases=dict(session.phases),
        cert_expires_at=session.cert_expires_at,
        error=error,
        login_refused=refused,
    )


def _held(protocol: str, session: _Session, held: LoginHeld) -> ProbeResult:
    """The budget held the sign-in back: nothing was learned (status `checking`)."""
    session.end_phase()
    return ProbeResult(
        protocol=protocol, ok=False, status=Status.CHECKING.value, reason=None,
        detail=held.message, latency_ms=session.latency_ms(), phases=dict(session.phases),
        cert_expires_at=session.cert_expires_at, error=held.message, held=held.message,
        held_until=held.retry_at)


def _describe(
    protocol: str, phase: str, exc: BaseException, answer: str, reason: str, ep: Endpoint
) -> str:
    """The detail: the server's own words when it said something, else the error text."""
    if reason == "timeout":
        said = f" Received so far: {answer}" if answer else ""
        return (f"No answer from {ep.host}:{ep.port} within {ep.timeout:g} s during {phase} "
                f"({type(exc).__name__}: {exc}).{said}")
    if answer and classify.classify_exception(exc, phase) != reason:
        return answer  # the server's own words decided (an answer, garbage…)
    if reason == "server_unavailable" and not answer:
        return (f"{ep.host}:{ep.port} closed the connection during {phase} without an answer "
                f"({type(exc).__name__}: {exc}).")
    return f"{type(exc).__name__}: {exc}"
