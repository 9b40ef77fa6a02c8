"""The round-trip test ("Test sending and receiving"): a login that works does not mean mail
arrives. One uniquely tagged message goes from the mailbox to itself (or to another of the rep's
mailboxes) over its SMTP; then its IMAP INBOX and its spam folder (the one flagged `\\Junk` by
RFC 6154 SPECIAL-USE, else a usual name) are searched for the tag until it shows up or the
timeout passes. Outcomes:

- `inbox`       arrived in the inbox;
- `spam`        arrived in the spam folder (the provider thinks the mailbox sends spam);
- `not_arrived` sent, but not found anywhere within the timeout;
- `not_sent`    the server refused the message or the sign-in (the answer is kept).

Timings: the send, the wait until it was found, the whole test. The test message is deleted
afterwards (and the copy some providers file in Sent). The result is stored as a Check in the
account's history (trigger `round_trip`); an Inbox miss needs the rep until a later test reaches
it (the attention model reads the latest). The account's connection status is not changed by it
— except that mail refused as spam/blocked holds the mailbox like any real send
(send_outcomes.py).

`run_round_trip` is blocking (a worker thread); the waits go through an injectable `sleep` and
`monotonic`, so a test of "not arrived" runs without waiting. `record_round_trip` writes the
result (on the thread that writes statuses).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any, cast

from imapclient import IMAPClient
from imapclient.imapclient import JUNK

from mailmonitor.logsetup import redact
from mailmonitor.models import Account, Check, db
from mailmonitor.services.common.reasons import REASONS, advice_for
from mailmonitor.services.deliverability import send_outcomes
from mailmonitor.services.monitoring.classify import classify_smtp, smtp_reply_code
from mailmonitor.services.monitoring.probes import Credentials
from mailmonitor.services.sending import mailbox

log = logging.getLogger(__name__)

TAG_HEADER = "X-Mailmonitor-Round-Trip"
INBOX, SPAM, NOT_ARRIVED, NOT_SENT = "inbox", "spam", "not_arrived", "not_sent"
OUTCOME_LABELS = {
    INBOX: "Arrived in the Inbox",
    SPAM: "Arrived in Spam",
    NOT_ARRIVED: "Did not arrive",
    NOT_SENT: "Could not be sent",
}
POLL_SECONDS = 2.0
_JUNK_NAMES = ("Junk", "Spam", "[Gmail]/Spam", "Junk Email", "Junk E-mail", "INBOX.Junk",
               "INBOX.Spam", "Bulk Mail")


@dataclass
class RoundTripResult:
    outcome: str
    recipient: str
    tag: str
    folder: str | None = None
    send_ms: int | None = None  # SMTP sign-in and the send
    arrival_ms: int | None = None  # from the server's 250 until found over IMAP
    total_ms: int = 0
    deleted: bool = False
    error: str | None = None  # the server's answer when not sent, or what failed on IMAP
    blocked: bool = False  # the answer was a verdict on the mailbox (spam / blocked)

    @property
    def ok(self) -> bool:
        return self.outcome == INBOX

    @property
    def label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome, self.outcome)

    def summary(self) -> str:
        if self.outcome == INBOX:
            return (f"The test email arrived in the Inbox of {self.recipient} after "
                    f"{_seconds(self.arrival_ms)} (sending took {_seconds(self.send_ms)}).")
        if self.outcome == SPAM:
            return (f"The test email arrived in the spam folder ({self.folder}) of "
                    f"{self.recipient}: providers treat this mailbox's mail as spam. Check the "
                    "domain's SPF, DKIM and DMARC records and the sending volume.")
        if self.outcome == NOT_ARRIVED:
            return (f"The test email was sent but did not arrive in {self.recipient} within "
                    f"{_seconds(self.total_ms)}: it may be delayed, dropped or filtered"
                    + (f" ({self.error})" if self.error else "") + ".")
        return not_sent_words(self.error)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["label"] = self.label
        return data


def not_sent_words(error: str | None) -> str:
    """Why the test email could not be sent, in the rep's words (the reason and what to do),
    the server's own answer after them."""
    answer = (error or "").strip()
    reason = None
    if smtp_reply_code(answer) is not None:
        _status, reason = classify_smtp("auth", None, answer)
    info = REASONS.get(reason or "")
    if info is None or reason == "request_invalid":
        head = "The test email could not be sent."
    else:
        head = f"The test email could not be sent: {info.label}. {advice_for(reason, answer)}"
    return head + (f" The server said: {answer}" if answer else "")


def _seconds(ms: int | None) -> str:
    return "?" if ms is None else f"{ms / 1000:.1f} s"


def compose_test_message(account: Account, recipient: str, tag: str, now: datetime
                         ) -> tuple[str, bytes]:
    message = EmailMessage(policy=SMTP)
    message["From"] = formataddr((" ".join((account.name or "").split()), account.email))
    message["To"] = recipient
    message["Subject"] = f"mailmonitor delivery test {tag[:8]}"
    message["Date"] = format_datetime(now.replace(tzinfo=UTC))
    message_id = make_msgid(domain=account.email.rsplit("@", 1)[-1])
    message["Message-ID"] = message_id
    message[TAG_HEADER] = tag
    message.set_content(
        "This is an automatic test from mailmonitor: it checks that email sent from this "
        "mailbox arrives, and in which folder. It is deleted right after the test.\n")
    return message_id, message.as_bytes(policy=SMTP)


def junk_folder(client: IMAPClient) -> str | None:
    """The folder flagged \\Junk (RFC 6154), else one with a usual spam-folder name."""
    found = client.find_special_folder(JUNK)
    if found:
        return str(found)
    names = {str(name).lower(): str(name) for _flags, _sep, name in client.list_folders()}
    for candidate in _JUNK_NAMES:
        if candidate.lower() in names:
            return names[candidate.lower()]
    return None


def _find(client: IMAPClient, folder: str, tag: str) -> list[int]:
    client.select_folder(folder)
    return [int(u) for u in client.search(["HEADER", TAG_HEADER, tag])]


def _delete(client: IMAPClient, folder: str, uids: list[int]) -> bool:
    if not uids:
        return False
    client.select_folder(folder)
    client.delete_messages(uids)
    if client.has_capability("UIDPLUS"):
        client.uid_expunge(uids)
    else:
        client.expunge()
    return True


def run_round_trip(
    account: Account,
    creds: Credentials,
    now: datetime,
    *,
    recipient: Account | None = None,
    recipient_creds: Credentials | None = None,
    timeout: float = 120.0,
    io_timeout: float = 20.0,
    transport_factory: Callable[[Account, Credentials, float], Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    poll_seconds: float = POLL_SECONDS,
) -> RoundTripResult:
    """Send the tagged message and look for it. Never raises for a server's answer."""
    from mailmonitor.services.sending.sender import BLOCKED, SendError, SmtpTransport

    target = recipient or account
    target_creds = recipient_creds or creds
    tag = secrets.token_hex(12)
    result = RoundTripResult(outcome=NOT_SENT, recipient=target.email, tag=tag)
    started = monotonic()
    _message_id, data = compose_test_message(account, target.email, tag, now)
    transport = (transport_factory or SmtpTransport)(account, creds, io_timeout)
    try:
        transport.open()
        transport.send(account.email, target.email, data, lambda: None)
    except SendError as error:
        result.error = error.text
        result.blocked = error.kind == BLOCKED
        result.total_ms = int((monotonic() - started) * 1000)
        return result
    finally:
        transport.close()
    sent_at = monotonic()
    result.send_ms = int((sent_at - started) * 1000)
    result.outcome = NOT_ARRIVED

    client: IMAPClient | None = None
    try:
        client = mailbox.open_imap(target, target_creds, io_timeout)
        spam = junk_folder(client)
        folders = ["INBOX"] + ([spam] if spam else [])
        deadline = sent_at + timeout
        while True:
            for folder in folders:
                uids = _find(client, folder, tag)
                if uids:
                    result.arrival_ms = int((monotonic() - sent_at) * 1000)
                    result.outcome = INBOX if folder == "INBOX" else SPAM
                    result.folder = folder
                    result.deleted = _delete(client, folder, uids)
                    break
            if result.outcome != NOT_ARRIVED or monotonic() >= deadline:
                break
            sleep(min(poll_seconds, max(0.0, deadline - monotonic())))
        _delete_sent_copies(client, tag)
    except Exception as exc:  # reading failed: the message may still have arrived
        result.error = redact(f"reading {target.email} over IMAP failed: "
                              f"{type(exc).__name__}: {exc}")
        log.warning("round trip of %s: %s", account.email, result.error)
    finally:
        mailbox.close_quietly(client)
    result.total_ms = int((monotonic() - started) * 1000)
    return result


def _delete_sent_copies(client: IMAPClient, tag: str) -> None:
    """Providers that file what they send (Gmail, Microsoft 365) keep a copy in Sent."""
    with contextlib.suppress(Exception):
        folder = mailbox.sent_folder(client)
        if folder:
            _delete(client, folder, _find(client, folder, tag))


def record_round_trip(account: Account, result: RoundTripResult, now: datetime,
                      trigger: str = "round_trip") -> Check:
    """The result as a check in the history (a miss of the Inbox needs the rep until a later
    test reaches it: the attention model reads the latest); a spam/blocked refusal holds the
    mailbox."""
    status = "connected" if result.ok else "warning" if result.outcome != NOT_SENT \
        else "disconnected"
    with db.atomic():
        check = Check.create(
            account=account, checked_at=now, status=status, reason=None,
            detail=result.summary(), latency_ms=result.total_ms, trigger=trigger,
            smtp={"ok": result.send_ms is not None, "latency_ms": result.send_ms,
                  "error": None if result.send_ms is not None else result.error},
            imap={"ok": result.outcome in (INBOX, SPAM), "latency_ms": result.arrival_ms,
                  "error": None if result.outcome in (INBOX, SPAM) else result.error},
            round_trip=result.to_json(),
        )

    if result.blocked and result.error:
        send_outcomes.hold_for_refusals(account, result.recipient, result.error, now)
    return cast(Check, check)


def last_round_trip(account: Account | int) -> Check | None:
    found: Check | None = (Check.select().where((Check.account == account)
                                                & (Check.trigger == "round_trip"))
                           .order_by(Check.id.desc()).first())
    return found
