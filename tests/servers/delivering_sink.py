"""An SMTP sink that delivers what it accepts back into a test Dovecot, the way a provider's
inbound side would: into each recipient's INBOX, into its Junk folder when a spam rule says so,
or nowhere (dropped) — before it answers 250, so the message is there when the sender hears OK.
Point a Dovecot's submission relay at it to test sending-and-receiving round trips.

``route(rcpt, raw)`` decides: "INBOX", "Junk" (or any folder name) or None to drop it. The
default files everything in the INBOX; ``spam_words`` files a message whose text contains one of
them in Junk (a stand-in for a provider's spam filter)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import compat32
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.servers.smtp_sink import ReceivedMessage, SmtpSink, _EphemeralPortController

__all__ = ["DeliveringSink"]

Route = Callable[[str, bytes], str | None]


class _DeliveringHandler:
    def __init__(self, sink: DeliveringSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        sink = self._sink
        for rcpt in envelope.rcpt_tos:
            address = rcpt.lower()
            folder = sink.route(address, raw)
            if folder is not None and sink.dovecot is not None and \
                    address in sink.dovecot._users:
                await asyncio.get_running_loop().run_in_executor(
                    None, functools.partial(sink.dovecot.deliver, address, raw, folder=folder))
            sink.routed.append((address, folder))
        headers = BytesParser(policy=compat32).parsebytes(raw, headersonly=True)
        message_id = headers.get("Message-ID")
        sink._add(ReceivedMessage(
            mail_from=envelope.mail_from or "", rcpt_tos=tuple(envelope.rcpt_tos), raw=raw,
            message_id=str(message_id).strip() if message_id is not None else None,
            peer=session.peer if isinstance(session.peer, tuple) else None,
        ))
        return "250 2.0.0 Ok: delivered"


class DeliveringSink(SmtpSink):
    """Set ``dovecot`` after the Dovecot that relays here has started."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.dovecot: Any = None
        self.route: Route = lambda rcpt, raw: "INBOX"
        self.routed: list[tuple[str, str | None]] = []

    def spam_words(self, *words: bytes) -> None:
        self.route = lambda rcpt, raw: "Junk" if any(w in raw for w in words) else "INBOX"

    def drop_all(self) -> None:
        self.route = lambda rcpt, raw: None

    def deliver_all(self) -> None:
        self.route = lambda rcpt, raw: "INBOX"

    def start(self) -> DeliveringSink:
        if self._controller is not None:
            return self
        controller = _EphemeralPortController(
            _DeliveringHandler(self), hostname=self.host, port=self._requested_port,
            ready_timeout=5.0, data_size_limit=10 * 1024 * 1024,
        )
        controller.start()
        self._controller = controller
        return self
