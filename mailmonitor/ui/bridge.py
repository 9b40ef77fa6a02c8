"""The only place the window listens to the services: `services.events.bus` → Qt signals.

Bus handlers may run on any thread; they hand the event to the Qt thread through a queued
signal. Events are coalesced for `coalesce_ms` (one `accountChanged(7)` even if account 7
changed three times) and also delivered as one batch per kind, so a burst of a thousand status
changes costs the views a few queries, not a thousand."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from mailmonitor import events
from mailmonitor.services.team.reachability import REACHABILITY_CHANGED

DEFAULT_COALESCE_MS = 50  # below what a rep notices; a burst becomes one repaint, not hundreds


class EventBridge(QObject):
    """Signals:
        accountChanged(int): an account's status, settings or last check changed.
        campaignChanged(int): a campaign's status changed.
        leadsChanged(int): leads of a campaign changed state or mailbox.
        alertsChanged(): an alert opened, changed or was resolved.
        checkStarted(int): a check of the account is in flight.
        checkFinished(int): that check ended (its result, if any, is stored).
        accountsBatch(list[int]), campaignsBatch(list[int]), leadsBatch(list[int]): the same
            changes, once per delivery, for models that refresh many rows in one query.
        storageFailed(str): the database cannot be written; checks and sending stopped (one
            line for the rep). Delivered at once, not coalesced.
        reachabilityChanged(): the team database became unreachable, or is back (read
            reachability.current_outage()). Delivered at once, not coalesced.
    """

    accountChanged = Signal(int)
    campaignChanged = Signal(int)
    leadsChanged = Signal(int)
    alertsChanged = Signal()
    checkStarted = Signal(int)
    checkFinished = Signal(int)
    accountsBatch = Signal(object)
    campaignsBatch = Signal(object)
    leadsBatch = Signal(object)
    storageFailed = Signal(str)
    reachabilityChanged = Signal()

    _relay = Signal(str, object)
    _storage = Signal(str)
    _reachability = Signal()

    def __init__(self, bus: events.EventBus | None = None, parent: QObject | None = None,
                 coalesce_ms: int = DEFAULT_COALESCE_MS) -> None:
        super().__init__(parent)
        self.bus = bus or events.bus
        self._pending: dict[str, set[int]] = {}
        self._alerts_pending = False
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(coalesce_ms)
        self._flush_timer.timeout.connect(self.flush)
        self._relay.connect(self._collect, Qt.ConnectionType.QueuedConnection)
        self._storage.connect(self.storageFailed.emit, Qt.ConnectionType.QueuedConnection)
        self._reachability.connect(self.reachabilityChanged.emit,
                                   Qt.ConnectionType.QueuedConnection)
        self._handlers: dict[str, events.Handler] = {
            events.ACCOUNT_CHANGED: lambda account_id, *_: self._relay.emit("account",
                                                                            account_id),
            events.CAMPAIGN_CHANGED: lambda campaign_id: self._relay.emit("campaign",
                                                                          campaign_id),
            events.LEADS_CHANGED: lambda campaign_id: self._relay.emit("leads", campaign_id),
            events.ALERTS_CHANGED: lambda: self._relay.emit("alerts", None),
            events.CHECK_STARTED: lambda account_id: self._relay.emit("check", account_id),
            events.CHECK_FINISHED: lambda account_id: self._relay.emit("checked", account_id),
            events.STORAGE_FAILED: lambda line: self._storage.emit(str(line)),
            REACHABILITY_CHANGED: lambda *_: self._reachability.emit(),
        }
        for name, handler in self._handlers.items():
            self.bus.subscribe(name, handler)
        # Unsubscribe when Qt deletes the bridge (with its window), not only on close().
        handlers, bus_ = dict(self._handlers), self.bus
        self.destroyed.connect(lambda *_: _unsubscribe(bus_, handlers))

    def close(self) -> None:
        _unsubscribe(self.bus, self._handlers)
        self._flush_timer.stop()

    def _collect(self, kind: str, value: Any) -> None:
        if kind == "alerts":
            self._alerts_pending = True
        else:
            self._pending.setdefault(kind, set()).add(int(value))
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        """Deliver everything collected so far."""
        self._flush_timer.stop()
        pending, self._pending = self._pending, {}
        alerts, self._alerts_pending = self._alerts_pending, False
        for account_id in sorted(pending.get("check", ())):
            self.checkStarted.emit(account_id)
        checked = pending.get("checked", set())
        for account_id in sorted(checked):
            self.checkFinished.emit(account_id)
        # A finished check changed the last-checked time even when the status stayed.
        accounts = sorted(pending.get("account", set()) | checked)
        if accounts:
            self.accountsBatch.emit(accounts)
            for account_id in accounts:
                self.accountChanged.emit(account_id)
        campaigns = sorted(pending.get("campaign", ()))
        if campaigns:
            self.campaignsBatch.emit(campaigns)
            for campaign_id in campaigns:
                self.campaignChanged.emit(campaign_id)
        leads = sorted(pending.get("leads", ()))
        if leads:
            self.leadsBatch.emit(leads)
            for campaign_id in leads:
                self.leadsChanged.emit(campaign_id)
        if alerts:
            self.alertsChanged.emit()


def _unsubscribe(bus: events.EventBus, handlers: dict[str, events.Handler]) -> None:
    for name, handler in handlers.items():
        bus.unsubscribe(name, handler)
