"""An SMTP sink that also files every message it accepts in the sender's Sent folder on a test
Dovecot, before it answers 250 — what Gmail and Microsoft 365 do with mail sent through their
SMTP. Point a Dovecot's submission relay at it to get a provider whose Sent folder is the record
of what was accepted (the kill test relies on this).
"""

from __future__ import annotations

import asyncio
from email.parser import BytesParser
from email.policy import compat32
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.servers.smtp_sink import ReceivedMessage, SmtpSink, _EphemeralPortController

__all__ = ["FilingSink"]


class _FilingHandler:
    def __init__(self, sink: FilingSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        sender = (envelope.mail_from or "").lower()
        if self._sink.dovecot is not None and sender in self._sink.dovecot._users:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: self._sink.dovecot.deliver(sender, raw, folder="Sent",
                                                         flags=("\\Seen",)))
        headers = BytesParser(policy=compat32).parsebytes(raw, headersonly=True)
        message_id = headers.get("Message-ID")
        self._sink._add(ReceivedMessage(
            mail_from=envelope.mail_from or "", rcpt_tos=tuple(envelope.rcpt_tos), raw=raw,
            message_id=str(message_id).strip() if message_id is not None else None,
            peer=session.peer if isinstance(session.peer, tuple) else None,
        ))
        return "250 2.0.0 Ok: queued (copy filed in Sent)"


class FilingSink(SmtpSink):
    """Set ``dovecot`` after the Dovecot that relays here has started."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.dovecot: Any = None

    def start(self) -> FilingSink:
        if self._controller is not None:
            return self
        controller = _EphemeralPortController(
            _FilingHandler(self), hostname=self.host, port=self._requested_port,
            ready_timeout=5.0, data_size_limit=50 * 1024 * 1024,
        )
        controller.start()
        self._controller = controller
        return self
