"""The daily deliverability work of the background (window or `run --headless`): re-check the
DNS records of every sending domain once a day, and — when the rep turned it on (setting
`round_trip_daily`) — one round-trip test per connected mailbox a day. Blocking parts run in
worker threads; results that may change a status are recorded on the loop's thread."""

from __future__ import annotations

from datetime import datetime, timedelta

from mailmonitor.models import Account, Check, active_accounts, get_setting
from mailmonitor.services.auth.refresh import oauth_token_provider
from mailmonitor.services.common.reasons import Status
from mailmonitor.services.monitoring.checker import credentials_for
from mailmonitor.services.placement import round_trip

ROUND_TRIP_EVERY = timedelta(days=1)


def round_trips_due(now: datetime) -> list[Account]:
    """Connected mailboxes whose last round trip is a day old (none when the setting is off)."""
    if not get_setting("round_trip_daily"):
        return []
    since = now - ROUND_TRIP_EVERY
    recent = Check.select(Check.account).where((Check.trigger == "round_trip")
                                               & (Check.checked_at > since))
    return list(active_accounts().where((Account.status == Status.CONNECTED.value)
                                        & Account.id.not_in(recent)).order_by(Account.id))


def run_round_trip_of(account: Account, now: datetime) -> round_trip.RoundTripResult:
    """One round trip with the account's stored secret (blocking). Never raises."""
    io_timeout = float(get_setting("connection_timeout_seconds"))
    try:
        creds = credentials_for(account, None, io_timeout, oauth_token_provider())
    except Exception as exc:
        return round_trip.RoundTripResult(outcome=round_trip.NOT_SENT, recipient=account.email,
                                          tag="", error=f"cannot sign in: {exc}")
    return round_trip.run_round_trip(
        account, creds, now, timeout=float(get_setting("round_trip_timeout_seconds")),
        io_timeout=io_timeout)
