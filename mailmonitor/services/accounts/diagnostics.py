"""The support report behind “Copy diagnostics”: an account's settings, its recent checks and
server answers, and the wizard's last connection test. Never a secret: the database holds none,
and every line goes through the log redactor."""

from __future__ import annotations

from datetime import datetime

from mailmonitor import __version__
from mailmonitor.logsetup import redact
from mailmonitor.models import Account, Check
from mailmonitor.services.accounts.connection_test import TestOutcome
from mailmonitor.services.common.reasons import label_for


def diagnostics_report(account: Account, now: datetime, test: TestOutcome | None = None,
                       checks: int = 10) -> str:
    """A support report: settings, recent checks and server answers, without secrets."""
    warmup = (f"{account.warmup_start} first day, +{account.warmup_step} a day"
              if account.warmup_start is not None else "off")
    lines = [
        f"mailmonitor {__version__} diagnostics, {now:%Y-%m-%d %H:%M} UTC",
        "",
        f"Account: {account.email} ({account.name or 'no sender name'})",
        f"Provider kind: {account.kind}; sign-in: {account.auth_method}; "
        f"username: {account.login}",
        f"IMAP: {account.imap_host}:{account.imap_port} {account.imap_security}",
        f"SMTP: {account.smtp_host}:{account.smtp_port} {account.smtp_security}",
        f"Custom CA file: {account.ca_file or 'none'}",
        f"Sending: daily limit {account.daily_limit}, {account.min_gap_seconds} s between "
        f"emails, warm-up {warmup}",
        f"Check interval: {account.check_interval_seconds} s; monitoring "
        f"{'on' if account.monitoring_enabled else 'off'}",
        f"Status: {account.status} — {label_for(account.status, account.reason)}"
        + (f" (since {_ts(account.status_since)})" if account.status_since else ""),
        f"Last checked: {_ts(account.checked_at)}",
        f"Certificate expires: {_ts(account.cert_expires_at)}",
        f"Last server answer: {account.detail or '—'}",
    ]
    if test is not None:
        lines += [
            "",
            "Wizard connection test: " + ("passed" if test.ok else f"failed — {test.label}"),
            f"  IMAP {'ok' if test.imap_ok else 'failed'} ({test.imap_latency_ms} ms): "
            f"{test.imap_detail or '—'}",
            f"  SMTP {'ok' if test.smtp_ok else 'failed'} ({test.smtp_latency_ms} ms): "
            f"{test.smtp_detail or '—'}",
        ]
    recent = list(Check.select().where(Check.account == account)
                  .order_by(Check.checked_at.desc(), Check.id.desc()).limit(checks))
    lines += ["", f"Last {len(recent)} checks:"]
    for check in recent:
        lines.append(f"  {_ts(check.checked_at)} [{check.trigger}] {check.status}"
                     f"{' ' + check.reason if check.reason else ''}, {check.latency_ms} ms")
        for name, data in (("IMAP", check.imap), ("SMTP", check.smtp)):
            if data:
                lines.append(f"    {name}: {'ok' if data.get('ok') else 'failed'}"
                             f" — {data.get('error') or 'no error'}")
    return redact("\n".join(lines)) + "\n"


def _ts(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value else "never"
