"""The loopback mail servers themselves, proven with plain imapclient and smtplib.

If these fail, every integration test built on the ``dovecot`` / ``smtp_sink`` fixtures is suspect.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from tests.servers import dovecot as dovecot_module
from tests.servers.certs import TestPKI
from tests.servers.dovecot import Dovecot, DovecotError, DovecotNotInstalled, MailUser
from tests.servers.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

# A failed login must come back at once. Dovecot's own delays are 0.5 s (auth failure flush
# timer) and 2 s and more (failure delay, anvil penalty): stay well below the smallest.
FAST_FAILURE_SECONDS = 0.25

# OpenSSL verify codes
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
X509_V_ERR_CERT_HAS_EXPIRED = 10


def make_message(sender: str, recipient: str, subject: str = "Hello") -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="example.test")
    message.set_content(f"{subject}\n\nSent by the fixture test.\n")
    return message


def timed(call: Callable[..., object], *args: object) -> tuple[float, BaseException | None]:
    """How long ``call(*args)`` took, and what it raised."""
    start = time.perf_counter()
    try:
        call(*args)
    except Exception as error:
        return time.perf_counter() - start, error
    return time.perf_counter() - start, None


# --------------------------------------------------------------------------- IMAP logins


def test_plain_login(dovecot: Dovecot, dovecot_user: MailUser) -> None:
    with IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=5) as client:
        client.login(dovecot_user.email, dovecot_user.password)
        folders = {name for _flags, _sep, name in client.list_folders()}
        assert {"INBOX", "Sent", "Drafts", "Trash", "Junk"} <= folders
        client.logout()


def test_starttls_login(dovecot: Dovecot, dovecot_user: MailUser, test_pki: TestPKI) -> None:
    with IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=5) as client:
        assert b"STARTTLS" in client.capabilities()
        client.starttls(test_pki.client_context())
        client.login(dovecot_user.email, dovecot_user.password)
        client.logout()


def test_imaps_login(dovecot: Dovecot, dovecot_user: MailUser, test_pki: TestPKI) -> None:
    with IMAPClient(
        dovecot.host,
        port=dovecot.imaps_port,
        ssl=True,
        ssl_context=test_pki.client_context(),
        timeout=5,
    ) as client:
        client.login(dovecot_user.email, dovecot_user.password)
        client.logout()


def test_imaps_by_hostname_localhost(
    dovecot: Dovecot, dovecot_user: MailUser, test_pki: TestPKI
) -> None:
    """The certificate also names DNS:localhost (hostname checking stays on)."""
    with IMAPClient(
        "localhost",
        port=dovecot.imaps_port,
        ssl=True,
        ssl_context=test_pki.client_context(),
        timeout=5,
    ) as client:
        client.login(dovecot_user.email, dovecot_user.password)
        client.logout()


def test_wrong_password_is_refused_at_once(dovecot: Dovecot, dovecot_user: MailUser) -> None:
    # Several in a row: a penalty would grow with each failure.
    for user in [dovecot_user.email] * 3 + ["nobody-here@example.test"]:
        client = dovecot.imap()
        elapsed, error = timed(client.login, user, "wrong")
        client.shutdown()
        assert isinstance(error, LoginError)
        assert "AUTHENTICATIONFAILED" in str(error)
        assert elapsed < FAST_FAILURE_SECONDS, f"failed login took {elapsed:.3f} s"

    with dovecot.imap() as client:  # and the right password still works straight after
        elapsed, error = timed(client.login, dovecot_user.email, dovecot_user.password)
        assert error is None
        assert elapsed < FAST_FAILURE_SECONDS
        client.logout()


def test_password_change_takes_effect(dovecot: Dovecot, dovecot_user: MailUser) -> None:
    with dovecot.imap() as client:
        client.login(dovecot_user.email, dovecot_user.password)
        client.logout()

    new = dovecot.set_password(dovecot_user.email, "changed-" + secrets.token_hex(4))

    with dovecot.imap() as client, pytest.raises(LoginError):
        client.login(dovecot_user.email, dovecot_user.password)
    with dovecot.imap() as client:
        client.login(new.email, new.password)
        client.logout()


def test_removed_user_is_refused(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    with dovecot.imap() as client:
        client.login(user.email, user.password)
        client.logout()
    dovecot.remove_user(user.email)
    with dovecot.imap() as client, pytest.raises(LoginError):
        client.login(user.email, user.password)


def test_users_are_unique_per_test(dovecot_user: MailUser, dovecot: Dovecot) -> None:
    other = dovecot.new_user()
    assert other.email != dovecot_user.email
    assert dovecot.password(other.email) == other.password


# --------------------------------------------------------------------------- submission


def test_submission_starttls_auth_relays_to_sink(
    dovecot: Dovecot, dovecot_user: MailUser, smtp_sink: SmtpSink, test_pki: TestPKI
) -> None:
    message = make_message(dovecot_user.email, "lead@customer.test", "Intro")
    with smtplib.SMTP(dovecot.host, dovecot.submission_port, timeout=5) as smtp:
        smtp.starttls(context=test_pki.client_context())
        smtp.login(dovecot_user.email, dovecot_user.password)
        smtp.send_message(message)

    [received] = smtp_sink.wait_for(1, timeout=5)
    assert received.mail_from == dovecot_user.email
    assert received.rcpt_tos == ("lead@customer.test",)
    assert received.message_id == message["Message-ID"]
    assert received.parsed()["Subject"] == "Intro"
    assert b"Sent by the fixture test." in received.raw


def test_submissions_implicit_tls_auth(
    dovecot: Dovecot, dovecot_user: MailUser, smtp_sink: SmtpSink, test_pki: TestPKI
) -> None:
    message = make_message(dovecot_user.email, "other@customer.test", "Over SMTPS")
    with smtplib.SMTP_SSL(
        dovecot.host, dovecot.submissions_port, context=test_pki.client_context(), timeout=5
    ) as smtp:
        smtp.login(dovecot_user.email, dovecot_user.password)
        smtp.send_message(message)
    [received] = smtp_sink.wait_for(1, timeout=5)
    assert received.message_id == message["Message-ID"]


def test_submission_wrong_password_is_refused_at_once(
    dovecot: Dovecot, dovecot_user: MailUser
) -> None:
    with dovecot.smtp() as smtp:
        # smtplib tries each offered mechanism (PLAIN, then LOGIN): two failures in a row.
        elapsed, error = timed(smtp.login, dovecot_user.email, "wrong")
    assert isinstance(error, smtplib.SMTPAuthenticationError)
    assert error.smtp_code == 535
    assert elapsed < 2 * FAST_FAILURE_SECONDS, f"failed AUTH took {elapsed:.3f} s"


# --------------------------------------------------------------------------- certificates


def test_wrong_ca_fails_verification(dovecot: Dovecot, test_pki: TestPKI) -> None:
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        IMAPClient(
            dovecot.host,
            port=dovecot.imaps_port,
            ssl=True,
            ssl_context=test_pki.client_context(trust_wrong_ca=True),
            timeout=5,
        )
    assert caught.value.verify_code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY

    with (
        smtplib.SMTP(dovecot.host, dovecot.submission_port, timeout=5) as smtp,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        smtp.starttls(context=test_pki.client_context(trust_wrong_ca=True))


def test_expired_certificate_fails_verification(
    dovecot_expired: Dovecot, test_pki: TestPKI
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        IMAPClient(
            dovecot_expired.host,
            port=dovecot_expired.imaps_port,
            ssl=True,
            ssl_context=test_pki.client_context(),
            timeout=5,
        )
    assert caught.value.verify_code == X509_V_ERR_CERT_HAS_EXPIRED

    with (
        IMAPClient(
            dovecot_expired.host, port=dovecot_expired.imap_port, ssl=False, timeout=5
        ) as client,
        pytest.raises(ssl.SSLCertVerificationError) as caught,
    ):
        client.starttls(test_pki.client_context())
    assert caught.value.verify_code == X509_V_ERR_CERT_HAS_EXPIRED

    with (
        smtplib.SMTP(dovecot_expired.host, dovecot_expired.submission_port, timeout=5) as smtp,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        smtp.starttls(context=test_pki.client_context())


def test_soon_expiring_certificate_verifies_and_expires_in_five_days(
    dovecot_soon_expiring: Dovecot, test_pki: TestPKI
) -> None:
    user = dovecot_soon_expiring.new_user()
    with IMAPClient(
        dovecot_soon_expiring.host,
        port=dovecot_soon_expiring.imaps_port,
        ssl=True,
        ssl_context=test_pki.client_context(),
        timeout=5,
    ) as client:
        sock = client.socket()
        assert isinstance(sock, ssl.SSLSocket)
        cert = sock.getpeercert()
        assert cert is not None
        client.login(user.email, user.password)
        client.logout()
    remaining = ssl.cert_time_to_seconds(str(cert["notAfter"])) - time.time()
    assert 4 * 86400 < remaining <= 5 * 86400


# --------------------------------------------------------------------------- deliver()


def test_deliver_puts_message_in_inbox(dovecot: Dovecot, dovecot_user: MailUser) -> None:
    reply = make_message("lead@customer.test", dovecot_user.email, "Re: Intro")
    uid = dovecot.deliver(dovecot_user.email, reply.as_bytes())
    assert isinstance(uid, int)

    with dovecot.imap() as client:
        client.login(dovecot_user.email, dovecot_user.password)
        client.select_folder("INBOX", readonly=True)
        assert client.search(["HEADER", "Message-ID", reply["Message-ID"]]) == [uid]
        fetched = client.fetch([uid], ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]", "FLAGS"])[uid]
        assert b"Re: Intro" in fetched[b"BODY[HEADER.FIELDS (SUBJECT)]"]
        assert b"\\Seen" not in fetched[b"FLAGS"]
        client.logout()


# --------------------------------------------------------------------------- XOAUTH2


class TokenIntrospection:
    """A tiny OAuth 2 token introspection endpoint (RFC 7662, POST form ``token=...``) on
    loopback: tokens issued by :meth:`issue` are active for their user, anything else is not."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self.requests: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                token = form.get("token", [""])[0]
                endpoint.requests.append(token)
                email = endpoint._tokens.get(token)
                body = json.dumps(
                    {"active": True, "email": email} if email else {"active": False}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/introspect"

    def issue(self, email: str) -> str:
        token = "at-" + secrets.token_urlsafe(24)
        self._tokens[token] = email
        return token

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def introspection() -> Iterator[TokenIntrospection]:
    endpoint = TokenIntrospection()
    yield endpoint
    endpoint.close()


@pytest.fixture(scope="module")
def dovecot_oauth2(
    introspection: TokenIntrospection, test_pki: TestPKI, smtp_sink_server: SmtpSink
) -> Iterator[Dovecot]:
    with Dovecot(
        test_pki,
        relay_port=smtp_sink_server.port,
        oauth2_introspection_url=introspection.url,
    ) as server:
        yield server


def xoauth2(email: str, token: str) -> Callable[..., str]:
    def respond(challenge: bytes | None = None) -> str:
        # After a failure the server sends a JSON error as a challenge: answer it empty.
        return f"user={email}\x01auth=Bearer {token}\x01\x01" if challenge is None else ""

    return respond


def test_xoauth2_imap(dovecot_oauth2: Dovecot, introspection: TokenIntrospection) -> None:
    user = dovecot_oauth2.new_user()
    token = introspection.issue(user.email)
    with dovecot_oauth2.imap(ssl=True) as client:
        assert b"AUTH=XOAUTH2" in client.capabilities()
        client.oauth2_login(user.email, token)
        client.logout()
    with dovecot_oauth2.imap(ssl=True) as client:
        client.oauthbearer_login(user.email, token)
        client.logout()
    with dovecot_oauth2.imap() as client:  # password logins still work alongside
        client.login(user.email, user.password)
        client.logout()
    assert introspection.requests.count(token) == 2


def test_xoauth2_imap_refuses_unknown_token_at_once(
    dovecot_oauth2: Dovecot, introspection: TokenIntrospection
) -> None:
    user = dovecot_oauth2.new_user()
    other_users_token = introspection.issue("someone-else@example.test")
    for token in ("not-issued", other_users_token, user.password):
        client = dovecot_oauth2.imap()
        elapsed, error = timed(client.oauth2_login, user.email, token)
        client.shutdown()
        assert isinstance(error, LoginError), token
        assert elapsed < FAST_FAILURE_SECONDS


def test_xoauth2_submission(
    dovecot_oauth2: Dovecot, introspection: TokenIntrospection, smtp_sink: SmtpSink
) -> None:
    user = dovecot_oauth2.new_user()
    token = introspection.issue(user.email)
    message = make_message(user.email, "lead@customer.test", "Via XOAUTH2")
    with dovecot_oauth2.smtp() as smtp:
        assert "XOAUTH2" in smtp.esmtp_features["auth"].split()
        code, _ = smtp.auth("XOAUTH2", xoauth2(user.email, token))
        assert code == 235
        smtp.send_message(message)
    [received] = smtp_sink.wait_for(1, timeout=5)
    assert received.message_id == message["Message-ID"]

    with (
        dovecot_oauth2.smtp(implicit_tls=True) as smtp,
        pytest.raises(smtplib.SMTPAuthenticationError),
    ):
        smtp.auth("XOAUTH2", xoauth2(user.email, "not-issued"))


# --------------------------------------------------------------------------- the helper itself


def test_start_failure_raises_with_log_tail(test_pki: TestPKI) -> None:
    missing = Path(test_pki.directory) / "no-such-cert.pem"
    broken = dataclasses.replace(test_pki, server_cert=missing)
    server = Dovecot(broken)
    with pytest.raises(DovecotError, match=re.escape("no-such-cert.pem")):
        server.start()
    assert not server.running
    assert server.sink is None  # the sink it started for itself was stopped again


def test_missing_dovecot_names_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dovecot_module.shutil, "which", lambda *_args, **_kw: None)
    monkeypatch.setattr(dovecot_module, "_SBIN_CANDIDATES", ())
    with pytest.raises(
        DovecotNotInstalled, match="apt-get install dovecot-imapd dovecot-submissiond"
    ):
        Dovecot()


def test_fast_mode_serves_logins_side_by_side(test_pki: TestPKI) -> None:
    """The benchmarks' tuned Dovecot (login processes reused, authentication cache) signs in
    16 mailboxes at once over IMAP and submission, twice each (the second from the cache), and
    still refuses a wrong password."""
    context = test_pki.client_context()
    with SmtpSink() as sink, Dovecot(test_pki, relay_port=sink.port, fast=True) as server:
        users = [server.new_user() for _ in range(16)]

        def sign_in(user: MailUser) -> None:
            for _ in range(2):
                with server.imap() as imap:
                    imap.starttls(context)
                    imap.login(user.email, user.password)
                    imap.select_folder("INBOX", readonly=True)
                    imap.logout()
                with server.smtp() as smtp:
                    smtp.login(user.email, user.password)
                    assert smtp.noop()[0] == 250

        with ThreadPoolExecutor(len(users)) as pool:
            list(pool.map(sign_in, users, timeout=30))  # raises what a sign-in raised
        with server.imap() as imap, pytest.raises(LoginError):
            imap.login(users[0].email, "wrong")
        assert "service_count = 0" in server.config_path.read_text()
        assert server.log_errors() == []


def test_no_errors_logged(dovecot: Dovecot, dovecot_oauth2: Dovecot) -> None:
    """Runs last in this module: nothing above made Dovecot log an error."""
    assert dovecot.log_errors() == []
    assert dovecot_oauth2.log_errors() == []
