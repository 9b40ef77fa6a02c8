"""Shared pieces of the OAuth integration tests: command lines and what the keyring holds."""

from __future__ import annotations

import json

import keyring

from mailmonitor.services.accounts.adding import AccountSpec
from mailmonitor.services.auth.secrets import SERVICE
from tests.servers.dovecot import Dovecot

STEPS = [{"subject": "Hello {{first_name}}", "body": "Hi [step 1]", "delay_days": 0},
         {"subject": "", "body": "Following up [step 2]", "delay_days": 2}]


def oauth_add_args(kind: str, email: str, dovecot: Dovecot, timeout: float = 15.0) -> list[str]:
    """`accounts add --kind gmail|microsoft` with the provider's IMAP/SMTP endpoints overridden
    by the test Dovecot (IMAPS, submission with STARTTLS), trusting the test CA."""
    return ["accounts", "add", "--email", email, "--kind", kind, "--name", "Rep",
            "--imap-host", dovecot.host, "--imap-port", str(dovecot.imaps_port),
            "--imap-security", "ssl", "--smtp-host", dovecot.host,
            "--smtp-port", str(dovecot.submission_port), "--smtp-security", "starttls",
            "--ca-file", str(dovecot.pki.ca_cert), "--min-gap", "0", "--timeout", str(timeout)]


def oauth_spec(kind: str, email: str, dovecot: Dovecot) -> AccountSpec:
    """The same account as `oauth_add_args`, for calling the OAuth service directly."""
    return AccountSpec(email=email, kind=kind, name="Rep", imap_host=dovecot.host,
                       imap_port=dovecot.imaps_port, imap_security="ssl",
                       smtp_host=dovecot.host, smtp_port=dovecot.submission_port,
                       smtp_security="starttls", ca_file=str(dovecot.pki.ca_cert),
                       min_gap_seconds=0)


def stored_secret(email: str, kind: str) -> str | None:
    return keyring.get_keyring().get_password(SERVICE, f"{email.lower()}:{kind}")


def stored_refresh_token(email: str, account_kind: str) -> str | None:
    """The refresh token the keyring holds for an OAuth account: Google's as is, Microsoft's
    inside the msal token cache."""
    if account_kind == "gmail":
        return stored_secret(email, "refresh_token")
    blob = stored_secret(email, "msal_cache")
    if blob is None:
        return None
    tokens = [entry["secret"] for entry in json.loads(blob).get("RefreshToken", {}).values()]
    assert len(tokens) <= 1, "one refresh token per mailbox"
    return tokens[0] if tokens else None
