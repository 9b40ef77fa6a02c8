"""The mailbox fleet the attention and window benchmarks seed: `count` mailboxes on 37 servers,
90 % connected, 5 % retrying (a timeout), 3 % disconnected (invalid credentials), 2 % stopped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

STATUSES = ["connected"] * 90 + ["warning"] * 5 + ["disconnected"] * 3 + ["stopped"] * 2
REASONS = {"warning": "timeout", "disconnected": "invalid_credentials"}


def account_rows(count: int, now: datetime,
                 extra: Callable[[int, str], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Rows for `Account.insert_many`; `extra(i, status)` adds or overrides columns."""
    rows = []
    for i in range(count):
        status = STATUSES[i % len(STATUSES)]
        rows.append({
            "email": f"rep{i:04d}@sales{i % 37}.example", "name": f"Rep {i}",
            "imap_host": f"imap.sales{i % 37}.example",
            "smtp_host": f"smtp.sales{i % 37}.example", "status": status,
            "reason": REASONS.get(status), "checked_at": now, "next_check_at": now,
            "created_at": now, **(extra(i, status) if extra else {}),
        })
    return rows
