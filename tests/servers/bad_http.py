"""HTTP receivers on loopback that misbehave after reading a whole request (raw sockets, one
thread per connection), for the alert channels' deadline and answer checks:

- ``"drip"``: answers ``200 OK`` one byte every `interval` seconds (a complete, valid answer,
  if anyone waited for it);
- ``"cut"``: sends ``HTTP/1.1 200 OK\\r\\nContent-Len`` and closes the connection;
- ``"silent"``: reads the request and never answers.

Every request whose body arrived whole (Content-Length) is kept, so a test can tell "the
message reached the receiver" from "the sender got a confirmation".
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Literal

__all__ = ["BadHttpReceiver"]

Mode = Literal["drip", "cut", "silent"]
DRIP_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
CUT_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Len"


class BadHttpReceiver:
    def __init__(self, mode: Mode, interval: float = 0.25) -> None:
        self.mode = mode
        self.interval = interval
        self._server = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._clients: list[socket.socket] = []
        self.bodies: list[bytes] = []  # complete request bodies, in arrival order
        self.paths: list[str] = []
        self.answer_bytes_sent = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.getsockname()[1])

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def complete_requests(self) -> int:
        with self._lock:
            return len(self.bodies)

    def wait_for_request(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.complete_requests() == 0:
            if time.monotonic() > deadline:
                raise AssertionError("no complete request arrived")
            time.sleep(0.01)

    def start(self) -> BadHttpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self._server.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
        self._thread.join(5)

    def __enter__(self) -> BadHttpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self._clients.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            if not self._read_request(client):
                return
            if self.mode == "cut":
                client.sendall(CUT_ANSWER)
                client.shutdown(socket.SHUT_RDWR)
            elif self.mode == "drip":
                for i in range(len(DRIP_ANSWER)):
                    client.sendall(DRIP_ANSWER[i:i + 1])
                    with self._lock:
                        self.answer_bytes_sent += 1
                    if self._stop.wait(self.interval):
                        return
            else:
                self._stop.wait()

    def _read_request(self, client: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = client.recv(65536)
            if not chunk:
                return False  # the sender went away mid-request: nothing was delivered
            body += chunk
        with self._lock:
            self.bodies.append(body)
            self.paths.append(lines[0].split(" ")[1] if " " in lines[0] else "")
        return True
