"""One HTTP POST of an alert within one deadline (services/alerts/deadline.py).

requests (proxies, `REQUESTS_CA_BUNDLE`, TLS verification) over urllib3 pools whose
connections tell the deadline every socket they open, never wait longer than the time left,
and read answers strictly: an answer counts only when its status line and headers arrived
whole and parse, and its body (as far as it is read) is not cut short. The body's last byte
goes out only after `on_handover` has run, and only while the deadline allows it.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from mailmonitor.logsetup import redact
from mailmonitor.services.alerts.deadline import Deadline

MAX_RESPONSE_BYTES = 4096  # what is read of a receiver's answer


class PostFailed(Exception):
    """No complete answer. `handed_over`: the whole request went out before that."""

    def __init__(self, text: str, *, handed_over: bool) -> None:
        super().__init__(text)
        self.text = text
        self.handed_over = handed_over


@dataclass(frozen=True)
class Answer:
    status: int
    text: str  # the start of the body, for messages


class HandoverBody:
    """A request body whose last byte is written only after `on_handover` has run: a receiver
    cannot act on a request before its body is complete (Content-Length)."""

    def __init__(self, data: bytes, on_handover: Callable[[], None],
                 deadline: Deadline | None = None) -> None:
        self.data = data
        self.on_handover = on_handover
        self.deadline = deadline
        self.handed_over = False

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[bytes]:
        if len(self.data) > 1:
            yield self.data[:-1]
        if self.deadline is not None and not self.deadline.hand_over():
            raise NotHandedOver("the time was up before the last byte")
        self.on_handover()
        self.handed_over = True
        yield self.data[-1:]


class NotHandedOver(Exception):
    """The deadline passed before the message's last byte: it provably did not arrive."""


def safe_url(url: str) -> str:
    """The URL as logs and the window show it: scheme and host only (a webhook URL's path is
    its secret, as with Slack; a user name and password before the host are secrets too)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    where = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"{where}/…"
    return where + parts.path


# --- HTTP with one deadline -------------------------------------------------------------------

class CutOffAnswer(http.client.HTTPException):
    """The receiver's answer ended inside its headers, or they cannot be parsed."""


# Defects urllib3 itself tolerates (multipart bodies); anything else is an unparsable answer.
_HARMLESS_DEFECTS = ("StartBoundaryNotFoundDefect", "MultipartInvariantViolationDefect")


class _LastLine:
    """`HTTPResponse.fp` while the status line and headers are read: remembers the last line,
    so the end of the header block (an empty line) can be told from the end of the stream."""

    def __init__(self, fp: Any) -> None:
        self.fp = fp
        self.last: bytes | None = None

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self.fp.readline(limit)
        self.last = line
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fp, name)


class StrictResponse(http.client.HTTPResponse):
    """http.client ends the header block at an empty line *or* at the end of the stream, and
    parses what it can of broken header lines: `200 OK\r\nContent-Len` then a closed
    connection would be a "200". Here it is a cut-off answer, which confirms nothing."""

    def begin(self) -> None:
        if self.headers is not None:
            return
        real = self.fp
        watch = _LastLine(real)
        self.fp = watch
        try:
            super().begin()
        finally:
            if self.fp is watch:
                self.fp = real
        if watch.last not in (b"\r\n", b"\n"):
            raise CutOffAnswer("the answer ended inside its headers")
        defects = [type(d).__name__ for d in self.msg.defects
                   if type(d).__name__ not in _HARMLESS_DEFECTS]
        if defects:
            raise CutOffAnswer(f"the answer's headers cannot be parsed ({', '.join(defects)})")
        length = self.headers.get("content-length")
        if length is not None and not self.chunked and not length.strip().isdigit():
            raise CutOffAnswer(f"the answer's Content-Length {length[:20]!r} is not a number")


def _deadline_pools(deadline: Deadline) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pools whose connections tell `deadline` each socket they open, time their
    connect by it, and read answers strictly."""

    class Tracked:
        """Mixed into both connections, before urllib3's."""

        response_class: Any = StrictResponse
        timeout: Any

        def _new_conn(self) -> socket.socket:
            self.timeout = deadline.step_timeout(_seconds(self.timeout))
            sock: socket.socket = super()._new_conn()  # type: ignore[misc]
            deadline.track(sock)
            return sock

    class Connection(Tracked, HTTPConnection):
        pass

    class SecureConnection(Tracked, HTTPSConnection):
        pass

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = SecureConnection

    return {"http": Pool, "https": SecurePool}


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter (proxies, REQUESTS_CA_BUNDLE and all) over the deadline's pools; no
    retries: a retry is the outbox's decision."""

    def __init__(self, deadline: Deadline) -> None:
        self.pools = _deadline_pools(deadline)
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self.pools

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = self.pools
        return manager


def post(url: str, body: bytes, headers: dict[str, str], on_handover: Callable[[], None],
         deadline: Deadline) -> Answer:
    """POST `body`; the complete answer (any status). Raises PostFailed, or NotHandedOver
    when the deadline passed before the last byte."""
    stream = HandoverBody(body, on_handover, deadline)
    with requests.Session() as session:
        adapter = DeadlineAdapter(deadline)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            response = session.post(url, data=stream, headers=headers,
                                    timeout=(deadline.step_timeout(), deadline.step_timeout()),
                                    allow_redirects=False, stream=True)
        except requests.RequestException as exc:
            raise PostFailed(error_text(exc, url), handed_over=stream.handed_over) from None
        try:
            data = _read_answer(response, deadline)
        except Exception as exc:  # cut off or malformed mid-body: nothing was confirmed
            raise PostFailed(f"HTTP {response.status_code}, but the answer was cut off "
                             f"({error_text(exc, url)})", handed_over=True) from None
        finally:
            response.close()
    return Answer(response.status_code, data.decode("utf-8", "replace").strip()[:300])


def _read_answer(response: requests.Response, deadline: Deadline) -> bytes:
    """At most MAX_RESPONSE_BYTES of the body, chunk by chunk within the deadline; an answer
    that ends before its Content-Length (or its last chunk) raises."""
    data = b""
    while len(data) < MAX_RESPONSE_BYTES:
        if deadline.expired:
            raise TimeoutError("the answer was still coming when the time was up")
        chunk = response.raw.read(min(1024, MAX_RESPONSE_BYTES - len(data)),
                                  decode_content=True)
        if not chunk:
            break
        data += chunk
    return data


def error_text(exc: BaseException, url: str) -> str:
    """The error in one line without the URL's secret parts (urllib3 names the path itself)."""
    text = redact(f"{type(exc).__name__}: {exc}").replace(url, safe_url(url))
    path = urlsplit(url).path
    if path not in ("", "/"):
        text = text.replace(path, "/…")
    return text
