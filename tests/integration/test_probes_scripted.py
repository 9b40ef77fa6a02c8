"""Probes against the scripted misbehaving server (tests/servers/scripted.py) on loopback.

Each reason of spec §2 that a single sign-in can show, for IMAP and SMTP, with real provider
wording; silence, slowness, refused ports, drops, garbage and TLS trouble; and secrets never in the
result. Probe timeout 0.5 s so the whole module runs in a few seconds.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import time
from pathlib import Path

import pytest

from mailmonitor.logsetup import scrub_secrets
from mailmonitor.services.common.reasons import REASONS, SENDING_REASONS
from mailmonitor.services.monitoring.probes import (
    Credentials,
    Endpoint,
    ProbeResult,
    probe_imap,
    probe_smtp,
)
from tests.servers.scripted import CertPair, Script, ScriptedServer, free_port, make_cert

pytestmark = pytest.mark.integration

T = 0.5  # probe timeout per step, seconds
SLACK = 0.4  # scheduling allowance on top of T
USER = "rep@example.com"
PASSWORD = 'Sup3r"secret\\pw'  # a quote and a backslash: IMAP quotes and escapes them
TOKEN = "ya29.a0AfH6SMBsecretAccessToken"
PW = Credentials(password=PASSWORD)
OAUTH = Credentials(access_token=TOKEN)
GMAIL_XOAUTH2_ERROR = base64.b64encode(
    b'{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}'
).decode()


def _secret_forms() -> list[str]:
    forms = [PASSWORD, TOKEN]
    forms.append(PASSWORD.replace("\\", "\\\\").replace('"', '\\"'))  # IMAP quoted
    for raw in (PASSWORD, f"\0{USER}\0{PASSWORD}", f"user={USER}\1auth=Bearer {TOKEN}\1\1"):
        forms.append(base64.b64encode(raw.encode()).decode())
    return forms


SECRET_FORMS = _secret_forms()


def assert_no_secrets(result: ProbeResult) -> None:
    dumped = json.dumps(result.to_json()) + result.detail + (result.error or "") + repr(result)
    for secret in SECRET_FORMS:
        assert secret not in dumped, f"secret leaked: {secret!r} in {dumped!r}"


def run(
    protocol: str,
    script: Script,
    *,
    security: str = "plain",
    creds: Credentials = PW,
    ca: str | None = None,
    timeout: float = T,
) -> tuple[ProbeResult, ScriptedServer, float]:
    with ScriptedServer(script) as server:
        endpoint = Endpoint("127.0.0.1", server.port, security, USER, ca_file=ca, timeout=timeout)
        started = time.monotonic()
        probe = probe_imap if protocol == "imap" else probe_smtp
        result = probe(endpoint, creds)
        elapsed = time.monotonic() - started
    assert result.protocol == protocol
    assert_no_secrets(result)
    if protocol == "smtp":  # a probe never sends mail
        verbs = {line.split(" ")[0].upper() for line in server.received if line}
        assert not verbs & {"MAIL", "RCPT", "DATA", "BDAT"}, server.received
    return result, server, elapsed


def assert_failed(result: ProbeResult, reason: str, phase: str | None = None) -> None:
    assert not result.ok, result
    assert result.reason == reason, result.to_json()
    assert result.status == REASONS[reason].status.value
    assert result.error
    if phase is not None:
        assert result.error.startswith(f"{phase}:"), result.error


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> CertPair:
    return make_cert(tmp_path_factory.mktemp("cert"))


@pytest.fixture(scope="module")
def expired_cert(tmp_path_factory: pytest.TempPathFactory) -> CertPair:
    now = dt.datetime.now(dt.UTC)
    return make_cert(
        tmp_path_factory.mktemp("expired"),
        not_before=now - dt.timedelta(days=30),
        not_after=now - dt.timedelta(days=1),
    )


@pytest.fixture(scope="module")
def other_host_cert(tmp_path_factory: pytest.TempPathFactory) -> CertPair:
    return make_cert(tmp_path_factory.mktemp("other"), hostnames=("mail.other.example",), ips=())


# --- success -------------------------------------------------------------------------------------


def test_imap_plain_success_opens_inbox_read_only() -> None:
    result, server, _ = run("imap", Script("imap"))
    assert result.ok and result.status == "connected" and result.reason is None
    assert result.error is None
    assert "opened INBOX (2 messages)" in result.detail
    assert list(result.phases) == ["connect", "greeting", "auth", "select", "logout"]
    assert result.latency_ms >= 0 and result.cert_expires_at is None
    commands = [line.split(" ")[1] for line in server.received if " " in line]
    # The capabilities from the greeting's [CAPABILITY …] (no round trip to ask); EXAMINE: a
    # read-only SELECT.
    assert commands == ["LOGIN", "EXAMINE", "LOGOUT"]
    assert server.auth == [("LOGIN", f'{USER} "Sup3r\\"secret\\\\pw"')]


def test_imap_ssl_success_reports_certificate_expiry(cert: CertPair) -> None:
    result, _, _ = run("imap", Script("imap", tls="implicit", cert=cert), security="ssl",
                       ca=cert.ca_file)
    assert result.ok, result.to_json()
    assert list(result.phases)[:3] == ["connect", "tls", "greeting"]
    assert result.cert_expires_at == cert.not_after
    assert result.to_json()["cert_expires_at"] == cert.not_after.isoformat()


def test_imap_starttls_success(cert: CertPair) -> None:
    result, server, _ = run("imap", Script("imap", tls="starttls", cert=cert),
                            security="starttls", ca=cert.ca_file)
    assert result.ok, result.to_json()
    assert "tls" in result.phases and result.cert_expires_at == cert.not_after
    assert any(line.endswith(" STARTTLS") for line in server.received)


def test_imap_xoauth2_success_sends_the_standard_payload() -> None:
    result, server, _ = run("imap", Script("imap"), creds=OAUTH)
    assert result.ok, result.to_json()
    assert server.auth == [("XOAUTH2", f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01")]


def test_imap_preauth_greeting_skips_login() -> None:
    result, server, _ = run("imap", Script("imap", greeting="* PREAUTH [CAPABILITY IMAP4rev1] "
                                                             "Logged in as rep@example.com"))
    assert result.ok, result.to_json()
    assert not server.auth


def test_imap_non_ascii_password_uses_authenticate_plain() -> None:
    result, server, _ = run("imap", Script("imap"), creds=Credentials(password="pässwörd"))
    assert result.ok, result.to_json()
    assert server.auth == [("PLAIN", f"\x00{USER}\x00pässwörd")]


def test_imap_literal_in_an_answer_is_read_whole() -> None:
    """A literal ({n} then n bytes) inside an answer is read as data, not as lines: its bytes
    here look like a BYE, which would end the check."""
    literal = "* BYE y\n* NO z\n"  # the server sends each line with CRLF
    size = len(literal.replace("\n", "\r\n"))
    select = (f"* 3 EXISTS\n* 1 FETCH (BODY[] {{{size}}}\n{literal})\n"
              "OK [READ-ONLY] EXAMINE completed")
    result, _, _ = run("imap", Script("imap", select=select))
    assert result.ok, result.to_json()
    assert "opened INBOX (3 messages)" in result.detail


def test_imap_terse_answers_are_understood() -> None:
    """A greeting and a tagged answer with no text after their status word; a greeting that
    does not say the capabilities: they are asked for."""
    result, server, _ = run("imap", Script("imap", greeting="* OK", login="OK"))
    assert result.ok, result.to_json()
    commands = [line.split(" ")[1] for line in server.received if " " in line]
    assert commands == ["CAPABILITY", "LOGIN", "EXAMINE", "LOGOUT"]


def test_imap_bye_before_the_tagged_answer_ends_the_check_at_once() -> None:
    result, _, elapsed = run("imap", Script("imap", select="* BYE Server shutting down now"))
    assert_failed(result, "server_unavailable", "select")
    assert "Server shutting down now" in result.detail
    assert elapsed < T


def test_smtp_plain_success_never_sends_mail() -> None:
    result, server, _ = run("smtp", Script("smtp"))
    assert result.ok and result.status == "connected", result.to_json()
    assert list(result.phases) == ["connect", "greeting", "ehlo", "auth", "noop", "quit"]
    assert [line.split(" ")[0].upper() for line in server.received] == [
        "EHLO", "AUTH", "NOOP", "QUIT"]
    assert server.auth == [("PLAIN", f"\x00{USER}\x00{PASSWORD}")]


def test_smtp_login_mechanism_when_plain_is_not_offered() -> None:
    result, server, _ = run("smtp", Script("smtp", auth_mechanisms="LOGIN"))
    assert result.ok, result.to_json()
    assert server.auth == [("LOGIN", PASSWORD)]


def test_smtp_starttls_and_ssl_success(cert: CertPair) -> None:
    result, server, _ = run("smtp", Script("smtp", tls="starttls", cert=cert),
                            security="starttls", ca=cert.ca_file)
    assert result.ok, result.to_json()
    assert [line.split(" ")[0].upper() for line in server.received][:3] == [
        "EHLO", "STARTTLS", "EHLO"]
    assert result.cert_expires_at == cert.not_after
    result, _, _ = run("smtp", Script("smtp", tls="implicit", cert=cert), security="ssl",
                       ca=cert.ca_file)
    assert result.ok and result.cert_expires_at == cert.not_after


def test_smtp_xoauth2_success() -> None:
    result, server, _ = run("smtp", Script("smtp"), creds=OAUTH)
    assert result.ok, result.to_json()
    assert server.auth == [("XOAUTH2", f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01")]


def test_certificate_expiring_soon_still_connects(tmp_path: Path) -> None:
    soon = make_cert(tmp_path, not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=5))
    result, _, _ = run("imap", Script("imap", tls="implicit", cert=soon), security="ssl",
                       ca=soon.ca_file)
    assert result.ok and result.status == "connected"
    assert result.cert_expires_at is not None
    left = result.cert_expires_at - dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert dt.timedelta(days=4) < left <= dt.timedelta(days=5)


def test_implicit_tls_smtp_reports_the_certificate_expiry_exactly(tmp_path: Path) -> None:
    made = make_cert(tmp_path)
    result, _, _ = run("smtp", Script("smtp", tls="implicit", cert=made), security="ssl",
                       ca=made.ca_file)
    assert result.ok, result.to_json()
    assert result.cert_expires_at == made.not_after


def test_slow_answers_within_the_timeout_are_fine() -> None:
    result, _, _ = run("imap", Script("imap", delays={"greeting": 0.2, "login": 0.2}))
    assert result.ok, result.to_json()
    assert result.phases["auth"] >= 150


# --- every reason, with the providers' words ----------------------------------------------------

IMAP_REASONS = [
    # (reason, script keyword arguments, credentials, failing phase, words the detail keeps)
    ("invalid_credentials", {"login": "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"},
     PW, "auth", "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"),
    ("app_password_required", {"login": "NO [ALERT] Application-specific password required: "
                               "https://support.google.com/accounts/answer/185833 (Failure)"},
     PW, "auth", "Application-specific password required"),
    ("web_login_required", {"login": "NO LOGIN failed. Account is blocked. Login to your account "
                            "via a web browser to verify your identity."},
     PW, "auth", "via a web browser"),
    ("account_disabled", {"login": "NO [CONTACTADMIN] Account suspended, contact your "
                          "administrator"}, PW, "auth", "[CONTACTADMIN]"),
    ("auth_method_disabled", {"login": "NO [ALERT] Your account is not enabled for IMAP use. "
                              "Please visit your Gmail settings page and enable your account for "
                              "IMAP access. (Failure)"}, PW, "auth", "not enabled for IMAP use"),
    ("tls_error", {"login": "NO [PRIVACYREQUIRED] Plaintext authentication disallowed on "
                   "non-secure (SSL/TLS) connections."}, PW, "auth", "[PRIVACYREQUIRED]"),
    ("rate_limited", {"login": "NO [ALERT] Too many simultaneous connections. (Failure)"},
     PW, "auth", "Too many simultaneous connections"),
    ("rate_limited", {"login": "* BYE Maximum number of connections from user+IP exceeded "
                      "(mail_max_userip_connections=10)"}, PW, "auth", "Maximum number"),
    ("server_unavailable", {"login": "NO [UNAVAILABLE] Temporary authentication failure. "
                            "[mail:2026-05-01 10:00:00]"}, PW, "auth", "[UNAVAILABLE]"),
    ("mailbox_full", {"select": "NO [OVERQUOTA] Quota exceeded (mailbox for user is full)"},
     PW, "select", "[OVERQUOTA]"),
    ("sync_error", {"select": "NO [SERVERBUG] Internal error occurred. Refer to server log for "
                    "more information. [2026-05-01 10:00:00]"}, PW, "select", "[SERVERBUG]"),
    ("auth_method_disabled", {"select": "BAD User is authenticated but not connected."},
     OAUTH, "select", "authenticated but not connected"),
    ("request_invalid", {"login": "BAD Command syntax error"}, PW, "auth", "BAD Command syntax"),
    ("token_expired", {"login": "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)",
                       "auth_challenge": GMAIL_XOAUTH2_ERROR},
     OAUTH, "auth", '"status":"400"'),
]


@pytest.mark.parametrize(("reason", "script", "creds", "phase", "words"), IMAP_REASONS,
                         ids=[f"{c[0]}-{c[3]}" for c in IMAP_REASONS])
def test_imap_reasons(
    reason: str, script: dict[str, object], creds: Credentials, phase: str, words: str
) -> None:
    result, _, elapsed = run("imap", Script("imap", **script), creds=creds)  # type: ignore[arg-type]
    assert_failed(result, reason, phase)
    assert words in result.detail, result.detail
    assert elapsed < T  # an answer is classified at once, never waited out


SMTP_REASONS = [
    ("invalid_credentials", {"login": "535-5.7.8 Username and Password not accepted. For more "
                             "information, go to\n535 5.7.8  https://support.google.com/mail/"
                             "?p=BadCredentials d2sm4"}, PW, "auth",
     "535-5.7.8 Username and Password not accepted. For more information, go to\n"
     "535 5.7.8  https://support.google.com/mail/?p=BadCredentials d2sm4"),
    ("invalid_credentials", {"login": "535 5.7.3 Authentication unsuccessful "
                             "[SN4PR0601CA0002.namprd06.prod.outlook.com]"}, PW, "auth",
     "535 5.7.3 Authentication unsuccessful"),
    ("app_password_required", {"login": "534-5.7.9 Application-specific password required. For "
                               "more information, go to\n534 5.7.9  https://support.google.com/"
                               "mail/?p=InvalidSecondFactor x1"}, PW, "auth", "534-5.7.9"),
    ("web_login_required", {"login": "534-5.7.14 <https://accounts.google.com/signin/continue?"
                            "sarp=1&scc=1>\n534-5.7.14 Please log in via your web browser and\n"
                            "534-5.7.14 then try again.\n534 5.7.14  Learn more at https://"
                            "support.google.com/mail/answer/78754 d2sm4"}, PW, "auth",
     "Please log in via your web browser"),
    ("auth_method_disabled", {"login": "535 5.7.139 Authentication unsuccessful, "
                              "SmtpClientAuthentication is disabled for the Tenant. Visit "
                              "https://aka.ms/smtp_auth_disabled for more information."},
     PW, "auth", "SmtpClientAuthentication is disabled"),
    ("auth_method_disabled", {"login": "550 5.7.30 Basic authentication is not supported for "
                              "Client Submission."}, PW, "auth", "550 5.7.30"),
    ("account_disabled", {"login": "525 5.7.13 User Account Disabled"}, PW, "auth", "5.7.13"),
    ("tls_error", {"login": "530 5.7.0 Must issue a STARTTLS command first. d2sm4"}, PW, "auth",
     "Must issue a STARTTLS"),
    ("rate_limited", {"login": "454-4.7.0 Too many login attempts, please try again later. For "
                      "more information, go to\n454 4.7.0  https://support.google.com/mail/"
                      "answer/7126229 d2sm4"}, PW, "auth", "Too many login attempts"),
    ("rate_limited", {"login": "535 5.7.0 (#AUTH005) Too many bad auth attempts."}, PW, "auth",
     "#AUTH005"),
    ("server_unavailable", {"login": "454 4.7.0 Temporary authentication failure"}, PW, "auth",
     "454 4.7.0"),
    ("mailbox_full", {"noop": "552 5.2.2 Mailbox full: storage quota exceeded"}, PW, "noop",
     "552 5.2.2"),
    ("request_invalid", {"login": "504 5.5.4 Unrecognized authentication type"}, PW, "auth",
     "504 5.5.4"),
    ("token_expired", {"login": "535-5.7.8 Username and Password not accepted. For more "
                       "information, go to\n535 5.7.8  https://support.google.com/mail/"
                       "?p=BadCredentials", "auth_challenge": GMAIL_XOAUTH2_ERROR},
     OAUTH, "auth", '"status":"400"'),
    ("token_expired", {"login": "535 5.7.3 Authentication unsuccessful"}, OAUTH, "auth",
     "535 5.7.3"),
]


@pytest.mark.parametrize(("reason", "script", "creds", "phase", "words"), SMTP_REASONS,
                         ids=[f"{c[0]}-{c[4][:12]}" for c in SMTP_REASONS])
def test_smtp_reasons(
    reason: str, script: dict[str, object], creds: Credentials, phase: str, words: str
) -> None:
    result, _, elapsed = run("smtp", Script("smtp", **script), creds=creds)  # type: ignore[arg-type]
    assert_failed(result, reason, phase)
    assert words in result.detail, result.detail
    assert elapsed < T


def test_every_reason_a_probe_can_show_is_exercised() -> None:
    seen = {c[0] for c in IMAP_REASONS} | {c[0] for c in SMTP_REASONS}
    seen |= {"timeout", "network"}  # below
    # no_service_connection comes from the monitor (trouble lasting past the transient window);
    # the sending reasons from real sends (tests/unit/test_bounce_guard.py, test_send_blocked.py).
    assert set(REASONS) - seen - SENDING_REASONS == {"no_service_connection", "sending_limit"}


# --- silence, slowness, refused ports, drops, garbage ---------------------------------------------


@pytest.mark.parametrize("protocol", ["imap", "smtp"])
def test_silent_server_times_out(protocol: str) -> None:
    result, _, elapsed = run(protocol, Script(protocol, silent=True))  # type: ignore[arg-type]
    assert_failed(result, "timeout", "greeting")
    assert T - 0.05 <= elapsed < T + SLACK
    assert "within 0.5 s" in result.detail


def test_silent_server_times_out_in_the_tls_handshake(cert: CertPair) -> None:
    result, _, elapsed = run("imap", Script("imap", silent=True), security="ssl", ca=cert.ca_file)
    assert_failed(result, "timeout", "tls")
    assert elapsed < T + SLACK


@pytest.mark.parametrize("protocol", ["imap", "smtp"])
def test_slow_answer_beyond_the_timeout(protocol: str) -> None:
    script = Script(protocol, delays={"login": 2.0})  # type: ignore[arg-type]
    result, _, elapsed = run(protocol, script)
    assert_failed(result, "timeout", "auth")
    assert elapsed < T + SLACK


def test_slow_greeting_beyond_the_timeout() -> None:
    result, _, elapsed = run("smtp", Script("smtp", delays={"greeting": 2.0}))
    assert_failed(result, "timeout", "greeting")
    assert elapsed < T + SLACK


def test_answer_dripping_byte_by_byte_hits_the_step_deadline() -> None:
    # Every byte comes well within the socket timeout; the step as a whole does not.
    result, _, elapsed = run("imap", Script("imap", trickle={"greeting": 0.05}))
    assert_failed(result, "timeout", "greeting")
    assert elapsed < T + SLACK
    assert "Received so far: * OK" in result.detail


@pytest.mark.parametrize("probe", [probe_imap, probe_smtp])
def test_refused_port_is_network(probe: object) -> None:
    endpoint = Endpoint("127.0.0.1", free_port(), "plain", USER, timeout=T)
    result = probe(endpoint, PW)  # type: ignore[operator]
    assert_failed(result, "network", "connect")
    assert "refused" in result.detail.lower()


def test_imap_bye_at_greeting_is_server_unavailable() -> None:
    result, server, _ = run("imap", Script("imap", greeting="* BYE Server shutting down."))
    assert_failed(result, "server_unavailable", "greeting")
    assert result.detail == "* BYE Server shutting down."
    assert not server.auth  # never tried to sign in


def test_smtp_421_at_greeting_is_server_unavailable() -> None:
    greeting = "421-4.7.0 Try again later, closing connection. (EHLO)\n421 4.7.0 d2sm4"
    result, server, _ = run("smtp", Script("smtp", greeting=greeting))
    assert_failed(result, "server_unavailable", "greeting")
    assert "421-4.7.0 Try again later" in result.detail
    assert not server.auth


def test_busy_server_at_greeting_is_rate_limited_not_credentials() -> None:
    result, _, _ = run("imap", Script("imap", greeting="* BYE Too many connections from your IP"))
    assert_failed(result, "rate_limited", "greeting")


@pytest.mark.parametrize("protocol", ["imap", "smtp"])
def test_drop_after_greeting_is_server_unavailable(protocol: str) -> None:
    result, _, elapsed = run(protocol, Script(protocol, drop_after_greeting=True))  # type: ignore[arg-type]
    assert_failed(result, "server_unavailable")
    assert "closed the connection" in result.detail
    assert elapsed < T


@pytest.mark.parametrize(
    ("protocol", "garbage"),
    [
        ("imap", b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),  # a web server
        ("smtp", b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
        ("imap", b"220 smtp.example.com ESMTP Postfix\r\n"),  # SMTP on the IMAP port
        ("smtp", b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Dovecot ready.\r\n"),  # and the reverse
        ("imap", b"\x00\xff\xfe garbage \x01\x02\r\n"),
    ],
    ids=["imap-http", "smtp-http", "imap-smtp-banner", "smtp-imap-banner", "imap-binary"],
)
def test_garbage_is_request_invalid_at_once(protocol: str, garbage: bytes) -> None:
    result, server, elapsed = run(protocol, Script(protocol, garbage=garbage))  # type: ignore[arg-type]
    assert_failed(result, "request_invalid", "greeting")
    assert elapsed < T
    assert not server.auth


def test_garbage_without_a_line_end_then_silence_is_request_invalid() -> None:
    result, _, elapsed = run("imap", Script("imap", garbage=b"\x16\x03\x01\x02\x00garbage"))
    assert_failed(result, "request_invalid", "greeting")
    assert elapsed < T + SLACK
    assert result.detail == "\\x16\\x03\\x01\\x02\\x00garbage"  # verbatim, made printable


def test_hung_resolver_is_network_within_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def hung(host: str, *args: object, **kwargs: object) -> object:
        if host == "mail.example.test":
            time.sleep(3)
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", hung)
    started = time.monotonic()
    result = probe_smtp(Endpoint("mail.example.test", 587, "starttls", USER, timeout=T), PW)
    assert time.monotonic() - started < T + SLACK
    assert_failed(result, "network", "connect")
    assert "looking up mail.example.test took more than 0.5 s" in result.detail


def test_unknown_host_is_network_within_the_timeout() -> None:
    endpoint = Endpoint("no-such-host.invalid", 993, "ssl", USER, timeout=T)
    started = time.monotonic()
    result = probe_imap(endpoint, PW)
    assert time.monotonic() - started < T + SLACK  # a slow resolver is bounded too
    assert_failed(result, "network", "connect")


def test_garbage_then_close_is_request_invalid() -> None:
    script = Script("smtp", garbage=b"SSH-2.0-OpenSSH_9.6\r\n", close_after_garbage=True)
    result, _, _ = run("smtp", script)
    assert_failed(result, "request_invalid", "greeting")
    assert "SSH-2.0-OpenSSH_9.6" in result.detail


# --- TLS trouble ----------------------------------------------------------------------------------


def test_untrusted_certificate_is_tls_error(cert: CertPair) -> None:
    result, server, _ = run("imap", Script("imap", tls="implicit", cert=cert), security="ssl")
    assert_failed(result, "tls_error", "tls")
    assert "CERTIFICATE_VERIFY_FAILED" in result.detail
    assert not server.auth


def test_expired_certificate_is_tls_error(expired_cert: CertPair) -> None:
    result, _, _ = run("smtp", Script("smtp", tls="implicit", cert=expired_cert), security="ssl",
                       ca=expired_cert.ca_file)
    assert_failed(result, "tls_error", "tls")
    assert "expired" in result.detail


def test_certificate_for_another_host_is_tls_error(other_host_cert: CertPair) -> None:
    result, _, _ = run("imap", Script("imap", tls="starttls", cert=other_host_cert),
                       security="starttls", ca=other_host_cert.ca_file)
    assert_failed(result, "tls_error", "tls")
    assert "mismatch" in result.detail


@pytest.mark.parametrize("protocol", ["imap", "smtp"])
def test_tls_to_a_plain_server_is_tls_error(protocol: str, cert: CertPair) -> None:
    result, _, elapsed = run(protocol, Script(protocol), security="ssl", ca=cert.ca_file)  # type: ignore[arg-type]
    assert_failed(result, "tls_error", "tls")
    assert elapsed < T


@pytest.mark.parametrize("protocol", ["imap", "smtp"])
def test_starttls_not_offered_is_tls_error(protocol: str, cert: CertPair) -> None:
    result, server, _ = run(protocol, Script(protocol), security="starttls", ca=cert.ca_file)  # type: ignore[arg-type]
    assert_failed(result, "tls_error", "tls")
    assert "STARTTLS" in result.detail
    assert not server.auth  # the password never went out unencrypted


def test_missing_ca_file_is_tls_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    result, _, _ = run("imap", Script("imap"), security="ssl", ca=missing)
    assert_failed(result, "tls_error")
    assert "nope.pem" in result.detail


# --- what the server offers -----------------------------------------------------------------------


def test_smtp_auth_only_after_starttls_on_a_plain_connection_is_tls_error(cert: CertPair) -> None:
    script = Script("smtp", ehlo="250-scripted.test\n250-STARTTLS\n250 8BITMIME")
    result, server, _ = run("smtp", script)
    assert_failed(result, "tls_error", "auth")
    assert not server.auth


def test_smtp_without_auth_is_request_invalid() -> None:
    result, _, _ = run("smtp", Script("smtp", ehlo="250-scripted.test\n250 8BITMIME"))
    assert_failed(result, "request_invalid", "auth")
    assert "AUTH not supported" in result.detail


def test_smtp_no_usable_mechanism_is_request_invalid() -> None:
    result, _, _ = run("smtp", Script("smtp", auth_mechanisms="CRAM-MD5 GSSAPI"))
    assert_failed(result, "request_invalid", "auth")
    result, _, _ = run("smtp", Script("smtp", auth_mechanisms="PLAIN LOGIN"), creds=OAUTH)
    assert_failed(result, "request_invalid", "auth")
    assert "XOAUTH2" in result.detail


def test_imap_without_xoauth2_is_request_invalid() -> None:
    result, server, _ = run("imap", Script("imap", capabilities="IMAP4rev1 AUTH=PLAIN"),
                            creds=OAUTH)
    assert_failed(result, "request_invalid", "auth")
    assert not server.auth


def test_imap_login_disabled_on_plain_connection_is_tls_error() -> None:
    script = Script("imap", capabilities="IMAP4rev1 LOGINDISABLED")
    result, server, _ = run("imap", script)
    assert_failed(result, "tls_error", "auth")
    assert not server.auth


def test_missing_password_is_invalid_credentials() -> None:
    result, server, _ = run("imap", Script("imap"), creds=Credentials())
    assert_failed(result, "invalid_credentials", "auth")
    assert not server.auth


@pytest.mark.parametrize(
    ("endpoint", "words"),
    [
        (Endpoint("127.0.0.1", 993, "tls", USER), "Unknown security"),
        (Endpoint("127.0.0.1", 0, "ssl", USER), "Invalid server address"),
        (Endpoint("", 993, "ssl", USER), "Invalid server address"),
    ],
)
def test_bad_endpoints_become_results(endpoint: Endpoint, words: str) -> None:
    for probe in (probe_imap, probe_smtp):
        result = probe(endpoint, PW)
        assert_failed(result, "request_invalid")
        assert words in result.detail


# --- secrets --------------------------------------------------------------------------------------


def test_imap_secret_echoed_by_the_server_is_redacted() -> None:
    login = f"NO [AUTHENTICATIONFAILED] Rejected {{echo}} (password was {PASSWORD})"
    result, _, _ = run("imap", Script("imap", login=login))
    assert_failed(result, "invalid_credentials", "auth")
    assert "***" in result.detail and "Rejected" in result.detail


@pytest.mark.parametrize("mechanisms", ["PLAIN", "LOGIN"])
def test_smtp_secret_echoed_by_the_server_is_redacted(mechanisms: str) -> None:
    script = Script("smtp", auth_mechanisms=mechanisms,
                    login=f"535 5.7.8 Authentication failed for {{echo}} / {PASSWORD}")
    result, _, _ = run("smtp", script)
    assert_failed(result, "invalid_credentials", "auth")
    assert "***" in result.detail


@pytest.mark.parametrize("protocol", ["imap", "smtp"])
def test_token_echoed_by_the_server_is_redacted(protocol: str) -> None:
    answer = ("NO [AUTHENTICATIONFAILED] bad {echo} " + TOKEN if protocol == "imap"
              else "535 5.7.8 bad {echo} " + TOKEN)
    result, _, _ = run(protocol, Script(protocol, login=answer), creds=OAUTH)  # type: ignore[arg-type]
    assert_failed(result, "token_expired", "auth")
    assert "***" in result.detail


def test_credentials_repr_hides_secrets() -> None:
    shown = repr(Credentials(password=PASSWORD, access_token=TOKEN))
    assert PASSWORD not in shown and TOKEN not in shown


def test_redact_covers_quoted_escaped_and_base64_forms() -> None:
    quoted = PASSWORD.replace("\\", "\\\\").replace('"', '\\"')
    text = (f'LOGIN u "{quoted}" {base64.b64encode(PASSWORD.encode()).decode()} '
            f"{PASSWORD.encode()!r} {TOKEN}")
    cleaned = scrub_secrets(text, [PASSWORD, TOKEN, None, ""])
    for secret in SECRET_FORMS[:4]:
        assert secret not in cleaned
    assert cleaned.startswith("LOGIN u ")
    assert scrub_secrets("nothing to hide", [None, ""]) == "nothing to hide"


# --- shape ----------------------------------------------------------------------------------------


def test_to_json_is_plain_json() -> None:
    result, _, _ = run("smtp", Script("smtp", login="535 5.7.8 Authentication failed"))
    data = json.loads(json.dumps(result.to_json()))
    assert set(data) == {"protocol", "ok", "status", "reason", "detail", "latency_ms", "phases",
                         "cert_expires_at", "error"}
    assert data["ok"] is False and data["reason"] == "invalid_credentials"
    assert data["status"] == "disconnected" and isinstance(data["latency_ms"], int)
    assert all(isinstance(ms, float) for ms in data["phases"].values())



@pytest.mark.parametrize("protocol, step, line", [
    ("smtp", "ehlo", "250-scripted.test says hello again"),
    ("smtp", "greeting", "220-still greeting you"),
    ("imap", "login", "* OK still here " + "." * 200),
    ("imap", "select", "* FLAGS (" + "\\\\Seen " * 40 + ")"),
])
def test_a_reply_that_never_ends_is_cut_off_after_a_few_megabytes(
        protocol: str, step: str, line: str) -> None:
    from mailmonitor.services.monitoring.probes import MAX_BYTES_PER_CHECK

    # a generous time bound, so the byte bound is what ends it
    result, server, elapsed = run(protocol, Script(protocol, endless={step: line}),  # type: ignore[arg-type]
                                  timeout=20)
    assert_failed(result, "request_invalid")
    assert "The server sent more than 4 MB" in result.detail
    assert "stopped reading" in result.detail
    assert len(result.detail) <= 2000
    assert elapsed < 20  # bounded by bytes, before the time bound
    # what the server managed to push: the bound plus what sat in the sockets' buffers
    assert server.endless_bytes_sent < MAX_BYTES_PER_CHECK + 16_000_000


@pytest.mark.parametrize("offered, used", [
    ("CRAM-MD5 DIGEST-MD5 LOGIN PLAIN", "PLAIN"),
    ("CRAM-MD5 LOGIN", "LOGIN"),
    ("LOGIN PLAIN XOAUTH2", "PLAIN"),
])
def test_a_wrong_password_costs_the_server_one_failed_login_per_side(offered: str,
                                                                      used: str) -> None:
    # smtplib's login() would try each mechanism offered in turn: two or three failed logins
    # for one wrong password. The probe tries exactly one.
    result, server, _ = run("smtp", Script("smtp", auth_mechanisms=offered,
                                           login="535 5.7.8 Authentication failed"))
    assert_failed(result, "invalid_credentials", "auth")
    assert [mechanism for mechanism, _ in server.auth] == [used]
    assert sum(line.upper().startswith("AUTH") for line in server.received) == 1
    result, server, _ = run("imap", Script("imap", login="NO [AUTHENTICATIONFAILED] Invalid "
                                                         "credentials (Failure)"))
    assert_failed(result, "invalid_credentials", "auth")
    assert len(server.auth) == 1


def test_a_sign_in_the_login_budget_holds_back_is_never_sent() -> None:
    from mailmonitor.clock import FakeClock
    from mailmonitor.services.monitoring.login_budget import LoginBudget

    gate = LoginBudget(FakeClock()).for_mailbox(USER)
    refusals = {"smtp": "535 5.7.8 Authentication failed",
                "imap": "NO [AUTHENTICATIONFAILED] Invalid credentials"}
    for n, protocol in enumerate(("smtp", "imap", "smtp", "imap")):
        with ScriptedServer(Script(protocol, login=refusals[protocol])) as server:  # type: ignore[arg-type]
            probe = probe_smtp if protocol == "smtp" else probe_imap
            result = probe(Endpoint("127.0.0.1", server.port, "plain", USER, timeout=T,
                                    gate=gate), PW)
        if n < 3:  # three refusals: the budget of 127.0.0.1 is spent
            assert result.reason == "invalid_credentials" and len(server.auth) == 1
            continue
        assert result.held == "held back: 3 failed logins to 127.0.0.1 in 10 min"
        assert (result.ok, result.status, result.reason) == (False, "checking", None)
        assert server.auth == [] and result.to_json()["held"] == result.held
