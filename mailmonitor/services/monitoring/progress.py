"""Watching one interactive connection test (Add mailbox, the reconnect wizard) while it runs.

The probes tell a :class:`ProbeWatch` each step they enter (connect, TLS, greeting, sign-in, inbox)
from their worker threads; the window reads :meth:`ProbeWatch.snapshot` on a timer to show each
step with its elapsed time and the timeout. :meth:`ProbeWatch.cancel` aborts the test at once: it
shuts down the test's sockets, so a probe blocked on a silent server returns now instead of after
its timeout. Qt-free and thread-safe.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# The probes' phase names in the rep's words.
STEP_WORDS = {
    "connect": "connecting",
    "tls": "securing the connection (TLS)",
    "greeting": "waiting for the server's greeting",
    "ehlo": "introducing itself (EHLO)",
    "auth": "signing in",
    "select": "opening the inbox",
    "noop": "checking the session",
    "logout": "signing out",
    "quit": "signing out",
    "token": "getting a sign-in token",
}


class ProbeCancelled(Exception):
    """The rep cancelled the test (raised inside the probe's step)."""


@dataclass(frozen=True)
class StepState:
    protocol: str  # 'imap' | 'smtp'
    step: str  # a probe phase name ('connect', 'auth', …); '' before the first
    elapsed_s: float  # in this step
    timeout_s: float  # what this step may take
    done: bool
    ok: bool | None  # None while running

    @property
    def text(self) -> str:
        """One line for the window, e.g. "IMAP: signing in… 3 s (times out after 20 s)"."""
        name = self.protocol.upper()
        if self.done:
            return f"{name}: {'works' if self.ok else 'failed'}"
        words = STEP_WORDS.get(self.step, self.step or "starting")
        return (f"{name}: {words}… {self.elapsed_s:.0f} s "
                f"(gives up after {self.timeout_s:g} s)")


class ProbeWatch:
    """Shared by the probes of one test and the window that shows it."""

    def __init__(self, timeout: float, now: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self._now = now
        self._lock = threading.Lock()
        self._steps: dict[str, tuple[str, float]] = {}
        self._done: dict[str, bool] = {}
        self._sockets: list[socket.socket] = []
        self.cancelled = threading.Event()

    # --- called by the probes (worker threads) ---------------------------------------------------

    def step(self, protocol: str, name: str) -> None:
        if self.cancelled.is_set():
            raise ProbeCancelled("cancelled")
        with self._lock:
            self._steps[protocol] = (name, self._now())

    def finished(self, protocol: str, ok: bool) -> None:
        with self._lock:
            self._done[protocol] = ok

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
        if self.cancelled.is_set():
            self._shutdown(sock)

    # --- called by the window ------------------------------------------------------------------

    def snapshot(self, protocols: tuple[str, ...] = ("imap", "smtp")) -> list[StepState]:
        now = self._now()
        with self._lock:
            states = []
            for protocol in protocols:
                name, since = self._steps.get(protocol, ("", now))
                done = protocol in self._done
                states.append(StepState(protocol, name, max(0.0, now - since), self.timeout,
                                        done, self._done.get(protocol)))
            return states

    def cancel(self) -> None:
        """Abort the test now: every socket it opened is shut down (the probes' blocked reads
        return at once) and the next step refuses to start."""
        self.cancelled.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
