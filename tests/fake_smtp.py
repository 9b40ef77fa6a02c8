"""A stand-in for sender.SmtpTransport: keeps what it was given, answers as scripted.

Used by unit tests and the engine-overhead benchmark (no network). Scripts are keyed by the
recipient address: `FakeServer.script[rcpt] = [SendError(...) | "lost" | "crash", ...]` is
consumed one item per attempt; an empty script means 250.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import default
from typing import Any

from mailmonitor.models import Account
from mailmonitor.services.monitoring.probes import Credentials
from mailmonitor.services.sending.sender import LOST, SendError


class Crash(BaseException):
    """Simulates the process dying at that point (not caught by the engine)."""


@dataclass
class Delivered:
    sender: str
    rcpt: str
    data: bytes

    def parsed(self) -> Message:
        return BytesParser(policy=default).parsebytes(self.data)


@dataclass
class FakeServer:
    delivered: list[Delivered] = field(default_factory=list)
    script: dict[str, list[Any]] = field(default_factory=dict)
    open_error: dict[str, SendError] = field(default_factory=dict)  # by account email
    connections: int = 0

    def factory(self, account: Account, creds: Credentials, timeout: float) -> FakeTransport:
        return FakeTransport(self, account)

    def by_rcpt(self, rcpt: str) -> list[Message]:
        return [d.parsed() for d in self.delivered if d.rcpt == rcpt]


class FakeTransport:
    def __init__(self, server: FakeServer, account: Account) -> None:
        self.server, self.account = server, account

    def open(self) -> None:
        error = self.server.open_error.get(self.account.email)
        if error is not None:
            raise error
        self.server.connections += 1

    def send(self, mail_from: str, rcpt: str, data: bytes,
             on_handover: Callable[[], None]) -> str:
        steps = self.server.script.get(rcpt) or []
        action = steps.pop(0) if steps else None
        if isinstance(action, SendError) and action.phase != "end_of_data":
            raise action
        if action == "crash_before_handover":
            raise Crash()
        on_handover()
        if action == "crash_after_handover":
            raise Crash()  # the server never got the end of data
        if action == "crash_after_accept":
            self.server.delivered.append(Delivered(mail_from, rcpt, data))
            raise Crash()
        if action == "lost":
            self.server.delivered.append(Delivered(mail_from, rcpt, data))
            raise SendError(LOST, "end_of_data", "connection reset")
        if isinstance(action, SendError):
            raise action
        self.server.delivered.append(Delivered(mail_from, rcpt, data))
        return "250 2.0.0 OK"

    def close(self) -> None:
        pass


def fake_credentials(account: Account, password: str | None, timeout: float) -> Credentials:
    return Credentials(password="secret-password")
