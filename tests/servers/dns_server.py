"""A tiny authoritative DNS server on loopback (UDP) for tests, built with dnspython's own
message classes: a zone given as {name: [(type, text), ...]}. Names not in the zone answer
NXDOMAIN; a name with other types answers NOERROR with no records; CNAMEs are followed inside
the zone (the chain is put in the answer, as a recursive resolver would). ``silent()`` makes it
stop answering (a DNS server that is down). Never a public resolver."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

__all__ = ["DnsServer"]

Zone = dict[str, list[tuple[str, str]]]


def txt(value: str) -> str:
    """A TXT record's text in zone-file form: split into 255-byte strings, quoted."""
    parts = [value[i:i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts)


class DnsServer:
    host = "127.0.0.1"

    def __init__(self, zone: Zone | None = None) -> None:
        self.zone: Zone = {}
        self.queries: list[tuple[str, str]] = []
        self._silent = False
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        for name, records in (zone or {}).items():
            self.set(name, records)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def set(self, name: str, records: Iterable[tuple[str, str]]) -> None:
        """Replace the records of a name; TXT values are given unquoted."""
        key = name.lower().rstrip(".") + "."
        self.zone[key] = [(t.upper(), txt(v) if t.upper() == "TXT" else v) for t, v in records]

    def remove(self, name: str) -> None:
        self.zone.pop(name.lower().rstrip(".") + ".", None)

    def silent(self, on: bool = True) -> None:
        self._silent = on

    def start(self) -> DnsServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((self.host, 0))
        sock.settimeout(0.2)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="test-dns", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        while self._sock is not None:
            try:
                data, peer = self._sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            if self._silent:
                continue
            with contextlib.suppress(Exception):
                reply = self._answer(dns.message.from_wire(data))
                if self._sock is not None:
                    self._sock.sendto(reply.to_wire(max_size=65535), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA | dns.flags.RA
        question = query.question[0]
        name = question.name.to_text().lower()
        wanted = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, wanted))
        for _ in range(8):  # follow CNAMEs inside the zone
            records = self.zone.get(name)
            if records is None:
                if not response.answer:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                return response
            cname = [v for t, v in records if t == "CNAME"]
            if cname and wanted != "CNAME":
                response.answer.append(dns.rrset.from_text(name, 300, "IN", "CNAME", cname[0]))
                name = cname[0].lower().rstrip(".") + "."
                continue
            values = [v for t, v in records if t == wanted]
            if values:
                response.answer.append(dns.rrset.from_text_list(name, 300, "IN", wanted, values))
            return response
        return response
