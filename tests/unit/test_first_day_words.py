"""Words a rep reads on the first day (issue 23), without Qt: the SPF advice for a mail server
named by its address is valid SPF, and a test email that could not be sent says why in the
rep's words before the server's own."""

from __future__ import annotations

from typing import Any

from mailmonitor.services.deliverability import dns_auth
from mailmonitor.services.deliverability.dns_auth import spf_term
from mailmonitor.services.placement.round_trip import not_sent_words


def test_spf_advice_for_a_server_named_by_its_address_is_valid_spf(monkeypatch: Any) -> None:
    assert spf_term("smtp.northwind.example") == ("a:smtp.northwind.example", "")
    assert spf_term("93.184.216.34") == ("ip4:93.184.216.34", "")
    assert spf_term("2a00:1450:4001::1b")[0] == "ip6:2a00:1450:4001::1b"
    term, note = spf_term("127.0.0.1")
    assert term == "ip4:PUBLIC-ADDRESS" and "127.0.0.1" in note
    monkeypatch.setattr(dns_auth, "txt_records", lambda _resolver, _domain: [])
    finding = dns_auth.check_spf(None, "northwind.example", "other", "127.0.0.1")  # type: ignore[arg-type]
    assert "a:127.0.0.1" not in finding.fix
    assert '"v=spf1 ip4:PUBLIC-ADDRESS ~all"' in finding.fix


def test_a_test_email_that_could_not_be_sent_says_why_first() -> None:
    words = not_sent_words("535 5.7.8 Username and Password not accepted")
    assert words.startswith("The test email could not be sent: Invalid Credentials. ")
    assert "reconnect" in words.lower()
    assert words.endswith("The server said: 535 5.7.8 Username and Password not accepted")
    assert not_sent_words("") == "The test email could not be sent."
