"""A tiny synchronous event bus: services announce what changed; the UI and tray listen.

Services never import Qt. The window subscribes through a thin QObject bridge that re-emits
events as signals on the Qt thread.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[..., None]

ACCOUNT_CHANGED = "account_changed"  # account_id, old_status, new_status
CAMPAIGN_CHANGED = "campaign_changed"  # campaign_id
LEADS_CHANGED = "leads_changed"  # campaign_id
ALERTS_CHANGED = "alerts_changed"  # no args
# Something the attention model reads changed that no other event announces (a mailbox's sending
# problem, a DNS result, a channel's delivery, a maintenance window): reconcile soon. No args.
ATTENTION_DIRTY = "attention_dirty"
CHECK_STARTED = "check_started"  # account_id
CHECK_FINISHED = "check_finished"  # account_id (whatever the result; also when cancelled)
# The database cannot be written (full disk, read-only folder, damaged file): checks and
# sending stopped until the next start. Argument: one line for the rep.
STORAGE_FAILED = "storage_failed"


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, event: str, handler: Handler) -> None:
        self._handlers[event].append(handler)

    def unsubscribe(self, event: str, handler: Handler) -> None:
        if handler in self._handlers[event]:
            self._handlers[event].remove(handler)

    def emit(self, event: str, *args: Any) -> None:
        for handler in list(self._handlers[event]):
            try:
                handler(*args)
            except Exception:  # a listener's bug must not break the rules engine
                log.exception("event handler for %s failed", event)


bus = EventBus()
