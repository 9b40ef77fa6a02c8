"""IMAP access the sending engine needs: the Sent folder (copies of what was sent, looking up a
Message-ID) and the INBOX (replies, bounces). Blocking; callers run it in worker threads.

Whether the app must save a copy of each send in Sent is a per-account decision
(`app_saves_sent_copy`): Gmail and Microsoft 365 file every message sent through their SMTP in
Sent themselves (a second copy would be a duplicate); other providers usually do not.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterable
from datetime import UTC, datetime

from imapclient import IMAPClient
from imapclient.imapclient import SENT

from mailmonitor.models import Account
from mailmonitor.services.monitoring.probes import Credentials

# SMTP hosts whose server files what it sends in Sent by itself (whatever the account kind).
_SERVER_FILES_SENT_HOSTS = ("gmail.com", "googlemail.com", "office365.com", "outlook.com")


def server_keeps_sent_copy(account: Account) -> bool:
    """Does the provider put every message sent through its SMTP into the Sent folder?"""
    if account.kind in ("gmail", "microsoft"):
        return True
    host = (account.smtp_host or "").lower().rstrip(".")
    return any(host == h or host.endswith("." + h) for h in _SERVER_FILES_SENT_HOSTS)


def app_saves_sent_copy(account: Account) -> bool:
    """The app appends a copy of each send to Sent (over IMAP) unless the server does."""
    return not server_keeps_sent_copy(account)


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def open_imap(account: Account, creds: Credentials, timeout: float) -> IMAPClient:
    """A signed-in IMAP connection (TLS per the account's security, certificates verified)."""
    security = account.imap_security
    context = tls_context(account.ca_file) if security != "plain" else None
    client = IMAPClient(account.imap_host, port=account.imap_port, ssl=security == "ssl",
                        ssl_context=context if security == "ssl" else None, timeout=timeout)
    try:
        if security == "starttls":
            client.starttls(context)
        if creds.access_token:
            client.oauth2_login(account.login, creds.access_token)
        else:
            client.login(account.login, creds.password or "")
    except BaseException:
        close_quietly(client)
        raise
    return client


def close_quietly(client: IMAPClient | None) -> None:
    if client is None:
        return
    try:
        client.logout()
    except Exception:
        with contextlib.suppress(Exception):
            client.shutdown()


def sent_folder(client: IMAPClient) -> str | None:
    """The Sent folder: the one flagged \\Sent (RFC 6154 SPECIAL-USE), else a usual name."""
    found = client.find_special_folder(SENT)
    return str(found) if found else None


def append_copy(client: IMAPClient, folder: str, data: bytes, when: datetime) -> None:
    client.append(folder, data, flags=(b"\\Seen",), msg_time=when.replace(tzinfo=UTC))


def find_message_ids(client: IMAPClient, folder: str, message_ids: Iterable[str]) -> set[str]:
    """Which of these Message-IDs are in the folder (SEARCH HEADER Message-ID, read-only)."""
    wanted = list(message_ids)
    if not wanted:
        return set()
    client.select_folder(folder, readonly=True)
    found: set[str] = set()
    for message_id in wanted:
        if client.search(["HEADER", "Message-ID", message_id]):
            found.add(message_id)
    return found
