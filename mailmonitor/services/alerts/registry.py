"""Alerts (spec §1): one open alert per key, refreshed rather than repeated, resolved when the
cause goes away."""

from __future__ import annotations

from datetime import datetime

from mailmonitor.events import ALERTS_CHANGED, bus
from mailmonitor.models import Account, Alert, Campaign
from mailmonitor.models.fast_sql import Statement

# Every check resolves its certificate warning: hundreds a sweep, so rendered once.
_RESOLVE = Statement(lambda p: Alert.update(
    resolved_at=p("now", Alert.resolved_at), updated_at=p("now", Alert.updated_at)).where(
    (Alert.key == p("key", Alert.key)) & Alert.resolved_at.is_null()))


def account_key(account: Account | int, cause: str) -> str:
    account_id = account if isinstance(account, int) else account.id
    return f"account:{account_id}:{cause}"


def campaign_key(campaign: Campaign | int, cause: str) -> str:
    campaign_id = campaign if isinstance(campaign, int) else campaign.id
    return f"campaign:{campaign_id}:{cause}"


def raise_alert(
    key: str,
    kind: str,
    title: str,
    message: str,
    now: datetime,
    severity: str = "warning",
    account: Account | None = None,
    campaign: Campaign | None = None,
) -> Alert:
    """Open an alert, or refresh the open one with the same key (no duplicates)."""
    existing: Alert | None = Alert.get_or_none((Alert.key == key) & Alert.resolved_at.is_null())
    if existing is not None:
        if (existing.title, existing.message, existing.severity) != (title, message, severity):
            existing.title, existing.message, existing.severity = title, message, severity
            existing.updated_at = now
            existing.save()
            bus.emit(ALERTS_CHANGED)
        return existing
    alert: Alert = Alert.create(
        key=key, kind=kind, title=title, message=message, severity=severity, account=account,
        campaign=campaign, created_at=now, updated_at=now,
    )
    bus.emit(ALERTS_CHANGED)
    return alert


def resolve_alert(key: str, now: datetime) -> int:
    count = _RESOLVE.execute(now=now, key=key).rowcount
    if count:
        bus.emit(ALERTS_CHANGED)
    return int(count)


def resolve_account_alerts(account: Account, now: datetime, kinds: tuple[str, ...] | None = None
                           ) -> int:
    query = Alert.update(resolved_at=now, updated_at=now).where(
        (Alert.account == account) & Alert.resolved_at.is_null()
    )
    if kinds:
        query = query.where(Alert.kind.in_(kinds))
    count = query.execute()
    if count:
        bus.emit(ALERTS_CHANGED)
    return int(count)


def open_alerts() -> list[Alert]:
    return list(
        Alert.select().where(Alert.resolved_at.is_null()).order_by(Alert.created_at.desc())
    )
