"""What the account detail's Deliverability tab shows, read in one place (Qt-free): the last
round trip, a hold on sending, the bounce rate, and the domain's SPF / DMARC / DKIM findings
with what to fix. The tab only renders this and calls the actions below."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailmonitor.models import Account
from mailmonitor.services.common.reasons import REASONS
from mailmonitor.services.deliverability import bounce_guard, dns_auth, holds
from mailmonitor.services.monitoring.account_state import active_hold
from mailmonitor.services.placement import daily, round_trip

STATUS_WORDS = {"ok": "OK", "warning": "Check", "missing": "Missing", "wrong": "Wrong",
                "unknown": "Not checked"}


@dataclass
class DnsLine:
    name: str
    status: str
    words: str  # OK / Missing / Wrong …
    summary: str
    fix: str


@dataclass
class Overview:
    email: str
    domain: str
    round_trip_text: str
    round_trip_at: datetime | None
    round_trip_ok: bool | None
    held: bool
    hold_text: str
    bounce_text: str
    dns_checked_at: str | None
    dns_lines: list[DnsLine] = field(default_factory=list)
    dkim_selector: str = ""


def account_overview(account: Account, now: datetime) -> Overview:
    last = round_trip.last_round_trip(account)
    hold = active_hold(account)
    rate = bounce_guard.bounce_rate(account, now)
    report: dict[str, Any] | None = dns_auth.stored_report(account)
    lines = [DnsLine(f["name"], f["status"], STATUS_WORDS.get(f["status"], f["status"]),
                     f["summary"], f["fix"]) for f in (report or {}).get("findings", [])]
    hold_text = ""
    if hold is not None:
        hold_text = f"{REASONS[hold.reason].label}: {hold.detail}"
    return Overview(
        email=account.email,
        domain=dns_auth.domain_of(account),
        round_trip_text=(last.detail if last is not None else
                         "Not tested yet: send a test email to this mailbox and see where it "
                         "lands (Inbox or Spam)."),
        round_trip_at=last.checked_at if last is not None else None,
        round_trip_ok=_outcome(last) == round_trip.INBOX if last is not None else None,
        held=hold is not None,
        hold_text=hold_text,
        bounce_text=(rate.describe() + f" (pauses over {bounce_guard.threshold_text()})"
                     if rate.sends else "No emails sent in the last days."),
        dns_checked_at=(report or {}).get("checked_at"),
        dns_lines=lines,
        dkim_selector=dns_auth.stored_selector(account) or "",
    )


def _outcome(check: Any) -> str | None:
    data: dict[str, Any] = check.round_trip or {}
    return data.get("outcome")


def test_sending_and_receiving(account_id: int, now: datetime) -> round_trip.RoundTripResult:
    """Blocking (a worker thread): the round trip with the stored secret."""
    return daily.run_round_trip_of(Account.get_by_id(account_id), now)


def record_test(account_id: int, result: round_trip.RoundTripResult, now: datetime) -> None:
    """On the thread that writes statuses (the window's)."""
    round_trip.record_round_trip(Account.get_by_id(account_id), result, now)


def check_dns(account_id: int, now: datetime) -> dns_auth.DomainReport:
    """Blocking (a worker thread): the domain's records now."""
    return dns_auth.check_account_domain(Account.get_by_id(account_id), now)


def name_selector(account_id: int, selector: str) -> None:
    dns_auth.set_selector(dns_auth.domain_of(Account.get_by_id(account_id)), selector)


def resume_sending(account_id: int, now: datetime) -> None:
    holds.resume_sending(Account.get_by_id(account_id), now)
