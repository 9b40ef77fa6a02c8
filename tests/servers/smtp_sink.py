"""An SMTP sink on loopback (aiosmtpd) that keeps every message it receives.

Dovecot's submission service relays to it, so tests can see what the app really sent.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["ReceivedMessage", "SmtpSink"]


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message_id: str | None  # the Message-ID header as sent (with angle brackets), if any
    peer: tuple[str, int] | None

    def parsed(self) -> Message:
        return BytesParser(policy=compat32).parsebytes(self.raw)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):  # only with decode_data=True, which the sink does not use
            raw = raw.encode("utf-8", "surrogateescape")
        headers = BytesParser(policy=compat32).parsebytes(raw, headersonly=True)
        message_id = headers.get("Message-ID")
        peer = session.peer if isinstance(session.peer, tuple) else None
        self._sink._add(
            ReceivedMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=raw,
                message_id=str(message_id).strip() if message_id is not None else None,
                peer=peer,
            )
        )
        if self._sink.stall_after_data:  # it has the message; its confirmation never comes
            await asyncio.sleep(self._sink.stall_after_data)
        return "250 Message accepted for delivery"


class _EphemeralPortController(Controller):
    """aiosmtpd's Controller cannot take port 0 (its start-up probe connects to ``self.port``):
    read the port the kernel picked before that probe."""

    def _trigger_server(self) -> None:
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    """SMTP server on 127.0.0.1 (ephemeral port) that stores every message it accepts. It
    announces SMTPUTF8 (aiosmtpd's default). With `users` (address -> password) it also asks
    for AUTH (PLAIN or LOGIN, without TLS: a test on loopback), like a provider's submission
    port; tests that use it ignore aiosmtpd's warning about AUTH without TLS. With
    `stall_after_data` it keeps each message that long before confirming it.

    Thread-safe: the server runs in aiosmtpd's thread, tests read from theirs.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 users: dict[str, str] | None = None, stall_after_data: float = 0.0) -> None:
        self.host = host
        self._requested_port = port
        self.users = dict(users or {})
        self.stall_after_data = stall_after_data  # seconds before it confirms a message
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._messages: list[ReceivedMessage] = []
        self._controller: _EphemeralPortController | None = None

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("SmtpSink is not running")
        return int(self._controller.port)

    def start(self) -> SmtpSink:
        if self._controller is not None:
            return self
        auth: dict[str, Any] = {}
        if self.users:
            auth = {"authenticator": self._authenticate, "auth_required": True,
                    "auth_require_tls": False}
        controller = _EphemeralPortController(
            _Handler(self),
            hostname=self.host,
            port=self._requested_port,
            ready_timeout=5.0,
            data_size_limit=50 * 1024 * 1024,
            **auth,
        )
        controller.start()
        self._controller = controller
        return self

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8")
            if self.users.get(user) == auth_data.password.decode("utf-8"):
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _add(self, message: ReceivedMessage) -> None:
        with self._changed:
            self._messages.append(message)
            self._changed.notify_all()

    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def wait_for(self, n: int = 1, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Wait until at least ``n`` messages arrived; return them all. Raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._messages) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"SMTP sink got {len(self._messages)} message(s), expected {n} "
                        f"within {timeout} s"
                    )
                self._changed.wait(min(remaining, 0.05))
            return list(self._messages)


def main() -> None:
    """`python -m tests.servers.smtp_sink`: a sink in a process of its own (a benchmark's
    Dovecot relays to it without sharing the measured client's interpreter lock). Prints its
    port, runs until standard input closes."""
    import sys

    with SmtpSink() as sink:
        print(sink.port, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
