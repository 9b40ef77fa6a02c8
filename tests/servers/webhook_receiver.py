"""A webhook receiver on loopback (http.server in a thread) that keeps every complete request.

It answers with scripted status codes (e.g. 500, 500, then 200 for ever), counts a request only
when its whole body arrived (Content-Length; a sender killed mid-request is not a delivery, as
with any real receiver), and can check the HMAC signature mailmonitor sends with a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["WebhookReceiver", "WebhookRequest"]


@dataclass(frozen=True)
class WebhookRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    def signature_ok(self, secret: str) -> bool:
        stamp = self.headers.get("x-mailmonitor-timestamp", "")
        sent = self.headers.get("x-mailmonitor-signature", "")
        expected = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + self.body,
                                        hashlib.sha256).hexdigest()
        return bool(stamp) and hmac.compare_digest(sent, expected)


class WebhookReceiver:
    def __init__(self, statuses: list[int] | None = None) -> None:
        self._script = list(statuses or [])
        self._lock = threading.Lock()
        self._requests: list[WebhookRequest] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    return  # the sender went away mid-request: nothing was delivered
                status = receiver._next_status()
                receiver._add(WebhookRequest(self.path, {k.lower(): v for k, v in
                                                         self.headers.items()}, body, status))
                self.send_response(status)
                payload = b"ok" if status < 300 else b"server error"
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, statuses: list[int]) -> None:
        with self._lock:
            self._script = list(statuses)

    def _next_status(self) -> int:
        with self._lock:
            return self._script.pop(0) if self._script else 200

    def _add(self, request: WebhookRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def requests(self) -> list[WebhookRequest]:
        with self._lock:
            return list(self._requests)

    def accepted(self, path: str | None = None) -> list[WebhookRequest]:
        return [r for r in self.requests() if r.accepted and (path is None or r.path == path)]

    def wait_for(self, count: int, timeout: float = 10.0, path: str | None = None
                 ) -> list[WebhookRequest]:
        deadline = time.monotonic() + timeout
        while len(self.accepted(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} webhook calls, got "
                                     f"{len(self.accepted(path))}")
            time.sleep(0.01)
        return self.accepted(path)

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
