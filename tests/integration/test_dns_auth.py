"""SPF, DMARC and DKIM checks of sending domains against a DNS server on loopback
(tests/servers/dns_server.py) with good, missing and wrong records; never a public resolver.
The result is stored per domain, a missing record is a warning condition naming the domain's
mailboxes, fixing it resolves it at the daily re-check, and a silent DNS server says "unknown"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailmonitor.models import DomainAuth, set_setting
from mailmonitor.services.deliverability import dns_auth
from tests.attention_support import conditions
from tests.factories import make_account
from tests.servers.dns_server import DnsServer

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 9, 0)
GOOD_KEY = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "x" * 300


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer({
        # Google Workspace, all good
        "good.example": [("TXT", "v=spf1 include:_spf.google.com ~all"),
                         ("TXT", "google-site-verification=abc")],
        "_dmarc.good.example": [("TXT", "v=DMARC1; p=quarantine; rua=mailto:d@good.example")],
        "google._domainkey.good.example": [("TXT", GOOD_KEY)],
        # Microsoft 365: DKIM through the CNAMEs Microsoft asks for
        "ms.example": [("TXT", "v=spf1 include:spf.protection.outlook.com -all")],
        "_dmarc.ms.example": [("TXT", "v=DMARC1; p=reject")],
        "selector1._domainkey.ms.example": [
            ("CNAME", "selector1-ms-example._domainkey.contoso.onmicrosoft.com.")],
        "selector1-ms-example._domainkey.contoso.onmicrosoft.com": [("TXT", GOOD_KEY)],
        # nothing at all
        "bare.example": [("MX", "10 mx.bare.example.")],
        # wrong: SPF without the provider, two DMARC records, a revoked key
        "wrong.example": [("TXT", "v=spf1 include:mailgun.org ~all")],
        "_dmarc.wrong.example": [("TXT", "v=DMARC1; p=none"), ("TXT", "v=DMARC1; p=reject")],
        "google._domainkey.wrong.example": [("TXT", "v=DKIM1; p=")],
        # own IMAP/SMTP server; DMARC monitoring only; the rep's selector
        "own.example": [("TXT", "v=spf1 mx a:smtp.own.example -all")],
        "_dmarc.own.example": [("TXT", "v=DMARC1; p=none")],
        "mm2026._domainkey.own.example": [("TXT", GOOD_KEY)],
    }) as server:
        yield server


def by_name(report: dns_auth.DomainReport) -> dict[str, dns_auth.Finding]:
    return {f.name: f for f in report.findings}


def test_good_records_of_google_and_microsoft_domains(db: Path, dns: DnsServer) -> None:
    resolver = dns_auth.make_resolver(dns.address)
    google = make_account("ava@good.example", kind="gmail", smtp_host="smtp.gmail.com")
    report = dns_auth.check_account_domain(google, NOW, resolver)
    assert report.ok, report.findings
    assert by_name(report)["DMARC"].summary == "DMARC policy is quarantine."
    microsoft = make_account("bo@ms.example", kind="microsoft", smtp_host="smtp.office365.com")
    report = dns_auth.check_account_domain(microsoft, NOW, resolver)
    assert report.ok, report.findings
    assert by_name(report)["DKIM"].record == "selector1._domainkey.ms.example"
    assert conditions(NOW, "dns_problem") == []
    assert DomainAuth.get(DomainAuth.domain == "good.example").result["findings"][0]["status"] \
        == "ok"


def test_missing_records_say_what_to_add_and_raise_a_warning(db: Path, dns: DnsServer) -> None:
    account = make_account("cy@bare.example", kind="gmail", smtp_host="smtp.gmail.com")
    report = dns_auth.check_account_domain(account, NOW, dns_auth.make_resolver(dns.address))
    found = by_name(report)
    assert {f.status for f in report.findings} == {"missing"}
    assert '"v=spf1 include:_spf.google.com ~all"' in found["SPF"].fix
    assert "_dmarc.bare.example" in found["DMARC"].fix
    assert "google._domainkey.bare.example" in found["DKIM"].summary
    # Issue 25: one card per domain, naming its mailboxes (another one joins it).
    make_account("dan@bare.example", kind="gmail", smtp_host="smtp.gmail.com")
    [alert] = conditions(NOW, "dns_problem")
    assert (alert.kind, alert.severity, alert.action) == ("dns_problem", "warning", "check_dns")
    assert alert.mailboxes == ["cy@bare.example", "dan@bare.example"]
    assert alert.title == "bare.example: SPF and DMARC and DKIM are missing or wrong"
    assert '"v=spf1 include:_spf.google.com ~all"' in alert.message

    # The rep adds them; the daily re-check resolves the alert.
    dns.set("bare.example", [("TXT", "v=spf1 include:_spf.google.com ~all")])
    dns.set("_dmarc.bare.example", [("TXT", "v=DMARC1; p=reject")])
    dns.set("google._domainkey.bare.example", [("TXT", GOOD_KEY)])
    resolver = dns_auth.make_resolver(dns.address)
    assert dns_auth.check_due(NOW + timedelta(hours=2), resolver) == []  # checked today
    assert dns_auth.check_due(NOW + timedelta(hours=25), resolver) == ["bare.example"]
    assert conditions(NOW + timedelta(hours=25), "dns_problem") == []


def test_wrong_records_are_told_apart_from_missing_ones(db: Path, dns: DnsServer) -> None:
    account = make_account("di@wrong.example", kind="gmail", smtp_host="smtp.gmail.com")
    found = by_name(dns_auth.check_account_domain(account, NOW,
                                                  dns_auth.make_resolver(dns.address)))
    assert found["SPF"].status == "wrong" and "include:_spf.google.com" in found["SPF"].fix
    assert found["DMARC"].status == "wrong" and "2 DMARC records" in found["DMARC"].summary
    assert found["DKIM"].status == "wrong" and "revoked" in found["DKIM"].summary


def test_own_server_with_the_reps_selector_and_a_monitoring_dmarc(db: Path,
                                                                  dns: DnsServer) -> None:
    account = make_account("ed@own.example", smtp_host="smtp.own.example")
    resolver = dns_auth.make_resolver(dns.address)
    found = by_name(dns_auth.check_account_domain(account, NOW, resolver))
    assert found["SPF"].status == "ok"
    assert found["DMARC"].status == "warning" and "p=quarantine" in found["DMARC"].fix
    assert found["DKIM"].status == "warning"  # no known selector for this provider
    assert conditions(NOW, "dns_problem") == []  # warnings are shown, not alerted
    dns_auth.set_selector("own.example", "mm2026._domainkey")
    found = by_name(dns_auth.check_account_domain(account, NOW, resolver))
    assert found["DKIM"].status == "ok" and found["DKIM"].record == \
        "mm2026._domainkey.own.example"
    with pytest.raises(dns_auth.InvalidSelector):
        dns_auth.set_selector("own.example", "bad selector;")


def test_a_dns_server_that_does_not_answer_is_unknown_not_missing(db: Path,
                                                                   dns: DnsServer) -> None:
    account = make_account("fa@good.example", kind="gmail", smtp_host="smtp.gmail.com")
    dns.silent()
    report = dns_auth.check_account_domain(account, NOW,
                                           dns_auth.make_resolver(dns.address, lifetime=0.3))
    assert {f.status for f in report.findings} == {"unknown"}
    assert conditions(NOW, "dns_problem") == []


def test_the_resolver_address_comes_from_the_setting(db: Path, dns: DnsServer) -> None:
    set_setting("dns_resolver", dns.address)
    resolver = dns_auth.make_resolver()
    assert (resolver.nameservers, resolver.port) == (["127.0.0.1"], dns.port)
    account = make_account("ga@good.example", kind="gmail", smtp_host="smtp.gmail.com")
    assert dns_auth.check_due(NOW) == ["good.example"]
    assert ("good.example.", "TXT") in dns.queries
    assert DomainAuth.get(DomainAuth.domain == "good.example").checked_at == NOW
    assert account.email.endswith("good.example")


def test_reserved_test_domains_never_go_to_the_system_resolver(db: Path) -> None:
    make_account("demo@sales.example.test")
    make_account("other@acme.localhost")
    assert dns_auth.is_reserved("sales.example.test") and not dns_auth.is_reserved("acme.com")
    assert dns_auth.check_due(NOW) == []  # no resolver named: nothing is asked
