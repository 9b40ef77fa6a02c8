"""The real probes against a real Dovecot on loopback: every security mode, wrong password,
expired certificate, wrong CA, and a certificate about to expire (spec §2)."""

from __future__ import annotations

import pytest

from mailmonitor.models import Account
from mailmonitor.services.monitoring.account_state import record_check
from mailmonitor.services.monitoring.probes import Credentials, Endpoint, probe_imap, probe_smtp
from tests.attention_support import conditions
from tests.servers.certs import TestPKI
from tests.servers.dovecot import Dovecot, MailUser

pytestmark = pytest.mark.integration


def endpoints(server: Dovecot, user: MailUser, ca: str | None, mode: str
              ) -> tuple[Endpoint, Endpoint]:
    imap_port = server.imaps_port if mode == "ssl" else server.imap_port
    smtp_port = server.submissions_port if mode == "ssl" else server.submission_port
    smtp_mode = "starttls" if mode == "plain" else mode  # submission always offers STARTTLS
    return (Endpoint("127.0.0.1", imap_port, mode, user.email, ca, timeout=5),
            Endpoint("127.0.0.1", smtp_port, smtp_mode, user.email, ca, timeout=5))


@pytest.mark.parametrize("mode", ["plain", "starttls", "ssl"])
def test_good_login_in_every_security_mode(dovecot: Dovecot, dovecot_user: MailUser,
                                           test_pki: TestPKI, mode: str) -> None:
    imap_ep, smtp_ep = endpoints(dovecot, dovecot_user, str(test_pki.ca_cert), mode)
    creds = Credentials(password=dovecot_user.password)
    imap, smtp = probe_imap(imap_ep, creds), probe_smtp(smtp_ep, creds)
    assert (imap.ok, imap.status, imap.reason) == (True, "connected", None), imap.detail
    assert (smtp.ok, smtp.status, smtp.reason) == (True, "connected", None), smtp.detail
    assert {"connect", "auth"} <= set(imap.phases) and "select" in imap.phases
    if mode != "plain":
        assert imap.cert_expires_at is not None
    assert dovecot_user.password not in imap.detail + smtp.detail


@pytest.mark.parametrize("mode", ["plain", "starttls", "ssl"])
def test_wrong_password_is_invalid_credentials(dovecot: Dovecot, dovecot_user: MailUser,
                                               test_pki: TestPKI, mode: str) -> None:
    imap_ep, smtp_ep = endpoints(dovecot, dovecot_user, str(test_pki.ca_cert), mode)
    creds = Credentials(password="Wrong-Pa55word")
    imap, smtp = probe_imap(imap_ep, creds), probe_smtp(smtp_ep, creds)
    assert (imap.status, imap.reason) == ("disconnected", "invalid_credentials")
    assert (smtp.status, smtp.reason) == ("disconnected", "invalid_credentials")
    assert "AUTHENTICATIONFAILED" in imap.detail and "535" in smtp.detail
    assert "Wrong-Pa55word" not in imap.detail + smtp.detail + str(imap.to_json())


def test_expired_certificate_is_a_tls_error_not_a_password_problem(
        dovecot_expired: Dovecot, test_pki: TestPKI) -> None:
    user = dovecot_expired.new_user()
    imap_ep, smtp_ep = endpoints(dovecot_expired, user, str(test_pki.ca_cert), "ssl")
    creds = Credentials(password=user.password)
    imap, smtp = probe_imap(imap_ep, creds), probe_smtp(smtp_ep, creds)
    assert (imap.status, imap.reason) == ("disconnected", "tls_error")
    assert (smtp.status, smtp.reason) == ("disconnected", "tls_error")
    assert "expired" in imap.detail.lower()


def test_certificate_from_an_untrusted_ca_is_a_tls_error(
        dovecot: Dovecot, dovecot_user: MailUser, test_pki: TestPKI) -> None:
    imap_ep, smtp_ep = endpoints(dovecot, dovecot_user, str(test_pki.wrong_ca_cert), "starttls")
    creds = Credentials(password=dovecot_user.password)
    imap, smtp = probe_imap(imap_ep, creds), probe_smtp(smtp_ep, creds)
    assert (imap.reason, smtp.reason) == ("tls_error", "tls_error")
    assert "certificate verify failed" in imap.detail


def test_certificate_expiring_soon_warns_while_connected(
        db, clock, dovecot_soon_expiring: Dovecot, test_pki: TestPKI) -> None:
    from mailmonitor.clock import utcnow

    user = dovecot_soon_expiring.new_user()
    imap_ep, smtp_ep = endpoints(dovecot_soon_expiring, user, str(test_pki.ca_cert), "ssl")
    creds = Credentials(password=user.password)
    imap, smtp = probe_imap(imap_ep, creds), probe_smtp(smtp_ep, creds)
    account = Account.create(email=user.email, imap_host="127.0.0.1", smtp_host="127.0.0.1")
    now = utcnow()
    record_check(account, imap, smtp, now)
    account = Account.get_by_id(account.id)
    assert account.status == "connected"
    (alert,) = conditions(now)
    assert alert.kind == "certificate_expiring" and alert.severity == "warning"
    assert alert.title == \
        f"The certificate of 127.0.0.1 expires on {account.cert_expires_at:%Y-%m-%d}"
    assert alert.message.startswith(("In 4 days;", "In 5 days;"))
