"""Accounts wired to the test Dovecot (IMAP STARTTLS + submission STARTTLS, trusting the test CA),
and what the SMTP sink received, by lead and step."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from mailmonitor.models import Account
from mailmonitor.services.auth import secrets
from tests.factories import make_account
from tests.servers.dovecot import Dovecot, MailUser
from tests.servers.smtp_sink import ReceivedMessage


def dovecot_account(dovecot: Dovecot, user: MailUser, **fields: Any) -> Account:
    """An account of `user` on `dovecot`, `connected`, its password in the (test) keyring."""
    values: dict[str, Any] = {
        "imap_host": dovecot.host, "imap_port": dovecot.imap_port, "imap_security": "starttls",
        "smtp_host": dovecot.host, "smtp_port": dovecot.submission_port,
        "smtp_security": "starttls", "ca_file": str(dovecot.pki.ca_cert), "min_gap_seconds": 0,
        "daily_limit": 500,
    }
    values.update(fields)
    account = make_account(user.email, **values)
    secrets.set_secret(user.email, "password", user.password)
    return account


def step_of(message: ReceivedMessage) -> int:
    """The step number a test body carries ("[step N]")."""
    body = message.raw.split(b"\r\n\r\n", 1)[-1]
    for number in range(1, 10):
        if f"[step {number}]".encode() in body:
            return number
    raise AssertionError(f"no step marker in {message.message_id}")


def deliveries(messages: list[ReceivedMessage]) -> Counter[tuple[str, int]]:
    """How many times each (lead address, step) arrived."""
    return Counter((m.rcpt_tos[0], step_of(m)) for m in messages)


def by_lead(messages: list[ReceivedMessage]) -> dict[str, dict[int, Any]]:
    """lead address -> step -> the parsed message."""
    found: dict[str, dict[int, Any]] = defaultdict(dict)
    for m in messages:
        found[m.rcpt_tos[0]][step_of(m)] = m.parsed()
    return found


STEPS = [
    {"subject": "Hello {{first_name}}", "body": "Hi {{first_name|there}} [step 1]",
     "delay_days": 0},
    {"subject": "", "body": "Following up, {{first_name}} [step 2]", "delay_days": 1},
    {"subject": "Last note for {{first_name}}", "body": "Bye [step 3]", "delay_days": 2},
]
