"""What the window's parts share: the clock, the event bridge, the monitor, a worker pool for
blocking calls (probes, keyring, OAuth) and strong references to background tasks."""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol, TypeVar

from mailmonitor import events
from mailmonitor.clock import Clock, SystemClock
from mailmonitor.models import Account
from mailmonitor.services.monitoring.account_state import ProbeLike
from mailmonitor.services.monitoring.progress import ProbeWatch
from mailmonitor.ui.attention import AttentionFeed
from mailmonitor.ui.bridge import EventBridge

log = logging.getLogger(__name__)

T = TypeVar("T")
CheckFn = Callable[..., tuple[ProbeLike, ProbeLike]]  # (account, password, timeout[, watch])


class MonitorLike(Protocol):
    async def check_account(self, account_id: int, trigger: str = "manual",
                            password: str | None = None) -> Any: ...

    async def sweep(self, emails: list[str] | None = None, trigger: str = "manual") -> Any: ...

    async def store_test(self, account_id: int, write: Callable[[], T]) -> T: ...


def real_check(account: Account, password: str | None, timeout: float,
               watch: ProbeWatch | None = None) -> tuple[ProbeLike, ProbeLike]:
    """The real IMAP + SMTP probe (imported on first use: keeps start-up light)."""
    from mailmonitor.services.auth.refresh import oauth_token_provider
    from mailmonitor.services.monitoring.checker import run_check

    return run_check(account, password, timeout, oauth_token_provider(), watch=watch)


@dataclass
class UiContext:
    bridge: EventBridge
    loop: asyncio.AbstractEventLoop
    clock: Clock = field(default_factory=SystemClock)
    monitor: MonitorLike | None = None
    check_fn: CheckFn = real_check
    executor: Executor = field(default_factory=lambda: ThreadPoolExecutor(
        max_workers=4, thread_name_prefix="ui-worker"))
    timeout: float = 20.0
    # `mailmonitor demo`: email -> what fixes that mailbox, shown where it is typed
    hints: dict[str, str] = field(default_factory=dict)
    demo: bool = False  # `mailmonitor demo`: a throwaway folder, nothing to keep or share
    # The window's notice ("Moved 12 leads…" with Undo for a few seconds): set by the window.
    notice: Callable[[str, Callable[[], str] | None], None] | None = None
    coalesce_ms: int = 50  # how long views gather changes before refreshing (tests: 0)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    # Reconciles the alerts now (`services.alerts.reconciler.reconcile`) when no background
    # loop of this process does (tests, a window whose folder another copy sends from); None
    # when the attention loop runs here (it reconciles within half a second of a change).
    reconcile: Callable[[datetime], Any] | None = None
    attention: AttentionFeed = field(init=False)

    def __post_init__(self) -> None:
        self.attention = AttentionFeed(self.bridge, self.clock.now, self.coalesce_ms,
                                       parent=self.bridge)

    def say(self, html: str, undo: Callable[[], str] | None = None) -> None:
        """Confirm what the rep just did in the window's notice; `undo` (offered for a few
        seconds) reverses it and returns what it did, in words."""
        if self.notice is not None:
            self.notice(html, undo)

    def attention_changed(self) -> None:
        """The rep changed what the attention model reads (Reconnect, Re-allocate, Mute, …):
        reconcile promptly, so every surface shows the result at once."""
        events.bus.emit(events.ATTENTION_DIRTY)
        if self.reconcile is not None:
            self.reconcile(self.clock.now())
            self.attention.refresh()

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str = "task") -> asyncio.Task[Any]:
        """Run a coroutine in the background, keeping a strong reference; an error reaches
        the excepthook (logged and shown), never vanishes."""
        task = self.loop.create_task(coro, name=what)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("%s failed", task.get_name(), exc_info=exc)
            sys.excepthook(type(exc), exc, exc.__traceback__)

    async def store_test(self, account_id: int, write: Callable[[], T]) -> T:
        """Store a connection test the window ran (wizard, add mailbox) through the monitor,
        so no older check of the account lands after it (`Monitor.store_test`)."""
        if self.monitor is None:
            return write()
        return await self.monitor.store_test(account_id, write)

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """A blocking call (probe, keyring, browser sign-in) in a worker thread."""
        return await self.loop.run_in_executor(self.executor, fn, *args)

    async def connection_test(self, account: Account, password: str | None,
                              watch: ProbeWatch) -> tuple[ProbeLike, ProbeLike]:
        """The test a dialog waits for: IMAP and SMTP side by side, each step reported to
        ``watch`` (which can also cancel it). A check function without a ``watch`` parameter
        (a scripted one) is simply called."""
        try:
            watched = "watch" in inspect.signature(self.check_fn).parameters
        except (TypeError, ValueError):
            watched = False
        if watched:
            return await self.blocking(partial(self.check_fn, account, password, self.timeout,
                                               watch=watch))
        return await self.blocking(self.check_fn, account, password, self.timeout)

    async def idle(self) -> None:
        """Until every background task has finished (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
