"""Map what a mail server (or the network) answered to a (status, reason) pair (spec §2).

Pure functions, no I/O: the probes (``probes.py``) collect the evidence — the exception raised, the
server's answer to the failing step, the SMTP reply code — and ask here what it means.

Principles (spec §2, providers.md):
- Match on codes (IMAP response codes in brackets, SMTP reply codes and RFC 3463 enhanced status
  codes) and on key phrases, never on whole strings: wording varies by provider and over time.
- Specific phrases win over generic codes (Gmail's ``[ALERT] Application-specific password
  required`` carries no AUTHENTICATIONFAILED; Microsoft's ``5.7.139`` means several things).
- Failures before any greeting (DNS, refused, reset, TLS handshake, silence) are about reaching the
  server and are never credential reasons; neither is anything the server says in its greeting.
- Unknown answers fall back: a 5xx to AUTH or an IMAP NO to LOGIN → ``invalid_credentials``,
  garbage → ``request_invalid``, other 4xx → ``server_unavailable``, a failing SELECT →
  ``sync_error``.
- For OAuth (XOAUTH2) sign-ins a credential rejection means the access token was refused: that is
  ``token_expired`` (the rep signs in again), not "re-enter the password".
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
from collections.abc import Iterator

from mailmonitor.services.common.reasons import REASONS, Status

Classification = tuple[Status, str]

# Phases a probe goes through, in order. IMAP: connect, tls, greeting, auth, select;
# SMTP: connect, tls, greeting, ehlo, auth, noop. With STARTTLS the tls phase follows the greeting
# (and EHLO): a server *answer* in the tls phase is the answer to STARTTLS.


def status_of(reason: str) -> Status:
    """The status a reason code puts an account in (from the reason table)."""
    return REASONS[reason].status


def _result(reason: str) -> Classification:
    return status_of(reason), reason


class _Phrases:
    """Alternative phrases, matched whatever their case; compiled when first searched: a check
    that passes classifies nothing, and compiling them all cost every start-up 7 ms."""

    __slots__ = ("_compiled", "_source")

    def __init__(self, source: str) -> None:
        self._source = source
        self._compiled: re.Pattern[str] | None = None

    def search(self, text: str) -> re.Match[str] | None:
        if self._compiled is None:
            self._compiled = re.compile(self._source, re.IGNORECASE)
        return self._compiled.search(text)


def _rx(*patterns: str) -> _Phrases:
    return _Phrases("|".join(f"(?:{p})" for p in patterns))


# --- phrases -------------------------------------------------------------------------------------

# Gmail: "Please log in via your web browser" (IMAP [ALERT] and SMTP 534-5.7.14), IMAP
# [WEBALERT url] "Web login required"; Outlook.com: "LOGIN failed. Account is blocked. Login to
# your account via a web browser to verify your identity."
WEB_LOGIN = _rx(
    r"\blog ?in (?:to your account )?(?:via|with|using|through) (?:your|a) (?:web )?browser",
    r"\bweb ?login required",
    r"\[WEBALERT\b",
    r"\bverify your (?:identity|account) (?:via|in|with|using) (?:your|a) (?:web )?browser",
)

# Gmail: "[ALERT] Application-specific password required: https://support.google.com/...",
# "534-5.7.9 Application-specific password required ... ?p=InvalidSecondFactor"; iCloud, Yahoo and
# Fastmail tell users to use an "app password" / "app-specific password".
APP_PASSWORD = _rx(
    r"\bapplication[- ]specific password",
    r"\bapp[- ]specific password",
    r"\b(?:use|need|requires?|create|generate) an? app password",
    r"\bapp password (?:is )?required",
    r"InvalidSecondFactor",
)

# IMAP/SMTP AUTH switched off for the account or tenant.
# Gmail: "[ALERT] Your account is not enabled for IMAP use."; Zoho: "[ALERT] You are yet to enable
# IMAP for your account."; Microsoft: "535 5.7.139 ... SmtpClientAuthentication is disabled for the
# Tenant/Mailbox", "550 5.7.30 Basic authentication is not supported for Client Submission", IMAP
# "User is authenticated but not connected." (IMAP off for the mailbox: login passes, every command
# then fails). Deliberately not matched: Yandex's "Invalid credentials or IMAP is disabled" (the
# server does not know which), which stays invalid_credentials.
AUTH_METHOD_DISABLED = _rx(
    r"\bnot enabled for (?:imap|pop|smtp)\b",
    r"\byet to enable (?:imap|pop|smtp)\b",
    r"\b(?:imap|pop3?|smtp)(?: access| auth(?:entication)?)? (?:is |has been )?"
    r"(?:not enabled|disabled|turned off|not allowed|not permitted)\b[^.]{0,20}?"
    r"\b(?:for|on) (?:this|your|the) (?:account|user|mailbox|domain|organi[sz]ation|tenant)",
    r"\b(?:imap|pop3?|smtp) access (?:is )?(?:disabled|not (?:enabled|allowed|permitted))",
    r"SmtpClientAuthentication is disabled",
    r"\bsmtp ?auth(?:entication)? (?:is )?disabled",
    r"\bbasic auth(?:entication)? (?:is )?(?:not supported|disabled|blocked)",
    r"\buser is authenticated but not connected",
    r"\bsecurity defaults policy",
)

# Provider-side throttling of logins and connections.
# Gmail: "454-4.7.0 Too many login attempts, please try again later", "[ALERT] Too many simultaneous
# connections. (Failure)", "[ALERT] Account exceeded command or bandwidth limits."; Yahoo:
# "535 5.7.0 (#AUTH005) Too many bad auth attempts."; Dovecot: "Maximum number of connections from
# user+IP exceeded"; Exchange: "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded".
RATE_LIMITED = _rx(
    r"\btoo many (?:[\w+-]+ ){0,2}connections",
    r"\bmaximum number of (?:simultaneous |concurrent )?connections",
    r"\bconnection (?:limit|count) (?:exceeded|reached)",
    r"\btoo many (?:bad |failed |invalid |unsuccessful )?(?:login|logon|auth\w*|sign-?in)s?\b",
    r"\btoo many (?:requests|commands)",
    r"\bexceeded (?:the )?(?:command|bandwidth|rate|request|login)",
    r"\b(?:command|bandwidth) limits?\b",
    r"\brate[- ]limit",
    r"\bthrottl",
    r"\bthread limit exceeded",
    r"#AUTH005",
)

# RFC 5530 [OVERQUOTA]; Dovecot "Quota exceeded (mailbox for user is full)"; SMTP 552 / x.2.2.
MAILBOX_FULL = _rx(
    r"\bover ?quota\b",
    r"\bquota (?:exceeded|exhausted|full)",
    r"\b(?:mailbox|mail ?box|storage|inbox) (?:is )?(?:full|exceeded)",
    r"\bexceeded (?:the |your )?(?:storage|quota|mailbox)",
    r"\bout of (?:storage|space)\b",
)

# The server wants TLS first (or a newer TLS).
# Gmail: "530-5.7.0 Must issue a STARTTLS command first."; Dovecot: "[PRIVACYREQUIRED] Plaintext
# authentication disallowed on non-secure (SSL/TLS) connections."; Microsoft: "421 4.7.66 TLS 1.0
# and 1.1 are not supported."; RFC 3463 5.7.11 "Encryption required for requested authentication
# mechanism".
TLS_REQUIRED = _rx(
    r"\bmust issue a starttls",
    r"\bstarttls (?:is |first )?(?:required|needed)",
    r"\bplain ?text (?:authentication|login|auth) (?:is )?(?:disallowed|not allowed|disabled)",
    r"\bencryption (?:is )?required",
    r"\brequires? (?:an? )?(?:ssl|tls|encrypted|secure)",
    r"\btls 1\.[01](?: and 1\.1)? (?:are|is) not supported",
    r"\[PRIVACYREQUIRED\]",
)

# The provider says the account itself is off.
# RFC 5530 [CONTACTADMIN]; RFC 3463 x.7.13 "User Account Disabled"; Outlook.com "... verdict is
# Suspend"; Dovecot "Account is disabled"; many: "account suspended / locked / deactivated".
ACCOUNT_DISABLED = _rx(
    r"\b(?:account|mailbox|user)\b[^.\n]{0,30}?"
    r"\b(?:is |has been |was |got )?(?:disabled|suspended|locked|blocked|deactivated|"
    r"terminated|closed|banned|frozen|inactive)\b",
    r"\b(?:disabled|suspended|locked|blocked|deactivated|banned|frozen) (?:user )?"
    r"(?:account|mailbox|user)\b",
    r"\bverdict is suspend",
    r"\[CONTACTADMIN\]",
)

# Temporary trouble on the server's side (IMAP has no reply codes for it, only words).
TEMPORARY = _rx(
    r"\[UNAVAILABLE\]",
    r"\btemporar(?:y|ily)\b",
    r"\btry (?:again )?later\b",
    r"\bservice (?:is )?(?:not available|unavailable)",
    r"\bserver (?:is )?(?:shutting down|busy|overloaded|unavailable)",
    r"\bsystem error\b",
)

# Microsoft 5.7.139 is one enhanced code for several answers; these are the credential ones.
_MS_BAD_CREDENTIALS = _rx(
    r"\bcredentials were incorrect",
    r"\b(?:username|user name|password) (?:is )?(?:incorrect|invalid|wrong)",
)

# SMTP: "AUTH not supported", "504 5.7.4 Unrecognized authentication type", mechanism too weak.
NO_AUTH_MECHANISM = _rx(
    r"\bauth(?:entication)?(?: extension)? not supported",
    r"\bno suitable authentication",
    r"\bunrecognized authentication",
    r"\bmechanism (?:is )?(?:too weak|not supported|not available|unsupported)",
    r"\bunsupported (?:authentication|sasl) mechanism",
)

_IMAP_CODE = re.compile(r"\[([A-Za-z][A-Za-z0-9.-]*)")
_SMTP_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_SMTP_LINE = re.compile(r"^\d{3}(?:[ -]|$)")
_IMAP_STATUS = re.compile(r"^(?:\*|[A-Za-z0-9.]+) (OK|NO|BAD|BYE|PREAUTH)\b", re.IGNORECASE)
_IMAP_LINE = re.compile(r"^(?:\* |\+(?: |$)|[A-Za-z0-9.]{1,20} (?:OK|NO|BAD|BYE|PREAUTH)\b|"
                        r"(?:OK|NO|BAD|BYE|PREAUTH)\b)", re.IGNORECASE)


def imap_response_codes(text: str) -> list[str]:
    """The bracketed IMAP response codes in an answer, upper-cased (``[AUTHENTICATIONFAILED]``)."""
    return [m.group(1).upper() for m in _IMAP_CODE.finditer(text)]


def smtp_enhanced_code(text: str) -> str | None:
    """The first RFC 3463 enhanced status code (``5.7.8``) in an SMTP answer."""
    m = _SMTP_ENHANCED.search(text)
    return m.group(1) if m else None


def smtp_reply_code(text: str) -> int | None:
    """The reply code of the last line of an SMTP answer, None when there is none."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return None
    m = re.match(r"^(\d{3})(?:[ -]|$)", lines[-1])
    return int(m.group(1)) if m else None


def flatten_smtp(text: str) -> str:
    """An SMTP reply as one line of words, without the repeated codes of continuation lines.

    ``"534-5.7.14 Please log in via\\n534 5.7.14 your web browser"`` → ``"534 5.7.14 Please log in
    via your web browser"``.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return text
    head = re.match(r"^(\d{3})[ -]?(?:([245]\.\d{1,3}\.\d{1,3})\s+)?", lines[0])
    prefix = " ".join(g for g in (head.groups() if head else ()) if g)
    words = [
        re.sub(r"^\d{3}[ -]?(?:[245]\.\d{1,3}\.\d{1,3}\s+)?", "", ln).strip() for ln in lines
    ]
    return " ".join(p for p in [prefix, *words] if p)


def is_garbage(protocol: str, answer: str) -> bool:
    """True when the answer is not the protocol at all (HTTP, TLS bytes, the other protocol…)."""
    lines = [ln for ln in answer.splitlines() if ln.strip()]
    if not lines:
        return False
    pattern = _SMTP_LINE if protocol == "smtp" else _IMAP_LINE
    return any(not pattern.match(ln) for ln in lines)


# --- exceptions ----------------------------------------------------------------------------------

_NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EHOSTUNREACH", "ENETUNREACH",
                 "ENETDOWN", "EHOSTDOWN", "EADDRNOTAVAIL", "EPIPE", "ENETRESET", "ENOTCONN")
    if hasattr(errno, name)
)
_CLOSED_WORDS = re.compile(
    r"\bEOF\b|connection (?:unexpectedly )?closed|closed by (?:the )?(?:remote|server|peer)|"
    r"server not connected|disconnected",
    re.IGNORECASE,
)


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then its causes/contexts (libraries wrap socket errors in their own)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify_exception(exc: BaseException, phase: str | None = None) -> str | None:
    """A reason from the exception alone when it is about reaching the server, else None.

    timeout: any timeout however worded (socket.timeout, ``TimeoutError``, smtplib's
    "Connection unexpectedly closed: timed out", imaplib's "socket error: timed out").
    tls_error: certificate verification, handshake failures, wrong protocol version.
    network: refused, reset, DNS failure, unreachable host or network.
    server_unavailable: the server closed the TLS session without a word after the handshake.
    """
    chain = list(exception_chain(exc))
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            return "tls_error"
        if isinstance(e, TimeoutError):
            return "timeout"
        if isinstance(e, ssl.SSLError):
            if isinstance(e, ssl.SSLEOFError | ssl.SSLZeroReturnError) and phase not in (
                None, "connect", "tls"
            ):
                return "server_unavailable"
            return "tls_error"
        if isinstance(e, socket.gaierror | socket.herror):
            return "network"
        if isinstance(e, ConnectionError):  # refused, reset, aborted, broken pipe
            return "network"
        if isinstance(e, OSError) and e.errno in _NETWORK_ERRNOS:
            return "network"
        if isinstance(e, OSError) and e.errno == getattr(errno, "ETIMEDOUT", -1):
            return "timeout"
    for e in chain:
        # Library wrappers of a socket timeout ("Connection unexpectedly closed: timed out",
        # "socket error: timed out"); never a server's own words (those carry a reply code).
        wrapped = (isinstance(e, OSError) and not hasattr(e, "smtp_code")) or str(e).startswith(
            "socket error"
        )
        if wrapped and re.search(r"\btimed? ?out\b", str(e), re.IGNORECASE):
            return "timeout"
    return None


def is_connection_closed(exc: BaseException) -> bool:
    """True when the library says the server closed the connection (EOF) without an answer."""
    return any(
        type(e).__name__ == "SMTPServerDisconnected" or bool(_CLOSED_WORDS.search(str(e)))
        for e in exception_chain(exc)
    )


# --- IMAP ----------------------------------------------------------------------------------------


def _imap_status(text: str) -> str | None:
    """The decisive status word of an IMAP answer: a NO/BAD/BYE if any, else the last one."""
    statuses = [m.group(1).upper() for ln in text.splitlines() if (m := _IMAP_STATUS.match(ln))]
    for bad in ("BYE", "NO", "BAD"):
        if bad in statuses:
            return bad
    if statuses:
        return statuses[-1]
    m = re.match(r"^(OK|NO|BAD|BYE|PREAUTH)\b", text.strip(), re.IGNORECASE)
    return m.group(1).upper() if m else None


def classify_imap(phase: str, text: str, *, oauth: bool = False) -> Classification:
    """Classify an IMAP server's answer to the step that failed.

    ``phase``: greeting, tls (STARTTLS), auth (LOGIN/AUTHENTICATE) or select; ``text``: the server's
    lines (tags may be present or stripped).
    """
    if is_garbage("imap", text):
        return _result("request_invalid")
    codes = set(imap_response_codes(text))
    status = _imap_status(text)

    if phase in ("connect", "greeting", "tls"):
        # Nothing said before signing in (greeting, STARTTLS) is about the account.
        if RATE_LIMITED.search(text) or "LIMIT" in codes:
            return _result("rate_limited")
        if status in ("OK", "PREAUTH") or status is None:
            return _result("request_invalid")  # an answer the client could not use
        if phase == "tls" and status != "BYE" and "UNAVAILABLE" not in codes:
            return _result("tls_error")  # STARTTLS refused
        return _result("server_unavailable")  # BYE / NO at greeting, [UNAVAILABLE]

    if status in ("OK", "PREAUTH") or status is None:
        # The server said OK but the exchange still failed (no CAPABILITY, odd sequence).
        return _result("request_invalid")

    reason: str
    if WEB_LOGIN.search(text) or "WEBALERT" in codes:
        reason = "web_login_required"
    elif APP_PASSWORD.search(text):
        reason = "app_password_required"
    elif AUTH_METHOD_DISABLED.search(text):
        reason = "auth_method_disabled"
    elif RATE_LIMITED.search(text) or "LIMIT" in codes:
        reason = "rate_limited"
    elif "OVERQUOTA" in codes or MAILBOX_FULL.search(text):
        reason = "mailbox_full"
    elif "PRIVACYREQUIRED" in codes or TLS_REQUIRED.search(text):
        reason = "tls_error"
    elif "CONTACTADMIN" in codes or ACCOUNT_DISABLED.search(text):
        reason = "account_disabled"
    elif "UNAVAILABLE" in codes or status == "BYE" or TEMPORARY.search(text):
        reason = "server_unavailable"
    elif phase == "select":
        # Signed in, but the inbox cannot be opened ([SERVERBUG], [NONEXISTENT], BAD…).
        reason = "sync_error"
    elif "SERVERBUG" in codes:
        reason = "server_unavailable"
    elif codes & {"AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED"}:
        reason = "invalid_credentials"
    elif status == "BAD":
        reason = "request_invalid"  # protocol error, not a verdict on the credentials
    else:
        reason = "invalid_credentials"  # a plain NO to LOGIN/AUTHENTICATE
    return _oauth_adjusted(reason, oauth)


# --- SMTP ----------------------------------------------------------------------------------------


def classify_smtp(
    phase: str, code: int | None, text: str, *, oauth: bool = False
) -> Classification:
    """Classify an SMTP server's reply to the step that failed.

    ``phase``: greeting, ehlo, tls (STARTTLS), auth or noop; ``code``: the reply code (None or -1
    when the line had none, which smtplib reports as -1); ``text``: the reply lines.
    """
    if code is None:
        code = smtp_reply_code(text)
    if code is None or code < 200 or code > 599 or is_garbage("smtp", text):
        return _result("request_invalid")
    enhanced = smtp_enhanced_code(text) or ""
    text = flatten_smtp(text)  # phrases are often split over continuation lines

    if phase in ("connect", "greeting"):
        # Nothing said in a greeting is about the account.
        if RATE_LIMITED.search(text):
            return _result("rate_limited")
        if 200 <= code < 400:
            return _result("request_invalid")  # not a 220 greeting
        return _result("server_unavailable")  # 421/554 at greeting: no service for us now
    if phase == "tls":
        # The answer to STARTTLS: still nothing about the account.
        if TLS_REQUIRED.search(text):
            return _result("tls_error")  # e.g. 421 4.7.66 TLS 1.0 and 1.1 are not supported
        if RATE_LIMITED.search(text):
            return _result("rate_limited")
        if 400 <= code < 500:
            return _result("server_unavailable")  # 454 4.7.0 TLS not available (temporary)
        if 200 <= code < 400:
            return _result("request_invalid")
        return _result("tls_error")  # STARTTLS refused

    reason: str
    if TLS_REQUIRED.search(text) or enhanced == "5.7.11" or code == 538:
        reason = "tls_error"
    elif WEB_LOGIN.search(text) or enhanced == "5.7.14":
        reason = "web_login_required"
    elif APP_PASSWORD.search(text):
        reason = "app_password_required"
    elif enhanced == "5.7.139":
        if _MS_BAD_CREDENTIALS.search(text):
            reason = "invalid_credentials"
        elif ACCOUNT_DISABLED.search(text) and not AUTH_METHOD_DISABLED.search(text):
            reason = "account_disabled"
        else:
            reason = "auth_method_disabled"
    elif AUTH_METHOD_DISABLED.search(text) or enhanced == "5.7.30":
        reason = "auth_method_disabled"
    elif RATE_LIMITED.search(text):
        reason = "rate_limited"
    elif code == 552 or enhanced in ("5.2.2", "4.2.2") or MAILBOX_FULL.search(text):
        reason = "mailbox_full"
    elif enhanced in ("5.7.13", "4.7.13") or ACCOUNT_DISABLED.search(text):
        reason = "account_disabled"
    elif 400 <= code < 500:
        reason = "server_unavailable"  # 421, 451, 454 temporary failures…
    elif 200 <= code < 400:
        reason = "request_invalid"  # a success code where the step expected another one
    elif phase == "auth":
        if code == 534 and enhanced == "5.7.9" and not NO_AUTH_MECHANISM.search(text):
            reason = "app_password_required"  # Gmail's wording of 534 5.7.9
        elif NO_AUTH_MECHANISM.search(text) or code in (500, 501, 502, 504) \
                or enhanced.startswith("5.5.") or enhanced == "5.7.4":
            reason = "request_invalid"  # the AUTH command itself was not understood
        else:
            reason = "invalid_credentials"  # 535 5.7.8, 535 5.7.3, 535 5.7.0, any other 5xx
    else:
        reason = "request_invalid"  # EHLO/NOOP refused with 5xx
    return _oauth_adjusted(reason, oauth)


def _oauth_adjusted(reason: str, oauth: bool) -> Classification:
    if oauth and reason == "invalid_credentials":
        reason = "token_expired"
    return _result(reason)


# --- everything together -------------------------------------------------------------------------


def classify_failure(
    protocol: str,
    phase: str,
    *,
    exc: BaseException | None = None,
    answer: str = "",
    code: int | None = None,
    oauth: bool = False,
) -> Classification:
    """Classify a failed probe step from all the evidence.

    ``answer`` is what the server said in reply to the failing step (possibly a partial line);
    ``exc`` what the library raised; ``code`` the SMTP reply code when known.
    """
    if exc is not None:
        reason = classify_exception(exc, phase)
        if reason is not None:
            if reason == "timeout" and answer.strip() and is_garbage(protocol, answer):
                # Something that is not the protocol, then silence.
                return _result("request_invalid")
            return _result(reason)
    if answer.strip():
        if protocol == "smtp":
            return classify_smtp(phase, code, answer, oauth=oauth)
        return classify_imap(phase, answer, oauth=oauth)
    if exc is not None and is_connection_closed(exc):
        return _result("server_unavailable")  # closed without a word (before or after the greeting)
    return _result("request_invalid")

