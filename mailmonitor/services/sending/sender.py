"""Sending one mailbox's batch over SMTP (spec §6). Blocking: the engine runs it in a worker thread.

One SMTP connection per batch (TLS per the account's security, certificates verified against the
system CAs plus the account's CA file; password AUTH, or XOAUTH2 with a fresh access token), every
step bounded by a timeout.

Crash safety — each email is a small protocol with the database (see sendlog.py):
1. the SendRecord is committed as `sending`, with the Message-ID fixed, before MAIL FROM;
2. MAIL FROM, RCPT TO, DATA and the whole message except the end-of-data mark go out;
3. `handed_over_at` is committed; only then is the final "." written;
4. on 250 the record becomes `sent` and the lead's cursor advances in one transaction.
A stop anywhere before 3 leaves a record that provably was not delivered (a server discards a
transaction whose end of data never came); between 3 and 4 the server may have accepted it, and
reconcile.py settles it from what the server kept. Nothing is ever re-sent on a guess.

Outcomes: rejected sign-in (535 …) → the account is disconnected at once (its leads halt);
temporary trouble (4xx, lost connection before the hand-over) → record `failed`, lead due again
later, the mailbox backs off; a recipient refused for good (550 5.1.1 …) → that lead `bounced`;
a message refused for good → the lead is flagged for the rep.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import peewee as pw
from imapclient import IMAPClient

from mailmonitor.clock import Clock
from mailmonitor.logsetup import redact, scrub_secrets
from mailmonitor.models import Account, Lead, Step
from mailmonitor.models.database import is_connection_lost
from mailmonitor.models.states import SENDABLE_STATES
from mailmonitor.services.auth.secrets import SecretStoreError
from mailmonitor.services.auth.token_errors import classify_token_error
from mailmonitor.services.common.reasons import REASONS, Status
from mailmonitor.services.common.validation import needs_smtputf8, no_smtputf8, wire_address
from mailmonitor.services.deliverability import bounce_guard
from mailmonitor.services.deliverability.send_outcomes import refused_as_sender
from mailmonitor.services.deliverability.unsubscribe import config as unsubscribe_settings
from mailmonitor.services.monitoring import classify
from mailmonitor.services.monitoring.checker import CredentialsFn, CredentialsMissing
from mailmonitor.services.monitoring.probes import Credentials
from mailmonitor.services.sending import mailbox, sendlog
from mailmonitor.services.sending.composer import MissingField, compose
from mailmonitor.services.sending.scheduler import Dispatch, step_delays

log = logging.getLogger(__name__)


# What a failed step means for the batch (see SendError).
ACCOUNT = "account"  # the mailbox cannot send until the rep acts (status disconnected)
TRANSIENT = "transient"  # not delivered; try this lead and mailbox again later
SENDER = "sender"  # the server refuses mail from this mailbox for now (quota, policy)
RECIPIENT = "recipient"  # this address does not exist: the lead bounced
MESSAGE = "message"  # this message was refused for good: the rep must look
LOST = "lost"  # the connection died after the hand-over: the server may have accepted it
BLOCKED = "blocked"  # mail from this mailbox is refused as spam or blocked: it must stop

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SENDER_LIMIT = re.compile(r"quota|limit|too many|rate|daily", re.IGNORECASE)


class SendError(Exception):
    def __init__(self, kind: str, phase: str, text: str, code: int | None = None,
                 reason: str | None = None, alive: bool = False) -> None:
        super().__init__(text)
        self.kind, self.phase, self.text, self.code = kind, phase, text, code
        self.reason = reason  # for ACCOUNT: the §2 reason code
        self.alive = alive  # the connection can carry the next message (after RSET)


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _utf8_b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class _Utf8AuthMixin:
    """smtplib's AUTH exchange with UTF-8 responses (RFC 4616) instead of ASCII only."""

    _host: str  # smtplib's TLS server name (set from the constructor's host, which we skip)

    def auth(self, mechanism: str, authobject: Callable[..., str | None], *,
             initial_response_ok: bool = True) -> tuple[int, bytes]:
        smtp: Any = self
        initial = authobject() if initial_response_ok else None
        if initial is not None:
            code, resp = smtp.docmd("AUTH", f"{mechanism.upper()} {_utf8_b64(initial)}")
            smtp._auth_challenge_count = 1  # read by smtplib's auth_login
        else:
            code, resp = smtp.docmd("AUTH", mechanism.upper())
            smtp._auth_challenge_count = 0
        while code == 334 and smtp._auth_challenge_count <= 5:
            smtp._auth_challenge_count += 1
            code, resp = smtp.docmd(_utf8_b64(authobject(base64.decodebytes(resp)) or ""))
        if code in (235, 503):
            return code, resp
        raise smtplib.SMTPAuthenticationError(code, resp)


class _SMTP(_Utf8AuthMixin, smtplib.SMTP):
    pass


class _SMTPSSL(_Utf8AuthMixin, smtplib.SMTP_SSL):
    pass


def dot_stuffed(data: bytes) -> bytes:
    """The message as DATA carries it, without the end-of-data mark (RFC 5321 §4.5.2)."""
    data = re.sub(rb"\r?\n", b"\r\n", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return re.sub(rb"(?m)^\.", b"..", data)


class SmtpTransport:
    """One signed-in SMTP connection, reused for every message of a batch."""

    def __init__(self, account: Account, creds: Credentials, timeout: float) -> None:
        self.account = account
        self.creds = creds
        self.timeout = timeout
        self.smtp: smtplib.SMTP | None = None

    def _secrets(self) -> list[str]:
        return [s for s in (self.creds.password, self.creds.access_token) if s]

    def _clean(self, text: str) -> str:
        return redact(scrub_secrets(text, self._secrets()))

    def open(self) -> None:
        """Connect, TLS, EHLO, AUTH. Raises SendError(ACCOUNT or TRANSIENT)."""
        account = self.account
        phase = "connect"
        try:
            context = mailbox.tls_context(account.ca_file) \
                if account.smtp_security != "plain" else None
            smtp = self._client(context)
            self.smtp = smtp
            smtp._host = account.smtp_host  # the TLS server name (we connect after __init__)
            code, greeting = smtp.connect(account.smtp_host, account.smtp_port)
            phase = "greeting"
            if code != 220:
                raise smtplib.SMTPConnectError(code, greeting)
            if smtp.sock is not None:
                # The end-of-data mark is written on its own after the hand-over commit: without
                # NODELAY, Nagle holds it for the server's delayed ACK (about 40 ms a message).
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                address = smtp.sock.getsockname()[0]
                smtp.local_hostname = f"[IPv6:{address}]" if ":" in address else f"[{address}]"
            phase = "ehlo"
            self._hello()
            if account.smtp_security == "starttls":
                phase = "tls"
                smtp.starttls(context=context)
                phase = "ehlo"
                self._hello()
            phase = "auth"
            self._authenticate()
        except Exception as exc:
            self.close()
            raise self._open_error(phase, exc) from None
        if needs_smtputf8(account.email) and not self.smtputf8:
            self.close()
            raise SendError(ACCOUNT, "ehlo", no_smtputf8(account.smtp_host, account.email),
                            reason="request_invalid")

    @property
    def smtputf8(self) -> bool:
        """Does the server take non-ASCII addresses (RFC 6531)?"""
        return self.smtp is not None and bool(self.smtp.has_extn("smtputf8"))

    def _client(self, context: ssl.SSLContext | None) -> _SMTP | _SMTPSSL:
        """The smtplib client, not yet connected (an alert channel's transport watches its
        sockets: services/alerts/channels.py)."""
        if self.account.smtp_security == "ssl":
            return _SMTPSSL(local_hostname="localhost", timeout=self.timeout, context=context)
        return _SMTP(local_hostname="localhost", timeout=self.timeout)

    def _hello(self) -> None:
        assert self.smtp is not None
        code, reply = self.smtp.ehlo()
        if code != 250:
            code, reply = self.smtp.helo()
            if code != 250:
                raise smtplib.SMTPHeloError(code, reply)

    def _authenticate(self) -> None:
        assert self.smtp is not None
        smtp = self.smtp
        mechanisms = {m.upper() for m in smtp.esmtp_features.get("auth", "").split()}
        if self.creds.access_token:
            payload = f"user={self.account.login}\x01auth=Bearer {self.creds.access_token}\x01\x01"
            answers = iter([payload])
            # The token first; an empty answer to the server's error challenge.
            smtp.auth("XOAUTH2", lambda challenge=None: next(answers, ""))
            return
        smtp.user, smtp.password = self.account.login, self.creds.password or ""
        if "PLAIN" in mechanisms or not mechanisms:
            smtp.auth("PLAIN", smtp.auth_plain)
        elif "LOGIN" in mechanisms:
            smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
        else:
            smtp.login(smtp.user, smtp.password)

    def _open_error(self, phase: str, exc: BaseException) -> SendError:
        if not isinstance(exc, OSError):  # smtplib, ssl and socket errors all are OSErrors
            # A bug or an odd library state says nothing about the account: retry later.
            log.exception("unexpected error while connecting to %s", self.account.smtp_host)
            return SendError(TRANSIENT, phase, self._clean(f"{type(exc).__name__}: {exc}"))
        code = getattr(exc, "smtp_code", None)
        raw = getattr(exc, "smtp_error", None)
        answer = f"{code} {_decode(raw)}" if code is not None and raw is not None else ""
        status, reason = classify.classify_failure(
            "smtp", phase, exc=exc, answer=answer, code=code, oauth=bool(self.creds.access_token))
        text = self._clean(answer or f"{type(exc).__name__}: {exc}")
        kind = ACCOUNT if status == Status.DISCONNECTED else TRANSIENT
        return SendError(kind, phase, text, code, reason)

    def send(self, mail_from: str, rcpt: str, data: bytes,
             on_handover: Callable[[], None]) -> str:
        """One transaction. `on_handover` runs (and must commit) right before the end-of-data
        mark is written. Returns the server's 250 answer; raises SendError."""
        smtp = self.smtp
        if smtp is None:
            raise SendError(TRANSIENT, "mail", "not connected")
        handed_over = False
        phase = "mail"
        try:
            options: list[str] = []
            if needs_smtputf8(mail_from) or needs_smtputf8(rcpt):
                if not self.smtputf8:  # before MAIL: the connection stays usable
                    raise SendError(MESSAGE, "rcpt", no_smtputf8(
                        self.account.smtp_host, rcpt if needs_smtputf8(rcpt) else mail_from),
                        alive=True)
                options = ["SMTPUTF8"]
            # Internationalized domains travel as punycode (xn--…), in the envelope as in the
            # headers (composer.py).
            code, reply = smtp.mail(wire_address(mail_from), options)
            if code != 250:
                raise self._rejected(phase, code, reply)
            phase = "rcpt"
            code, reply = smtp.rcpt(wire_address(rcpt))
            if code not in (250, 251):
                raise self._rejected(phase, code, reply)
            phase = "data"
            smtp.putcmd("data")
            code, reply = smtp.getreply()
            if code != 354:
                raise self._rejected(phase, code, reply)
            smtp.send(dot_stuffed(data))
            on_handover()
            handed_over = True
            phase = "end_of_data"
            smtp.send(b".\r\n")
            code, reply = smtp.getreply()
            if code != 250:
                raise self._rejected(phase, code, reply)
            return f"{code} {_decode(reply)}"
        except SendError as error:
            if error.alive:
                self._reset()
            else:
                self.close()
            raise
        except Exception as exc:
            self.close()  # before the hand-over this discards the message (no final ".")
            if isinstance(exc, pw.DatabaseError) and is_connection_lost(exc):
                # The team database went away while the hand-over was being recorded: the
                # batch stops there (it is not this mailbox's trouble: no back-off), and the
                # record, never marked handed over, is settled as not sent once it is back.
                raise
            if isinstance(exc, sendlog.LeaseLost):  # another copy sends it: not a failure
                raise
            text = self._clean(f"{type(exc).__name__}: {exc}")
            # smtplib words a read timeout as "Connection unexpectedly closed: timed out"
            timed_out = isinstance(exc, TimeoutError) or isinstance(exc.__context__,
                                                                    TimeoutError)
            if handed_over and timed_out:
                raise SendError(LOST, phase, "The server received the whole message but did "
                                f"not confirm it within {self.timeout:g} s") from None
            if handed_over:
                raise SendError(LOST, phase, "The connection ended before the server confirmed "
                                f"the message: {text}") from None
            raise SendError(TRANSIENT, phase, f"Not sent: {text}") from None

    def _rejected(self, phase: str, code: int, reply: bytes) -> SendError:
        text = self._clean(f"{code} {_decode(reply)}")
        if code == 421 or code < 0:  # the server is closing the connection
            return SendError(TRANSIENT, phase, text, code)
        if 400 <= code < 500:
            return SendError(TRANSIENT, phase, text, code, alive=True)
        return SendError(permanent_kind(phase, code, text), phase, text, code, alive=True)

    def _reset(self) -> None:
        try:
            if self.smtp is not None:
                self.smtp.rset()
        except Exception:
            self.close()

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        with contextlib.suppress(Exception):
            if smtp.sock is not None:
                smtp.quit()
        with contextlib.suppress(Exception):
            smtp.close()


def permanent_kind(phase: str, code: int, text: str) -> str:
    """What a 5xx answer to a transaction step is about: the mailbox, the address or the
    message. Enhanced status codes (RFC 3463) decide when present."""
    if refused_as_sender(code, text):
        return BLOCKED  # e.g. 554 5.7.1 rejected as spam (issue 14: a status, not a flag)
    enhanced = _ENHANCED.search(text)
    subject, detail = (int(enhanced.group(2)), int(enhanced.group(3))) if enhanced else (0, 0)
    if phase == "mail" or (subject == 4 and detail == 5) or \
            (subject == 7 and _SENDER_LIMIT.search(text)):
        return SENDER  # e.g. Gmail's 550 5.4.5 daily sending quota
    if phase in ("rcpt", "end_of_data"):
        if subject == 1 or (subject, detail) == (2, 1):
            return RECIPIENT  # 5.1.1 no such user, 5.1.2 bad domain, 5.2.1 mailbox disabled
        if not enhanced and code in (550, 551, 553) and phase == "rcpt":
            return RECIPIENT
    return MESSAGE


# --- one batch ------------------------------------------------------------------------------

@dataclass
class BatchResult:
    account_id: int
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    flagged: int = 0
    ambiguous: int = 0  # answer lost after the hand-over: for reconcile
    skipped: int = 0
    # Written by the caller on its own thread: (status, reason, detail) for the account.
    account_problem: tuple[str, str, str] | None = None
    back_off: str | None = None  # TRANSIENT or SENDER: the mailbox should wait
    blocked: tuple[str, str] | None = None  # (recipient, answer): the mailbox must stop
    error: str | None = None
    sent_message_ids: list[str] = field(default_factory=list)
    # campaign id -> an unexpected error sending it: the engine pauses that campaign only
    campaign_errors: dict[int, str] = field(default_factory=dict)


class BatchSender:
    """Sends one mailbox's planned emails over one connection."""

    def __init__(self, clock: Clock, credentials: CredentialsFn, timeout: float = 20.0,
                 transport_factory: Callable[[Account, Credentials, float], Any] = SmtpTransport,
                 save_copy: Callable[[Account], bool] = mailbox.app_saves_sent_copy,
                 stop: threading.Event | None = None,
                 retry_delay: timedelta = sendlog.RETRY_DELAY,
                 fence: Callable[[int], Any] | None = None) -> None:
        self.clock = clock
        self.fence = fence  # account id -> SQL true while this copy serves it (team database)
        self.credentials = credentials
        self.timeout = timeout
        self.transport_factory = transport_factory
        self.save_copy = save_copy
        self.stop = stop or threading.Event()
        self.retry_delay = retry_delay
        # Records whose hand-over could not be recorded because the team database went away:
        # their final "." was never written (the engine settles them once it is back).
        self._unsent: set[int] = set()
        self._unsent_lock = threading.Lock()

    def take_unsent(self) -> set[int]:
        with self._unsent_lock:
            taken, self._unsent = self._unsent, set()
        return taken

    def put_back_unsent(self, record_ids: set[int]) -> None:
        with self._unsent_lock:
            self._unsent |= record_ids

    def send_batch(self, account_id: int, batch: list[Dispatch]) -> BatchResult:
        result = BatchResult(account_id)
        account = Account.get_by_id(account_id)
        if not account.can_send() or not batch:
            result.skipped = len(batch)
            return result
        try:
            creds = self.credentials(account, None, self.timeout)
        except Exception as exc:
            self._credentials_problem(exc, result)
            return result
        transport = self.transport_factory(account, creds, self.timeout)
        try:
            transport.open()
        except SendError as error:
            self._connection_problem(error, result)
            return result
        copies = SentCopies(account, creds, self.timeout) if self.save_copy(account) else None
        campaigns = _CampaignSteps()
        try:
            for dispatch in batch:
                if self.stop.is_set():
                    break
                campaign_id = dispatch.step.campaign_id
                if campaign_id in result.campaign_errors:
                    result.skipped += 1
                    continue
                try:
                    if not self._send_one(transport, account, dispatch, result, copies,
                                          campaigns):
                        break
                except pw.DatabaseError:
                    raise  # the database itself (full, damaged): not one campaign's fault
                except Exception as exc:
                    # A bug or a value nothing expected: this campaign stops, the batch and
                    # every other campaign go on. A record it left `sending` is reconciled.
                    log.exception("sending lead %s of campaign %s failed unexpectedly",
                                  dispatch.lead.id, campaign_id)
                    result.campaign_errors[campaign_id] = redact(f"{type(exc).__name__}: {exc}")
        finally:
            transport.close()
            if copies is not None:
                copies.close()
            if result.sent:
                sendlog.touch_last_sent(account.id, self.clock.now())
        return result

    def _send_one(self, transport: Any, account: Account, dispatch: Dispatch,
                  result: BatchResult, copies: SentCopies | None,
                  campaigns: _CampaignSteps) -> bool:
        """Send one email; False when the batch must stop (the connection is gone)."""
        lead = Lead.get_or_none(Lead.id == dispatch.lead.id)
        step = dispatch.step
        if lead is None or lead.state not in SENDABLE_STATES or lead.flag is not None \
                or lead.mailbox_id != account.id or lead.cursor != step.position:
            result.skipped += 1  # a reply, a halt or the rep changed it since it was planned
            return True
        now = self.clock.now()
        try:
            composed = compose(lead, step, account, now,
                               thread=None if lead.cursor else [],  # nothing sent before
                               first_step_subject=campaigns.first_subject(step.campaign_id),
                               unsubscribe_config=campaigns.unsubscribe)
        except MissingField as missing:
            sendlog.flag_lead(lead.id, str(missing), now)
            result.flagged += 1
            return True
        record = sendlog.start_attempt(lead, step.position, account, composed.message_id,
                                       composed.subject, now)
        try:
            transport.send(account.email, lead.email, composed.data,
                           lambda: sendlog.mark_handed_over(
                               record.id, self.clock.now(),
                               self.fence(account.id) if self.fence else None))
        except SendError as error:
            return self._send_failed(error, record, result)
        except pw.DatabaseError:  # only the hand-over's record raises this: "." never went
            self.put_back_unsent({record.id})
            raise
        except sendlog.LeaseLost as lost:
            # Not the mailbox's trouble, nor the lead's: no back-off, no retry delay, not an
            # attempt. The batch ends; whoever serves the mailbox now sends the step.
            log.info("send %s (%s) not handed over: %s", record.message_id, record.lead_id, lost)
            sendlog.mark_failed(record, f"{sendlog.INTERRUPTED}: {lost}", self.clock.now())
            result.skipped += 1
            return False
        sendlog.mark_sent(record, self.clock.now(), delays=campaigns.delays(step.campaign_id),
                          touch_account=False)
        result.sent += 1
        result.sent_message_ids.append(composed.message_id)
        if copies is not None:
            copies.save(composed.data, now)
        return True

    def _send_failed(self, error: SendError, record: Any, result: BatchResult) -> bool:
        now = self.clock.now()
        log.info("send %s (%s) %s at %s: %s", record.message_id, record.lead_id, error.kind,
                 error.phase, error.text)
        if error.kind == LOST:
            # Left `sending` with its hand-over mark: reconcile asks the server what it kept.
            # What happened is kept for the rep (the alert says it, not "was stopped").
            sendlog.note_lost(record.id, error.text)
            result.ambiguous += 1
            result.back_off = TRANSIENT
            return False
        if error.kind == RECIPIENT:
            sendlog.mark_bounced(record, error.text, now)
            bounce_guard.record_refusal(record, record.lead.email, error.text, now)
            result.bounced += 1
            return error.alive
        if error.kind == BLOCKED:
            # Not the lead's fault: it keeps its cursor and goes out once the rep resumes.
            sendlog.mark_failed(record, error.text, now)
            result.failed += 1
            result.blocked = (record.lead.email, error.text)
            result.error = error.text
            return False
        if error.kind == MESSAGE:
            sendlog.mark_failed(record, error.text, now)
            sendlog.flag_lead(record.lead_id, f"Step {record.step + 1} was refused by the "
                              f"server: {error.text[:300]}", now)
            result.flagged += 1
            return error.alive
        sendlog.mark_failed(record, error.text, now, retry_at=now + self.retry_delay)
        result.failed += 1
        result.back_off = error.kind if error.kind in (TRANSIENT, SENDER) else TRANSIENT
        result.error = error.text
        return False  # the mailbox waits: the next messages would meet the same trouble

    def _connection_problem(self, error: SendError, result: BatchResult) -> None:
        result.error = error.text
        if error.kind == ACCOUNT and error.reason:
            result.account_problem = (Status.DISCONNECTED, error.reason, error.text)
        else:
            result.back_off = TRANSIENT

    def _credentials_problem(self, exc: BaseException, result: BatchResult) -> None:
        if isinstance(exc, CredentialsMissing):
            result.account_problem = (Status.DISCONNECTED, "invalid_credentials", str(exc))
        elif isinstance(exc, SecretStoreError):
            result.back_off, result.error = TRANSIENT, str(exc)  # the keyring, not the account
        else:
            reason, detail = classify_token_error(exc)
            if REASONS[reason].status == Status.DISCONNECTED:
                result.account_problem = (Status.DISCONNECTED, reason, detail)
            else:
                result.back_off, result.error = TRANSIENT, detail


class _CampaignSteps:
    """What a batch needs of its campaigns' steps, read once per batch."""

    def __init__(self) -> None:
        self._delays: dict[int, list[float]] = {}
        self._first: dict[int, str | None] = {}
        self.unsubscribe = unsubscribe_settings()

    def delays(self, campaign_id: int) -> list[float]:
        if campaign_id not in self._delays:
            self._delays[campaign_id] = step_delays(campaign_id)
        return self._delays[campaign_id]

    def first_subject(self, campaign_id: int) -> str | None:
        if campaign_id not in self._first:
            self._first[campaign_id] = Step.select(Step.subject).where(
                (Step.campaign == campaign_id) & (Step.position == 0)).scalar()
        return self._first[campaign_id]


class SentCopies:
    """Copies of sent messages in the mailbox's Sent folder, for providers that do not file
    SMTP sends themselves. Opened on first use; a failure is logged, never fatal: the email is
    sent either way."""

    def __init__(self, account: Account, creds: Credentials, timeout: float) -> None:
        self.account, self.creds, self.timeout = account, creds, timeout
        self.client: IMAPClient | None = None
        self.folder: str | None = None
        self.broken = False

    def save(self, data: bytes, when: datetime) -> bool:
        if self.broken:
            return False
        try:
            if self.client is None:
                self.client = mailbox.open_imap(self.account, self.creds, self.timeout)
                self.folder = mailbox.sent_folder(self.client)
                if self.folder is None:
                    log.warning("%s has no Sent folder: copies are not saved", self.account.email)
                    self.broken = True
                    return False
            assert self.folder is not None
            mailbox.append_copy(self.client, self.folder, data, when)
            return True
        except Exception as exc:
            log.warning("could not save a copy in Sent for %s: %s", self.account.email,
                        redact(str(exc)))
            self.broken = True
            self.close()
            return False

    def close(self) -> None:
        client, self.client = self.client, None
        mailbox.close_quietly(client)
