"""One limit for a whole alert delivery: connect, TLS, the request and the complete answer.

A per-read timeout (requests' ``timeout=(15, 15)``, smtplib's ``timeout``) bounds each socket
operation, not the exchange: a receiver that answers one byte every few seconds never trips
it, and one delivery held the next channel's alert for ten minutes. A :class:`Deadline`
bounds the exchange itself, in three layers:

1. every socket the exchange opens is *tracked* — a duplicate of its descriptor is kept, so
   wrapping it in TLS does not lose it — and when the time is up (or the delivery is
   cancelled: SIGTERM) they are all shut down: whatever read or write is blocked returns at
   once, and the exchange fails like a connection the receiver cut;
2. each step's own timeout is never longer than the time left (:meth:`step_timeout`);
3. the exchange runs in a thread of its own and the caller waits for it at most the time left
   plus :data:`ABANDON_AFTER`; one that still runs (a DNS lookup cannot be interrupted) is
   abandoned, and an abandoned or expired exchange can no longer hand the message over
   (:meth:`hand_over`), so "not delivered" stays provable.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

ABANDON_AFTER = 1.0  # seconds an expired exchange gets to notice before it is left behind
POLL = 0.05  # how often the waiting thread looks at the cancel flag


class DeadlinePassed(Exception):
    """The exchange did not finish in time (or was cancelled). `handed_over`: its message's
    last byte may have gone out before that."""

    def __init__(self, text: str, *, handed_over: bool, cancelled: bool) -> None:
        super().__init__(text)
        self.text = text
        self.handed_over = handed_over
        self.cancelled = cancelled


class Deadline:
    """Thread-safe: the exchange's thread tracks sockets and asks to hand over; the waiting
    thread (or a stop request) expires it."""

    def __init__(self, seconds: float, cancel: threading.Event | None = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._now = now
        self.at = now() + seconds
        self.cancel = cancel
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []
        self._expired = False
        self.cancelled = False
        self._handed_over = False
        self._abandoned = False

    # --- the exchange's side ------------------------------------------------------------------

    def left(self) -> float:
        return max(0.0, self.at - self._now())

    def step_timeout(self, per_step: float | None = None) -> float:
        """A socket timeout for the next step: never past the deadline (and never 0, which
        would make the socket non-blocking)."""
        left = self.left()
        return max(0.001, min(per_step, left) if per_step else left)

    def track(self, sock: socket.socket) -> None:
        """Watch this socket until the end; shut at once if the time is already up."""
        try:
            watcher = sock.dup()
        except OSError:
            return
        with self._lock:
            self._watched.append(watcher)
            expired = self._expired
        if expired:
            _shut(watcher)

    def hand_over(self) -> bool:
        """May the message's last byte go out now? Never once the time is up: then the
        delivery provably did not happen and is tried again later."""
        with self._lock:
            if self._expired or self._abandoned:
                return False
            self._handed_over = True
            return True

    @property
    def handed_over(self) -> bool:
        with self._lock:
            return self._handed_over

    @property
    def expired(self) -> bool:
        with self._lock:
            return self._expired

    # --- the waiting side ---------------------------------------------------------------------

    def expire(self, *, cancelled: bool = False) -> None:
        """Time is up (or the delivery is cancelled): every tracked socket is shut down."""
        with self._lock:
            if not self._expired:
                self.cancelled = cancelled
            self._expired = True
            watched = list(self._watched)
        for watcher in watched:
            _shut(watcher)

    def close(self) -> None:
        with self._lock:
            watched, self._watched = self._watched, []
        for watcher in watched:
            with contextlib.suppress(OSError):
                watcher.close()

    def run(self, exchange: Callable[[], T], on_exit: Callable[[], None] | None = None) -> T:
        """Run `exchange` in its own thread and return its result (or raise its exception)
        within the deadline; raises DeadlinePassed otherwise. `on_exit` runs last in that
        thread, whatever happened (e.g. closing its database connection)."""
        box: _Box[T] = _Box()
        worker = threading.Thread(target=box.fill, args=(exchange, on_exit), daemon=True,
                                  name="alert-exchange")
        worker.start()
        try:
            while worker.is_alive():
                if self.cancel is not None and self.cancel.is_set():
                    self.expire(cancelled=True)
                    break
                left = self.left()
                if left <= 0:
                    self.expire()
                    break
                worker.join(min(POLL, left) if self.cancel is not None else left)
            worker.join(ABANDON_AFTER)
            if worker.is_alive():
                with self._lock:
                    self._abandoned = True
                    handed = self._handed_over
                raise DeadlinePassed(self._words(), handed_over=handed,
                                     cancelled=self.cancelled)
            if box.error is not None:
                if self.expired:  # the cut sockets made it fail: say why, not how
                    raise DeadlinePassed(self._words(), handed_over=self.handed_over,
                                         cancelled=self.cancelled) from None
                raise box.error
            return box.value  # type: ignore[return-value]
        finally:
            self.close()

    def _words(self) -> str:
        if self.cancelled:
            return "mailmonitor was stopping: the delivery was cut off"
        return f"no complete answer within {self.seconds:g} s"


class _Box(Generic[T]):
    """What the exchange's thread produced."""

    def __init__(self) -> None:
        self.value: T | None = None
        self.error: BaseException | None = None

    def fill(self, exchange: Callable[[], T], on_exit: Callable[[], None] | None) -> None:
        try:
            self.value = exchange()
        except BaseException as exc:  # handed to the waiting thread, which decides
            self.error = exc
        finally:
            if on_exit is not None:
                with contextlib.suppress(Exception):
                    on_exit()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
