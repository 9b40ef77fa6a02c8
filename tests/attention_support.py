"""What the rep is told, as the tests read it: reconcile the way the background loop does (one
reconcile after the changes), then the open conditions in the model's order."""

from __future__ import annotations

from datetime import datetime

from mailmonitor.models import Alert, AlertChange
from mailmonitor.services.alerts.reconciler import open_conditions, reconcile


def conditions(now: datetime, kind: str | None = None) -> list[Alert]:
    reconcile(now)
    rows = open_conditions()
    return [r for r in rows if kind is None or r.kind == kind]


def kinds(now: datetime) -> list[str]:
    return [r.kind for r in conditions(now)]


def changes(kind: str | None = None) -> list[tuple[str, str]]:
    """(change, kind) of every recorded change, oldest first: what the channels hear of."""
    query = AlertChange.select().order_by(AlertChange.id)
    return [(c.change, c.kind) for c in query if kind is None or c.kind == kind]
