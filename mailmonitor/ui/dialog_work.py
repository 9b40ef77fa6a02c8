"""Background work that belongs to one dialog and ends with it.

A dialog starts its tests and sign-ins through :class:`DialogWork`; when the dialog closes
(Cancel, Esc, the window's close button, or accepting) :meth:`DialogWork.stop` cancels the tasks
and aborts the connection tests they run (their sockets are shut down), so nothing comes back
later to touch widgets Qt has already deleted. Coroutines check :attr:`DialogWork.alive` after
each ``await`` before touching a widget.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

from mailmonitor.services.monitoring.progress import ProbeWatch
from mailmonitor.ui.context import UiContext


class DialogWork:
    def __init__(self, ctx: UiContext) -> None:
        self.ctx = ctx
        self.alive = True
        self.tasks: set[asyncio.Task[Any]] = set()
        self.watches: list[ProbeWatch] = []
        self.cancel_events: list[threading.Event] = []

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any] | None:
        if not self.alive:
            coro.close()
            return None
        task = self.ctx.spawn(coro, what)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def watch(self, timeout: float) -> ProbeWatch:
        """A watcher for one connection test; cancelled with the dialog."""
        watch = ProbeWatch(timeout)
        self.watches = [w for w in self.watches if not w.cancelled.is_set()] + [watch]
        return watch

    def cancel_event(self) -> threading.Event:
        """An event a blocking sign-in polls; set when the dialog closes."""
        event = threading.Event()
        self.cancel_events.append(event)
        return event

    @property
    def busy(self) -> bool:
        return any(not t.done() for t in self.tasks)

    def stop(self) -> None:
        """The dialog is closing: abort every test, give up every sign-in, cancel every task."""
        self.alive = False
        for watch in self.watches:
            watch.cancel()
        for event in self.cancel_events:
            event.set()
        for task in list(self.tasks):
            task.cancel()
