"""Provider changes seen coming: the list shipped with the app, the loader that checks it, the pure
matcher (a table: before and after each date, each sign-in method, each volume), the answers that
mark a change and the advice that names it. No database, no network."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from mailmonitor.services.common import policies
from mailmonitor.services.common.policies import (
    IN_EFFECT,
    UPCOMING,
    Change,
    MailboxProfile,
    PolicyError,
    change_advice,
    hits,
    marked_by,
    parse,
    shipped,
)
from mailmonitor.services.common.reasons import REASONS, advice_for

SMTP_AUTH_OFF = "microsoft-smtp-basic-auth"
REFUSED_139 = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled "
               "for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.")
REFUSED_30 = "550 5.7.30 Basic authentication is not supported for Client Submission."


def change(ident: str) -> Change:
    return next(c for c in shipped().changes if c.id == ident)


def mailbox(kind: str = "imap", host: str = "mail.example.com", sign_in: str = "password",
            volume: int = 50, answer: str = "", email: str = "ava@northwind.example"
            ) -> MailboxProfile:
    imap_host = host.replace("smtp.", "imap.") if host.startswith("smtp.") else host
    return MailboxProfile(email=email, kind=kind, imap_host=imap_host, smtp_host=host,
                          sign_in=sign_in, daily_volume=volume, answer=answer)


# --- the shipped list ---------------------------------------------------------------------------

def test_the_shipped_list_loads_and_every_change_says_where_it_comes_from() -> None:
    radar = shipped()
    assert radar.version and len(radar.changes) >= 5
    for c in radar.changes:
        assert c.source.startswith("https://") and c.fix and c.what
        assert c.action in policies.ACTIONS
    assert {c.id for c in radar.changes} >= {
        SMTP_AUTH_OFF, "outlook-high-volume-senders", "gmail-yahoo-bulk-senders",
        "google-password-sign-in", "microsoft-tenant-recipient-limit"}


def test_the_dates_are_those_the_providers_announced() -> None:
    assert change(SMTP_AUTH_OFF).effective == date(2026, 12, 31)  # MC786329, end of Dec 2026
    assert change("outlook-high-volume-senders").effective == date(2025, 5, 5)
    assert change("gmail-yahoo-bulk-senders").effective == date(2024, 2, 1)
    assert change("microsoft-tenant-recipient-limit").effective == date(2025, 4, 1)
    assert change("microsoft-tenant-recipient-limit").hits.min_daily_volume == 10_000
    assert change("outlook-high-volume-senders").hits.min_daily_volume == 5_000


# --- a damaged list says what is wrong ----------------------------------------------------------

GOOD: dict[str, Any] = {
    "id": "acme-change", "provider": "Acme Mail", "title": "Passwords end",
    "what": "Acme ends passwords.", "effective": "2027-01-15",
    "hits": {"hosts": ["*.acme.example"], "sign_in": ["password"]},
    "markers": ["\\b5\\.7\\.99\\b"], "fix": "Sign in with Acme.", "action": "switch_sign_in",
    "source": "https://acme.example/news",
}


def document(*changes: dict[str, Any], **top: Any) -> str:
    body: dict[str, Any] = {"format": 1, "version": "2027-01-01", "changes": list(changes)}
    body.update(top)
    return json.dumps(body)


def with_(**fields: Any) -> dict[str, Any]:
    value = dict(GOOD)
    for name, new in fields.items():
        if new is None:
            value.pop(name)
        else:
            value[name] = new
    return value


def test_a_good_list_parses() -> None:
    radar = parse(document(GOOD), "test.json")
    [only] = radar.changes
    assert (only.id, only.effective, only.hits.hosts) == ("acme-change", date(2027, 1, 15),
                                                         ("*.acme.example",))


@pytest.mark.parametrize(("text", "says"), [
    ("{not json", "not valid JSON"),
    ("[]", "must be an object"),
    (document(GOOD, format=2), "format 2 is not one this mailmonitor reads"),
    (document(GOOD, version=""), "'version' must be a non-empty text"),
    (json.dumps({"format": 1, "version": "x", "changes": {}}), "'changes' must be a list"),
    (document(with_(id="Acme Change")), "'id' must be lower-case words"),
    (document(with_(title=None)), "change 1 (acme-change): 'title' is missing"),
    (document(with_(titel="x")), "unknown field 'titel'"),
    (document(with_(effective="2027-31-01")), "'effective' must be an ISO date"),
    (document(with_(effective="15 January 2027")), "'effective' must be an ISO date"),
    (document(with_(hits={"kinds": ["hotmail"]})), "'kinds' has 'hotmail'"),
    (document(with_(hits={"sign_in": ["magic"]})), "'sign_in' has 'magic'"),
    (document(with_(hits={"hosts": ["http://x/"]})), "'hosts' has 'http://x/'"),
    (document(with_(hits={"min_daily_volume": -5})), "'min_daily_volume' must be a whole number"),
    (document(with_(hits={"volume": 5})), "'hits' has an unknown field 'volume'"),
    (document(with_(markers=["5.7.(139"])), "not a regular expression"),
    (document(with_(action="panic")), "'action' is 'panic'"),
    (document(with_(source="http://acme.example/news")), "must be an https:// link"),
    (document(GOOD, GOOD), "the id 'acme-change' is used twice"),
])
def test_a_damaged_list_is_refused_with_the_field_named(text: str, says: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse(text, "policies.json")
    assert says in str(caught.value)
    assert str(caught.value).startswith("policies.json")


def test_a_damaged_shipped_file_stops_neither_the_advice_nor_the_alerts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
        ) -> None:
    broken = tmp_path / "policies.json"
    broken.write_text("{", encoding="utf-8")
    monkeypatch.setattr(policies, "SHIPPED", broken)
    policies.shipped.cache_clear()
    try:
        with pytest.raises(PolicyError, match="not valid JSON"):
            shipped()
        assert policies.known_changes() == ()
        assert advice_for("auth_method_disabled", REFUSED_139) == \
            REASONS["auth_method_disabled"].advice
        assert "the list of provider changes is not used" in caplog.text
    finally:
        policies.shipped.cache_clear()


# --- the matcher, as a table --------------------------------------------------------------------

BEFORE, ON, AFTER = date(2026, 12, 30), date(2026, 12, 31), date(2027, 2, 1)


@pytest.mark.parametrize(("profile", "today", "expected"), [
    # Microsoft 365 with a password or an app password: hit, upcoming until the date.
    (mailbox("microsoft", "smtp.office365.com", "password"), BEFORE, UPCOMING),
    (mailbox("microsoft", "smtp.office365.com", "password"), ON, IN_EFFECT),
    (mailbox("microsoft", "smtp.office365.com", "password"), AFTER, IN_EFFECT),
    (mailbox("microsoft", "smtp.office365.com", "app_password"), BEFORE, UPCOMING),
    (mailbox("microsoft", "smtp.office365.com", "app_password"), AFTER, IN_EFFECT),
    # … with Microsoft sign-in (OAuth): not hit, whatever the date.
    (mailbox("microsoft", "smtp.office365.com", "oauth2"), BEFORE, None),
    (mailbox("microsoft", "smtp.office365.com", "oauth2"), AFTER, None),
    # An "other provider" mailbox on Microsoft's hosts is Microsoft all the same.
    (mailbox("imap", "smtp.office365.com", "password"), AFTER, IN_EFFECT),
    (mailbox("imap", "outlook.office365.com", "password"), BEFORE, UPCOMING),
    # Another provider with a password: not hit.
    (mailbox("imap", "smtp.fastmail.com", "password"), AFTER, None),
    (mailbox("gmail", "smtp.gmail.com", "app_password"), AFTER, None),
    # The server already refuses with the change's marker: in effect for it, even before.
    (mailbox("imap", "mail.northwind.example", "password", answer=REFUSED_139), BEFORE,
     IN_EFFECT),
    (mailbox("imap", "mail.northwind.example", "password", answer=REFUSED_30), BEFORE,
     IN_EFFECT),
])
def test_who_microsofts_smtp_change_hits(profile: MailboxProfile, today: date,
                                         expected: str | None) -> None:
    assert hits(change(SMTP_AUTH_OFF), profile, today) == expected


@pytest.mark.parametrize(("volume", "sign_in", "expected"), [
    (4_999, "password", None),
    (5_000, "password", IN_EFFECT),
    (5_000, "app_password", IN_EFFECT),
    (5_000, "oauth2", IN_EFFECT),  # a volume rule hits any sign-in method …
    (120_000, "oauth2", IN_EFFECT),
    (0, "oauth2", None),
])
def test_outlooks_high_volume_rule_counts_the_domains_daily_volume(
        volume: int, sign_in: str, expected: str | None) -> None:
    # … and any provider: it is about mail sent *to* Outlook.com.
    for kind, host in (("gmail", "smtp.gmail.com"), ("imap", "smtp.northwind.example")):
        assert hits(change("outlook-high-volume-senders"),
                    mailbox(kind, host, sign_in, volume), date(2026, 12, 7)) == expected


@pytest.mark.parametrize(("today", "volume", "expected"), [
    (date(2025, 5, 4), 6_000, UPCOMING),
    (date(2025, 5, 5), 6_000, IN_EFFECT),
    (date(2025, 5, 4), 4_000, None),
    (date(2025, 5, 5), 4_000, None),
])
def test_a_volume_rule_before_and_after_its_date(today: date, volume: int,
                                                 expected: str | None) -> None:
    assert hits(change("outlook-high-volume-senders"), mailbox(volume=volume), today) == expected


@pytest.mark.parametrize(("kind", "host", "volume", "expected"), [
    ("microsoft", "smtp.office365.com", 9_999, None),
    ("microsoft", "smtp.office365.com", 10_000, IN_EFFECT),
    ("imap", "smtp.office365.com", 25_000, IN_EFFECT),
    ("imap", "smtp.northwind.example", 25_000, None),  # not a Microsoft tenant
])
def test_the_tenant_recipient_limit_needs_microsoft_and_the_volume(
        kind: str, host: str, volume: int, expected: str | None) -> None:
    assert hits(change("microsoft-tenant-recipient-limit"), mailbox(kind, host, "oauth2", volume),
                date(2026, 12, 7)) == expected


@pytest.mark.parametrize(("kind", "host", "sign_in", "expected"), [
    ("imap", "smtp.gmail.com", "password", IN_EFFECT),
    ("gmail", "smtp.gmail.com", "password", IN_EFFECT),
    ("gmail", "smtp.gmail.com", "app_password", None),
    ("gmail", "smtp.gmail.com", "oauth2", None),
    ("imap", "smtp.northwind.example", "password", None),
])
def test_googles_end_of_password_sign_in(kind: str, host: str, sign_in: str,
                                         expected: str | None) -> None:
    assert hits(change("google-password-sign-in"), mailbox(kind, host, sign_in),
                date(2026, 12, 7)) == expected


def test_host_patterns_and_kinds_are_either_or() -> None:
    rule = parse(document(with_(hits={"kinds": ["microsoft"], "hosts": ["*.acme.example"]}))
                 ).changes[0]
    today = date(2027, 2, 1)
    assert hits(rule, mailbox("imap", "smtp.acme.example"), today) == IN_EFFECT
    assert hits(rule, mailbox("microsoft", "smtp.other.example"), today) == IN_EFFECT
    assert hits(rule, mailbox("imap", "smtp.other.example"), today) is None
    assert hits(rule, mailbox("imap", "SMTP.ACME.EXAMPLE"), today) == IN_EFFECT


# --- the answers that mark a change, and the advice ---------------------------------------------

@pytest.mark.parametrize(("answer", "expected"), [
    (REFUSED_139, SMTP_AUTH_OFF),
    (REFUSED_30, SMTP_AUTH_OFF),
    ("535 5.7.300 something else", None),
    ("535 5.7.8 Username and Password not accepted", None),
    ("550 5.7.515 Access denied, sending domain northwind.example does not meet the required "
     "authentication level.", "outlook-high-volume-senders"),
    ("534-5.7.9 Application-specific password required. Learn more at ?p=InvalidSecondFactor",
     "google-password-sign-in"),
    ("550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail "
     "requires all senders to authenticate with either SPF or DKIM.", "gmail-yahoo-bulk-senders"),
    ("", None),
])
def test_the_answers_that_mark_a_change(answer: str, expected: str | None) -> None:
    found = marked_by(answer)
    assert (found.id if found else None) == expected


def test_the_advice_for_a_refused_sign_in_names_the_change_and_its_fix() -> None:
    words = advice_for("auth_method_disabled", REFUSED_139)
    assert words.startswith(REASONS["auth_method_disabled"].advice)
    assert "Microsoft 365 / Exchange Online — SMTP sign-in with a password is switched off " \
           "(from 31 December 2026)" in words
    assert "Switch the mailbox to Microsoft sign-in (OAuth)" in words
    assert advice_for("auth_method_disabled", "535 5.7.3 Authentication unsuccessful") == \
        REASONS["auth_method_disabled"].advice
    assert change_advice("") == ""


def test_matching_many_mailboxes_at_once_agrees_with_one_at_a_time() -> None:
    team = [mailbox(kind, host, sign_in, volume, answer, f"rep{n}@northwind.example")
            for n, (kind, host, sign_in, volume, answer) in enumerate([
                ("microsoft", "smtp.office365.com", "password", 50, ""),
                ("microsoft", "smtp.office365.com", "password", 50, ""),  # alike: matched once
                ("microsoft", "smtp.office365.com", "oauth2", 12_000, ""),
                ("imap", "smtp.gmail.com", "password", 6_000, ""),
                ("imap", "mail.northwind.example", "password", 50, REFUSED_139),
                ("gmail", "smtp.gmail.com", "app_password", 50, "")])]
    for c in shipped().changes:
        for today in (date(2024, 1, 1), date(2026, 12, 7), date(2027, 6, 1)):
            assert policies.hits_each(c, team, today) == [hits(c, m, today) for m in team]
