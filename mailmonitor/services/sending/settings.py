"""What a mailbox sends with, as the rep edits it: the daily limit, the time between emails, the
warm-up ramp (the wizard's Edit Warm-up pop-up and the account detail share them), and the
sender name and signature. Saving validates, stores and announces the change on the bus."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailmonitor.events import ACCOUNT_CHANGED, bus
from mailmonitor.models import Account
from mailmonitor.models.account import DEFAULT_DAILY_LIMIT, DEFAULT_MIN_GAP_SECONDS
from mailmonitor.services.common import bounds
from mailmonitor.services.common.rep_day import rep_today
from mailmonitor.services.common.validation import InvalidInput

MAX_SENDER_NAME = bounds.TEXTS["sender_name"].longest
MAX_SIGNATURE = bounds.TEXTS["signature"].longest


@dataclass
class SendingSettings:
    """Sending speed, daily limit and the warm-up ramp of one mailbox."""

    daily_limit: int = DEFAULT_DAILY_LIMIT
    min_gap_seconds: int = DEFAULT_MIN_GAP_SECONDS
    warmup_enabled: bool = False
    warmup_start: int = 5
    warmup_step: int = 5

    @classmethod
    def of(cls, account: Account) -> SendingSettings:
        if account.detached_at is not None:
            # A two-step disconnect resets settings when the account comes back (§5).
            return cls()
        return cls(
            daily_limit=int(account.daily_limit), min_gap_seconds=int(account.min_gap_seconds),
            warmup_enabled=account.warmup_start is not None,
            warmup_start=int(account.warmup_start or 5), warmup_step=int(account.warmup_step or 5),
        )

    def problems(self) -> list[str]:
        """Each value out of its bounds (the one table, common.bounds), in words."""
        checks = [("daily_limit", self.daily_limit), ("min_gap_seconds", self.min_gap_seconds)]
        if self.warmup_enabled:
            checks += [("warmup_start", self.warmup_start), ("warmup_step", self.warmup_step)]
        found = []
        for key, value in checks:
            try:
                bounds.number(key, value)
            except InvalidInput as exc:
                found.append(f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
        return found

    def apply_to(self, account: Account, now: datetime) -> None:
        """Onto the account (the caller saves). A changed ramp starts again today."""
        ramp = (self.warmup_start, self.warmup_step) if self.warmup_enabled else None
        previous = ((account.warmup_start, account.warmup_step)
                    if account.warmup_start is not None else None)
        account.daily_limit = self.daily_limit
        account.min_gap_seconds = self.min_gap_seconds
        if ramp is None:
            account.warmup_start = account.warmup_step = account.warmup_started_on = None
        elif ramp != previous or account.warmup_started_on is None:
            account.warmup_start, account.warmup_step = ramp
            account.warmup_started_on = rep_today(now)


def save_sending_settings(account_id: int, settings: SendingSettings, now: datetime) -> Account:
    """Store edited sending settings of a mailbox. Raises InvalidInput (one line, nothing
    stored) when they are not possible."""
    problems = settings.problems()
    if problems:
        raise InvalidInput(" ".join(problems))
    account: Account = Account.get_by_id(account_id)
    settings.apply_to(account, now)
    account.save()
    bus.emit(ACCOUNT_CHANGED, account.id, account.status, account.status)
    return account


def save_sender(account_id: int, name: str, signature: str) -> Account:
    """Store the name recipients see and the signature under every email of a mailbox."""
    name, signature = name.strip(), signature.rstrip()
    if "\n" in name or "\r" in name:
        raise InvalidInput("The sender name must be one line.")
    if len(name) > MAX_SENDER_NAME:
        raise InvalidInput(f"The sender name is longer than {MAX_SENDER_NAME} characters.")
    if len(signature) > MAX_SIGNATURE:
        raise InvalidInput(f"The signature is longer than {MAX_SIGNATURE:,} characters.")
    account: Account = Account.get_by_id(account_id)
    account.name = name
    account.signature = signature
    account.save()
    bus.emit(ACCOUNT_CHANGED, account.id, account.status, account.status)
    return account
