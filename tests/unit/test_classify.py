"""Table-driven tests of classify: real provider answers → (status, reason) (spec §2).

Wordings come from provider documentation, RFC 5530 / RFC 4954 / RFC 3463 examples, public bug
reports (offlineimap, MailKit, imapsync, Mailspring, nodemailer…) and
/work/shared/notes/providers.md.
"""

from __future__ import annotations

import errno
import imaplib
import smtplib
import socket
import ssl

import pytest

from mailmonitor.services.common.reasons import (
    CREDENTIAL_REASONS,
    REASONS,
    SENDING_REASONS,
    Status,
)
from mailmonitor.services.monitoring import classify

# (provider, phase, server answer (tags stripped), oauth, expected reason)
IMAP_CASES: list[tuple[str, str, str, bool, str]] = [
    # invalid_credentials
    ("Gmail", "auth", "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)", False,
     "invalid_credentials"),
    ("Yahoo", "auth", "NO [AUTHENTICATIONFAILED] LOGIN Invalid credentials", False,
     "invalid_credentials"),
    ("Yahoo", "auth", "NO [AUTHENTICATIONFAILED] (#MBR1212) Incorrect username or password.",
     False, "invalid_credentials"),
    ("iCloud", "auth", "NO [AUTHENTICATIONFAILED] Authentication failed", False,
     "invalid_credentials"),
    ("Zoho", "auth", "NO [AUTHENTICATIONFAILED] Invalid credentials(Failure)", False,
     "invalid_credentials"),
    ("Dovecot", "auth", "NO [AUTHENTICATIONFAILED] Authentication failed.", False,
     "invalid_credentials"),
    ("Microsoft", "auth", "NO LOGIN failed.", False, "invalid_credentials"),
    ("Fastmail (no response code)", "auth", "NO Incorrect username or password.", False,
     "invalid_credentials"),
    ("Yandex (IMAP off or bad password: the server does not know)", "auth",
     "NO [AUTHENTICATIONFAILED] LOGIN Invalid credentials or IMAP is disabled "
     "sc=ebI8JB0ug4Y1_290737_53p", False, "invalid_credentials"),
    ("RFC 5530", "auth", "NO [AUTHORIZATIONFAILED] No such authorization-ID", False,
     "invalid_credentials"),
    ("RFC 5530", "auth", "NO [EXPIRED] That password isn't valid any more", False,
     "invalid_credentials"),
    # token_expired: an OAuth access token refused
    ("Gmail XOAUTH2", "auth", "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)", True,
     "token_expired"),
    ("Microsoft XOAUTH2", "auth", "NO AUTHENTICATE failed.", True, "token_expired"),
    ("RFC 5530 with OAuth", "auth", "NO [EXPIRED] That password isn't valid any more", True,
     "token_expired"),
    # app_password_required
    ("Gmail", "auth", "NO [ALERT] Application-specific password required: "
     "https://support.google.com/accounts/answer/185833 (Failure)", False,
     "app_password_required"),
    # web_login_required
    ("Gmail", "auth", "NO [ALERT] Please log in via your web browser: "
     "https://support.google.com/mail/accounts/answer/78754 (Failure)", False,
     "web_login_required"),
    ("Gmail", "auth", "NO [WEBALERT https://accounts.google.com/ContinueSignIn?sarp=1&scc=1"
     "&plt=AKgnsbsOQ] Web login required.", False, "web_login_required"),
    ("Outlook.com", "auth", "NO LOGIN failed. Account is blocked. Login to your account via a web "
     "browser to verify your identity.", False, "web_login_required"),
    # auth_method_disabled
    ("Gmail", "auth", "NO [ALERT] Your account is not enabled for IMAP use. Please visit your "
     "Gmail settings page and enable your account for IMAP access. (Failure)", False,
     "auth_method_disabled"),
    ("Zoho", "auth", "NO [ALERT] You are yet to enable IMAP for your account. Please contact your "
     "administrator (Failure)", False, "auth_method_disabled"),
    ("Microsoft (IMAP off for the mailbox)", "select",
     "BAD User is authenticated but not connected.", True, "auth_method_disabled"),
    ("generic", "auth", "NO IMAP access is disabled for this account", False,
     "auth_method_disabled"),
    # account_disabled
    ("RFC 5530", "auth", "NO [CONTACTADMIN] Account suspended, contact your administrator",
     False, "account_disabled"),
    ("Dovecot passdb", "auth", "NO [AUTHENTICATIONFAILED] Account is disabled.", False,
     "account_disabled"),
    # tls_error
    ("Dovecot", "auth", "NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure "
     "(SSL/TLS) connections.", False, "tls_error"),
    ("STARTTLS refused", "tls", "BAD STARTTLS not available", False, "tls_error"),
    # rate_limited
    ("Gmail", "auth", "NO [ALERT] Too many simultaneous connections. (Failure)", False,
     "rate_limited"),
    ("Gmail", "select", "NO [ALERT] Account exceeded command or bandwidth limits. (Failure)",
     False, "rate_limited"),
    ("Dovecot", "auth", "* BYE Maximum number of connections from user+IP exceeded "
     "(mail_max_userip_connections=10)", False, "rate_limited"),
    ("RFC 5530", "auth", "NO [LIMIT] Too many concurrent sessions for this user", False,
     "rate_limited"),
    ("busy server greeting", "greeting", "* BYE Too many connections from 203.0.113.5", False,
     "rate_limited"),
    # mailbox_full
    ("Dovecot", "select", "NO [OVERQUOTA] Quota exceeded (mailbox for user is full)", False,
     "mailbox_full"),
    ("RFC 5530", "auth", "NO [OVERQUOTA] Sorry, your mailbox is over quota", False,
     "mailbox_full"),
    # sync_error: signed in, INBOX cannot be opened
    ("Dovecot", "select", "NO [SERVERBUG] Internal error occurred. Refer to server log for more "
     "information. [2024-05-01 10:00:00]", False, "sync_error"),
    ("Dovecot", "select", "NO [NONEXISTENT] Mailbox doesn't exist: INBOX", False, "sync_error"),
    ("any", "select", "BAD Command Argument Error. 11", False, "sync_error"),
    # server_unavailable
    ("RFC 5530", "auth", "NO [UNAVAILABLE] User's backend down for maintenance", False,
     "server_unavailable"),
    ("Dovecot", "auth", "NO [UNAVAILABLE] Temporary authentication failure. "
     "[mail:2024-05-01 10:00:00]", False, "server_unavailable"),
    ("Dovecot proxy", "auth", "NO [UNAVAILABLE] Account is temporarily unavailable.", False,
     "server_unavailable"),
    ("Dovecot", "greeting", "* BYE Server shutting down.", False, "server_unavailable"),
    ("Gmail", "greeting", "* BYE [UNAVAILABLE] Temporary System Error", False,
     "server_unavailable"),
    ("Microsoft", "select", "* BYE Connection is closed. 13", False, "server_unavailable"),
    ("RFC 5530", "auth", "NO [SERVERBUG] Something went wrong", False, "server_unavailable"),
    # request_invalid: not IMAP, or a protocol error
    ("SMTP server on the IMAP port", "greeting", "220 smtp.gmail.com ESMTP d2sm4", False,
     "request_invalid"),
    ("HTTP server on the IMAP port", "greeting", "HTTP/1.1 400 Bad Request", False,
     "request_invalid"),
    ("binary bytes", "greeting", "\\x15\\x03\\x01\\x00\\x02\\x02\\n", False, "request_invalid"),
    ("protocol error", "auth", "BAD Command syntax error", False, "request_invalid"),
]

# (provider, phase, reply code, reply text, oauth, expected reason)
SMTP_CASES: list[tuple[str, str, int | None, str, bool, str]] = [
    # invalid_credentials
    ("Gmail", "auth", 535, "535-5.7.8 Username and Password not accepted. For more information, "
     "go to\n535 5.7.8  https://support.google.com/mail/?p=BadCredentials d2sm4", False,
     "invalid_credentials"),
    ("Microsoft", "auth", 535, "535 5.7.3 Authentication unsuccessful "
     "[SN4PR0601CA0002.namprd06.prod.outlook.com]", False, "invalid_credentials"),
    ("Microsoft", "auth", 535, "535 5.7.139 Authentication unsuccessful, the user credentials "
     "were incorrect. [LO4P123CA0001.GBRP123.PROD.OUTLOOK.COM]", False, "invalid_credentials"),
    ("Yahoo", "auth", 535, "535 5.7.0 (#MBR1212) Incorrect username or password.", False,
     "invalid_credentials"),
    ("Zoho", "auth", 535, "535 Authentication Failed", False, "invalid_credentials"),
    ("Postfix / iCloud style", "auth", 535, "535 5.7.8 Error: authentication failed: UGFzc3dvcmQ6",
     False, "invalid_credentials"),
    ("Dovecot submission", "auth", 535, "535 5.7.8 Authentication failed", False,
     "invalid_credentials"),
    ("Brevo", "auth", 535, "535 5.7.0 Invalid login or password", False, "invalid_credentials"),
    # token_expired
    ("Gmail XOAUTH2", "auth", 535, "535-5.7.8 Username and Password not accepted. For more "
     "information, go to\n535 5.7.8  https://support.google.com/mail/?p=BadCredentials", True,
     "token_expired"),
    ("Microsoft XOAUTH2", "auth", 535, "535 5.7.3 Authentication unsuccessful", True,
     "token_expired"),
    # app_password_required
    ("Gmail", "auth", 534, "534-5.7.9 Application-specific password required. For more "
     "information, go to\n534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor x1",
     False, "app_password_required"),
    # web_login_required
    ("Gmail", "auth", 534, "534-5.7.14 <https://accounts.google.com/signin/continue?sarp=1&scc=1"
     "&plt=AKgnsbu>\n534-5.7.14 Please log in via your web browser and\n534-5.7.14 then try again."
     "\n534-5.7.14  Learn more at\n534 5.7.14  https://support.google.com/mail/answer/78754 d2sm4",
     False, "web_login_required"),
    # auth_method_disabled
    ("Microsoft tenant", "auth", 535, "535 5.7.139 Authentication unsuccessful, "
     "SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled "
     "for more information. [MW4PR03CA0001.namprd03.prod.outlook.com]", False,
     "auth_method_disabled"),
    ("Microsoft mailbox", "auth", 535, "535 5.7.139 Authentication unsuccessful, "
     "SmtpClientAuthentication is disabled for the Mailbox. Visit "
     "https://aka.ms/smtp_auth_disabled for more information.", False, "auth_method_disabled"),
    ("Microsoft security defaults", "auth", 535, "535 5.7.139 Authentication unsuccessful, user is "
     "locked by your organization's security defaults policy. Contact your administrator.", False,
     "auth_method_disabled"),
    ("Microsoft conditional access", "auth", 535, "535 5.7.139 Authentication unsuccessful, the "
     "request did not meet the criteria to be authenticated successfully. Contact your "
     "administrator.", False, "auth_method_disabled"),
    ("Microsoft basic auth off", "auth", 550, "550 5.7.30 Basic authentication is not supported "
     "for Client Submission.", False, "auth_method_disabled"),
    # account_disabled
    ("RFC 4954", "auth", 525, "525 5.7.13 User Account Disabled", False, "account_disabled"),
    ("Outlook.com suspended", "auth", 554, "554 5.2.0 STOREDRV.Submission.Exception:"
     "OutboundSpamException; Failed to process message due to a permanent exception with message "
     "WASCL UserAction verdict is not None. Actual verdict is Suspend", False, "account_disabled"),
    ("generic", "auth", 535, "535 5.7.8 Account disabled", False, "account_disabled"),
    ("generic", "auth", 535, "535 5.7.8 Your account has been suspended", False,
     "account_disabled"),
    # tls_error
    ("Gmail", "auth", 530, "530 5.7.0 Must issue a STARTTLS command first. d2sm4", False,
     "tls_error"),
    ("RFC 4954", "auth", 538, "538 5.7.11 Encryption required for requested authentication "
     "mechanism", False, "tls_error"),
    ("Microsoft", "tls", 421, "421 4.7.66 TLS 1.0 and 1.1 are not supported. Please "
     "upgrade/update your client to support TLS 1.2. Visit https://aka.ms/smtp_auth_tls.", False,
     "tls_error"),
    ("STARTTLS refused", "tls", 502, "502 5.5.1 Unrecognized command.", False, "tls_error"),
    # rate_limited
    ("Gmail", "auth", 454, "454-4.7.0 Too many login attempts, please try again later. For more "
     "information, go to\n454 4.7.0  https://support.google.com/mail/answer/7126229 d2sm4", False,
     "rate_limited"),
    ("Yahoo", "auth", 535, "535 5.7.0 (#AUTH005) Too many bad auth attempts.", False,
     "rate_limited"),
    ("Exchange", "noop", 432, "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded",
     False, "rate_limited"),
    ("busy server greeting", "greeting", 421, "421 4.7.0 Too many concurrent SMTP connections "
     "from this IP address; please try again later.", False, "rate_limited"),
    # mailbox_full
    ("Gmail", "auth", 552, "552-5.2.2 The email account that you tried to reach is over quota.",
     False, "mailbox_full"),
    ("generic", "noop", 452, "452 4.2.2 Mailbox full", False, "mailbox_full"),
    # server_unavailable
    ("Gmail", "greeting", 421, "421-4.7.0 Try again later, closing connection. (EHLO)", False,
     "server_unavailable"),
    ("Gmail", "ehlo", 421, "421-4.7.0 Try again later, closing connection. (EHLO)", False,
     "server_unavailable"),
    ("Exchange", "auth", 454, "454 4.7.0 Temporary authentication failure", False,
     "server_unavailable"),
    ("Microsoft", "auth", 451, "451 4.7.0 Temporary server error. Please try again later. PRX4",
     False, "server_unavailable"),
    ("Yahoo", "greeting", 421, "421 4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred "
     "due to unexpected volume or user complaints", False, "server_unavailable"),
    ("Yahoo blocklist", "greeting", 553, "553 5.7.1 [BL21] Connections will not be accepted from "
     "203.0.113.5, because the ip is in Spamhaus's list", False, "server_unavailable"),
    ("generic", "greeting", 554, "554 5.3.2 No SMTP service here", False, "server_unavailable"),
    # request_invalid
    ("RFC 4954", "auth", 534, "534 5.7.9 Authentication mechanism is too weak", False,
     "request_invalid"),
    ("RFC 4954", "auth", 504, "504 5.5.4 Unrecognized authentication type", False,
     "request_invalid"),
    ("IMAP server on the SMTP port", "greeting", -1, "* OK [CAPABILITY IMAP4rev1] Dovecot ready.",
     False, "request_invalid"),
    ("HTTP server on the SMTP port", "greeting", -1, "HTTP/1.1 400 Bad Request", False,
     "request_invalid"),
    ("EHLO refused", "ehlo", 550, "550 5.7.1 Access denied", False, "request_invalid"),
]

# Unknown answers keep to the documented fallbacks.
FALLBACK_CASES: list[tuple[str, str, str, int | None, str, str]] = [
    # (label, protocol, phase, code, answer, expected)
    ("unknown 5xx to AUTH", "smtp", "auth", 535, "535 5.7.1 Computer says no",
     "invalid_credentials"),
    ("unknown 5xx code to AUTH", "smtp", "auth", 599, "599 Nope", "invalid_credentials"),
    ("unknown 4xx", "smtp", "noop", 471, "471 4.9.9 Odd trouble", "server_unavailable"),
    ("unknown 4xx to AUTH", "smtp", "auth", 450, "450 Later", "server_unavailable"),
    ("IMAP NO to LOGIN, no code", "imap", "auth", None, "NO Go away", "invalid_credentials"),
    ("garbage to LOGIN", "imap", "auth", None, "what is this", "request_invalid"),
    ("garbage to AUTH", "smtp", "auth", None, "what is this", "request_invalid"),
    ("OK but still failing", "imap", "auth", None, "OK whatever", "request_invalid"),
]


@pytest.mark.parametrize(("provider", "phase", "answer", "oauth", "expected"), IMAP_CASES,
                         ids=[f"imap-{c[0]}-{c[4]}" for c in IMAP_CASES])
def test_imap_answers(provider: str, phase: str, answer: str, oauth: bool, expected: str) -> None:
    status, reason = classify.classify_imap(phase, answer, oauth=oauth)
    assert reason == expected, f"{provider}: {answer!r}"
    assert status == REASONS[expected].status
    # The same answer with its tag, as the server sent it, means the same.
    if answer.startswith(("NO ", "BAD ", "OK ")):
        assert classify.classify_imap(phase, f"A0001 {answer}", oauth=oauth)[1] == expected


@pytest.mark.parametrize(("provider", "phase", "code", "answer", "oauth", "expected"), SMTP_CASES,
                         ids=[f"smtp-{c[0]}-{c[5]}" for c in SMTP_CASES])
def test_smtp_answers(
    provider: str, phase: str, code: int | None, answer: str, oauth: bool, expected: str
) -> None:
    status, reason = classify.classify_smtp(phase, code, answer, oauth=oauth)
    assert reason == expected, f"{provider}: {answer!r}"
    assert status == REASONS[expected].status
    # The code parsed from the text gives the same result as the one smtplib reported.
    if code is not None and code > 0:
        assert classify.classify_smtp(phase, None, answer, oauth=oauth)[1] == expected


@pytest.mark.parametrize(("label", "protocol", "phase", "code", "answer", "expected"),
                         FALLBACK_CASES, ids=[c[0] for c in FALLBACK_CASES])
def test_fallbacks(
    label: str, protocol: str, phase: str, code: int | None, answer: str, expected: str
) -> None:
    assert classify.classify_failure(protocol, phase, answer=answer, code=code)[1] == expected


def _raised_from(outer: BaseException, inner: BaseException) -> BaseException:
    """``outer`` as a library raises it while handling ``inner``."""
    try:
        try:
            raise inner
        except BaseException:
            raise outer  # noqa: B904 - the implicit context is the point
    except BaseException as exc:
        return exc


EXCEPTION_CASES: list[tuple[str, BaseException, str, str]] = [
    ("refused", ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "connect",
     "network"),
    ("reset", ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "auth",
     "network"),
    ("DNS failure", socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "connect",
     "network"),
    ("host unreachable", OSError(errno.EHOSTUNREACH, "No route to host"), "connect", "network"),
    ("network unreachable", OSError(errno.ENETUNREACH, "Network is unreachable"), "connect",
     "network"),
    ("socket timeout", TimeoutError("timed out"), "greeting", "timeout"),
    ("TLS handshake timeout", TimeoutError("_ssl.c:983: The handshake operation timed out"), "tls",
     "timeout"),
    ("OS connect timeout", OSError(errno.ETIMEDOUT, "Connection timed out"), "connect", "timeout"),
    ("smtplib wraps a timeout", _raised_from(
        smtplib.SMTPServerDisconnected("Connection unexpectedly closed: timed out"),
        TimeoutError("timed out")), "greeting", "timeout"),
    ("smtplib timeout text only",
     smtplib.SMTPServerDisconnected("Connection unexpectedly closed: timed out"), "ehlo",
     "timeout"),
    ("imaplib abort wording", imaplib.IMAP4.abort("socket error: timed out"), "auth", "timeout"),
    ("imaplib wraps a reset", _raised_from(
        imaplib.IMAP4.abort("socket error: [Errno 104] Connection reset by peer"),
        ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")), "auth", "network"),
    ("untrusted certificate", ssl.SSLCertVerificationError(
        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"),
     "tls", "tls_error"),
    ("plain server on a TLS port", ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version "
                                                   "number"), "tls", "tls_error"),
    ("old TLS only", ssl.SSLError(1, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol "
                                     "version"), "tls", "tls_error"),
    ("handshake cut", ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), "tls",
     "tls_error"),
    ("TLS session cut after login", ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
     "select", "server_unavailable"),
]


@pytest.mark.parametrize(("label", "exc", "phase", "expected"), EXCEPTION_CASES,
                         ids=[c[0] for c in EXCEPTION_CASES])
def test_exceptions(label: str, exc: BaseException, phase: str, expected: str) -> None:
    assert classify.classify_exception(exc, phase) == expected
    assert classify.classify_failure("imap", phase, exc=exc)[1] == expected


def test_non_network_exceptions_are_not_network() -> None:
    assert classify.classify_exception(ValueError("bad literal"), "auth") is None
    # A server's own words that mention a timeout are not a socket timeout.
    auth_error = smtplib.SMTPAuthenticationError(535, b"5.7.8 Session timeout, login again")
    assert classify.classify_exception(auth_error, "auth") is None


def test_connection_closed_without_answer_is_server_unavailable() -> None:
    eof = imaplib.IMAP4.abort("command: LOGIN => socket error: EOF")
    assert classify.classify_failure("imap", "auth", exc=eof) == (
        Status.WARNING, "server_unavailable")
    gone = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    assert classify.classify_failure("smtp", "greeting", exc=gone)[1] == "server_unavailable"


def test_garbage_then_silence_is_request_invalid_not_timeout() -> None:
    assert classify.classify_failure(
        "imap", "greeting", exc=TimeoutError("timed out"), answer="\\x16\\x03\\x01garbage"
    )[1] == "request_invalid"
    # A greeting that started fine and then stalled is a timeout.
    assert classify.classify_failure(
        "imap", "greeting", exc=TimeoutError("timed out"), answer="* OK Dove"
    )[1] == "timeout"


ALL_ANSWERS = [c[2] for c in IMAP_CASES] + [c[3] for c in SMTP_CASES]


@pytest.mark.parametrize("phase", ["connect", "tls", "greeting"])
def test_nothing_before_or_in_a_greeting_is_a_credential_reason(phase: str) -> None:
    for answer in ALL_ANSWERS:
        for oauth in (False, True):
            imap = classify.classify_imap(phase, answer, oauth=oauth)[1]
            smtp = classify.classify_smtp(phase, None, answer, oauth=oauth)[1]
            assert imap not in CREDENTIAL_REASONS, (phase, answer, imap)
            assert smtp not in CREDENTIAL_REASONS, (phase, answer, smtp)
    for _label, exc, _phase, _expected in EXCEPTION_CASES:
        assert classify.classify_failure("smtp", phase, exc=exc)[1] not in CREDENTIAL_REASONS


def test_every_reason_of_the_table_is_covered() -> None:
    produced = (
        {c[4] for c in IMAP_CASES} | {c[5] for c in SMTP_CASES} | {c[3] for c in EXCEPTION_CASES}
        | {c[5] for c in FALLBACK_CASES}
    )
    # no_service_connection is not in any single answer: the monitor escalates transient trouble
    # that lasts past the transient window (spec §2). token_expired comes from OAuth sign-ins
    # refused by IMAP/SMTP here (refresh failures are classified by services/token_errors.py).
    # The sending reasons come from real sends, not from a check (services/deliverability).
    assert set(REASONS) - produced - SENDING_REASONS == {"no_service_connection", "sending_limit"}


def test_helpers() -> None:
    assert classify.imap_response_codes("NO [ALERT] x [OVERQUOTA] y") == ["ALERT", "OVERQUOTA"]
    assert classify.smtp_enhanced_code("535-5.7.8 Username and Password") == "5.7.8"
    assert classify.smtp_reply_code("534-5.7.14 a\n534 5.7.14 b") == 534
    assert classify.smtp_reply_code("garbage") is None
    assert classify.flatten_smtp("534-5.7.14 Please log in via\n534 5.7.14 your web browser") == (
        "534 5.7.14 Please log in via your web browser"
    )
    assert classify.status_of("timeout") is Status.WARNING
    assert classify.status_of("invalid_credentials") is Status.DISCONNECTED
