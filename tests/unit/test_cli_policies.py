"""`mailmonitor policies [--json]` (a contract), the alert it feeds and `changes_for(account)` for
the mailbox's detail, in-process against a real SQLite file, on chosen days."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from mailmonitor import clock
from mailmonitor.cli.common import EXIT_FAILED, EXIT_OK
from mailmonitor.services.common import policies

Cli = Callable[..., tuple[int, str, str]]
KEYS = ["id", "provider", "title", "effective", "status", "mailboxes", "action", "source"]
BEFORE, AFTER = datetime(2026, 12, 7, 9, 0), datetime(2027, 1, 5, 9, 0)


@pytest.fixture
def on_day(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    def set_day(when: datetime) -> None:
        monkeypatch.setattr(clock, "utcnow", lambda: when)
    return set_day


def add(cli: Cli, email: str, *extra: str, password: str = "pw-123456") -> None:
    code, _, err = cli("accounts", "add", "--email", email, *extra, "--password-stdin",
                       stdin=password + "\n")
    assert code == EXIT_OK, err


def team(cli: Cli) -> None:
    # A Microsoft 365 mailbox with a password (the provider's hosts come from its preset) …
    add(cli, "ava@contoso.example", "--kind", "microsoft")
    # … and one on another provider.
    add(cli, "ben@fabrikam.example", "--imap-host", "mail.fabrikam.example", "--imap-port", "993",
        "--imap-security", "ssl", "--smtp-host", "mail.fabrikam.example", "--smtp-port", "465",
        "--smtp-security", "ssl")


def listed(cli: Cli) -> dict[str, dict[str, Any]]:
    code, out, err = cli("policies", "--json")
    assert code == EXIT_OK, err
    rows: list[dict[str, Any]] = json.loads(out)
    assert all(list(row) == KEYS for row in rows)  # exactly the contract's fields, in order
    return {row["id"]: row for row in rows}


def test_policies_json_before_and_after_microsofts_date(
        cli: Cli, on_day: Callable[[datetime], None]) -> None:
    on_day(BEFORE)
    team(cli)
    rows = listed(cli)
    assert rows["microsoft-smtp-basic-auth"] == {
        "id": "microsoft-smtp-basic-auth", "provider": "Microsoft 365 / Exchange Online",
        "title": "SMTP sign-in with a password is switched off", "effective": "2026-12-31",
        "status": "upcoming", "mailboxes": ["ava@contoso.example"], "action": "switch_sign_in",
        "source": "https://techcommunity.microsoft.com/blog/exchange/"
                  "exchange-online-to-retire-basic-auth-for-client-submission-smtp-auth/4114750"}
    assert rows["outlook-high-volume-senders"]["status"] == "in_effect"
    assert rows["outlook-high-volume-senders"]["mailboxes"] == []  # 50 a day is no bulk sender
    assert [r["effective"] for r in rows.values()] == sorted(r["effective"] for r in rows.values())

    on_day(AFTER)
    rows = listed(cli)
    assert rows["microsoft-smtp-basic-auth"]["status"] == "in_effect"
    assert rows["microsoft-smtp-basic-auth"]["mailboxes"] == ["ava@contoso.example"]


def test_the_alert_it_feeds_has_the_date_as_deadline_while_upcoming(
        cli: Cli, on_day: Callable[[datetime], None]) -> None:
    on_day(BEFORE)
    team(cli)
    _, out, _ = cli("alerts", "--json")
    [card] = [c for c in json.loads(out) if c["kind"] == "provider_change"]
    assert card["mailboxes"] == ["ava@contoso.example"]
    assert card["deadline"] == "2026-12-31T00:00:00+00:00"
    assert card["action"] == "switch_sign_in" and card["severity"] == "warning"
    on_day(AFTER)
    _, out, _ = cli("alerts", "--json")
    [card] = [c for c in json.loads(out) if c["kind"] == "provider_change"]
    assert card["deadline"] is None and "in effect since 31 December 2026" in card["title"]


def test_switching_to_oauth_or_removing_the_mailbox_ends_it(
        cli: Cli, on_day: Callable[[datetime], None]) -> None:
    on_day(AFTER)
    team(cli)
    assert cli("accounts", "remove", "ava@contoso.example")[0] == EXIT_OK
    assert listed(cli)["microsoft-smtp-basic-auth"]["mailboxes"] == []
    _, out, _ = cli("alerts", "--json")
    assert [c for c in json.loads(out) if c["kind"] == "provider_change"] == []


def test_a_domain_that_may_send_thousands_a_day_is_a_bulk_sender(
        cli: Cli, on_day: Callable[[datetime], None]) -> None:
    on_day(BEFORE)
    team(cli)
    add(cli, "cleo@fabrikam.example", "--imap-host", "mail.fabrikam.example", "--imap-port",
        "993", "--imap-security", "ssl", "--smtp-host", "mail.fabrikam.example", "--smtp-port",
        "465", "--smtp-security", "ssl", "--daily-limit", "4960")
    rows = listed(cli)  # ben's 50 and cleo's 4,960: the domain may send 5,010 a day
    for rule in ("outlook-high-volume-senders", "gmail-yahoo-bulk-senders"):
        assert rows[rule]["mailboxes"] == ["ben@fabrikam.example", "cleo@fabrikam.example"]
    assert rows["microsoft-tenant-recipient-limit"]["mailboxes"] == []


def test_the_text_says_what_to_do_for_the_mailboxes_it_hits(
        cli: Cli, on_day: Callable[[datetime], None]) -> None:
    on_day(BEFORE)
    team(cli)
    code, out, _ = cli("policies")
    assert code == EXIT_OK
    assert "Microsoft 365 / Exchange Online: SMTP sign-in with a password is switched off — " \
           "from 31 December 2026" in out
    assert "Hits 1 of your mailboxes: ava@contoso.example" in out
    assert "What to do: Switch the mailbox to Microsoft sign-in (OAuth)" in out


def test_a_damaged_list_is_one_clear_line(cli: Cli, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "policies.json"
    broken.write_text('{"format": 1, "version": "x", "changes": [{"id": "x"}]}')
    monkeypatch.setattr(policies, "SHIPPED", broken)
    policies.shipped.cache_clear()
    try:
        code, out, err = cli("policies", "--json")
        assert (code, out) == (EXIT_FAILED, "")
        assert err.strip().splitlines() == [
            f"mailmonitor: the list of provider changes cannot be read: {broken}: change 1 (x): "
            "'action' is missing"]
        assert cli("alerts", "--json")[0] == EXIT_OK  # the rest works without it
    finally:
        policies.shipped.cache_clear()


def test_changes_for_a_mailbox_is_what_its_detail_shows(db: Path) -> None:
    from mailmonitor.services.alerts.radar import changes_for
    from tests.factories import make_account

    ava = make_account("ava@contoso.example", kind="microsoft", auth_method="password",
                       imap_host="outlook.office365.com", smtp_host="smtp.office365.com")
    [hit] = changes_for(ava, date(2026, 12, 7))
    assert (hit.change.id, hit.status, hit.marked) == ("microsoft-smtp-basic-auth", "upcoming",
                                                       False)
    ava.status, ava.reason = "disconnected", "auth_method_disabled"
    ava.detail = "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled"
    [hit] = changes_for(ava, date(2027, 1, 5))
    assert (hit.status, hit.marked) == ("in_effect", True)
    oauth = make_account("cleo@contoso.example", kind="microsoft", auth_method="oauth2",
                         imap_host="outlook.office365.com", smtp_host="smtp.office365.com")
    assert changes_for(oauth, date(2026, 12, 7)) == []
