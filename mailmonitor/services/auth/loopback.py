"""The loopback redirect of a desktop OAuth sign-in (RFC 8252 §7.3), on 127.0.0.1 only.

The provider sends the browser back to ``http://127.0.0.1:<port>/`` (Google) or
``http://localhost:<port>/`` (Microsoft's registrations; with ``response_mode=form_post`` the
answer is a POST). The redirect carries the authorization code, so the listener is bound to the
loopback address only, never to all interfaces (msal's own listener does that when it believes it
runs in a container). Waiting is bounded by a deadline and can be cancelled from another thread.
"""

from __future__ import annotations

import html
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

LOOPBACK = "127.0.0.1"
_MAX_BODY = 64 * 1024


class RedirectTimeout(Exception):
    pass


class RedirectCancelled(Exception):
    pass


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>mailmonitor</title></head>
<body style="font-family:sans-serif;margin:3em"><h2>{title}</h2><p>{text}</p></body></html>"""


class _Server(ThreadingHTTPServer):
    """Threaded: a browser's speculative pre-connection that never sends a request must not
    hold up the real redirect arriving on another connection."""

    owner: LoopbackRedirect
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a connection that stays silent is dropped

    def do_GET(self) -> None:
        self._answer(parse_qs(urlsplit(self.path).query))

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), _MAX_BODY)
        body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        params = parse_qs(urlsplit(self.path).query)
        params.update(parse_qs(body))
        self._answer(params)

    def _answer(self, raw: dict[str, list[str]]) -> None:
        params = {key: values[0] for key, values in raw.items() if values}
        owner = self.server.owner
        if not ({"code", "error"} & params.keys()):
            self._page(404, "Not found", "This address only receives the sign-in answer.")
            return
        if not owner.accept(params):
            self._page(400, "Not the current sign-in",
                       "This answer does not belong to the sign-in mailmonitor is waiting for.")
            return
        if "error" in params:
            self._page(200, "Sign-in did not finish",
                       "The provider answered: " + html.escape(
                           params.get("error_description") or params["error"])
                       + ". Return to mailmonitor.")
        else:
            self._page(200, "Signed in", "You can close this tab and return to mailmonitor.")

    def _page(self, status: int, title: str, text: str) -> None:
        body = _PAGE.format(title=html.escape(title), text=text).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the request line carries the authorization code: never print or log it


class LoopbackRedirect:
    """A one-shot listener on 127.0.0.1 and a free port. ``redirect_uri`` names it with
    ``host_name`` ("127.0.0.1", or "localhost" where the client registration requires it).
    Call :meth:`expect` with the request's ``state`` before the browser is opened."""

    def __init__(self, host_name: str = LOOPBACK, path: str = "/") -> None:
        self._server = _Server((LOOPBACK, 0), _Handler)
        self._server.owner = self
        self.port: int = self._server.server_address[1]
        self.redirect_uri = f"http://{host_name}:{self.port}{path}"
        self.expected_state: str | None = None
        self.result: dict[str, str] | None = None
        self._arrived = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="oauth-redirect", daemon=True)
        self._thread.start()

    @property
    def bound_address(self) -> tuple[str, int]:
        host, port = self._server.socket.getsockname()[:2]
        return str(host), int(port)

    def accept(self, params: dict[str, str]) -> bool:
        """Keep the first answer that carries the expected state; refuse everything else."""
        with self._lock:
            if self.expected_state is None or params.get("state") != self.expected_state \
                    or self.result is not None:
                return False
            self.result = params
        self._arrived.set()
        return True

    def expect(self, state: str) -> None:
        with self._lock:
            self.expected_state = state

    def wait(self, deadline: float, cancel: threading.Event | None = None) -> dict[str, str]:
        """The redirect's parameters (``code`` or ``error``, and ``state``) once it arrives.
        Answers without the expected ``state`` are refused and waiting goes on. ``deadline`` is
        a ``time.monotonic()`` value."""
        while not self._arrived.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
            if cancel is not None and cancel.is_set():
                raise RedirectCancelled()
            if time.monotonic() >= deadline:
                raise RedirectTimeout()
        assert self.result is not None
        return self.result

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)

    def __enter__(self) -> LoopbackRedirect:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
