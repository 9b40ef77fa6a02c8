"""The deliverability settings (one-click unsubscribe URL, footer line, daily round trip): what
`services.deliverability.settings` accepts and refuses, `mailmonitor deliverability settings`,
and that what is saved is what the composer puts into a campaign email."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path

import pytest

from mailmonitor.models import Setting, get_setting, set_setting
from mailmonitor.services.deliverability import settings as svc
from mailmonitor.services.deliverability import unsubscribe
from mailmonitor.services.desktop.settings import save_settings
from mailmonitor.services.placement import daily
from mailmonitor.services.sending.composer import compose, ending_preview
from tests.factories import make_account, make_campaign, make_lead

NOW = datetime(2026, 12, 3, 9, 0)
URL = "https://unsub.sales.example/u/{token}"

Cli = Callable[..., tuple[int, str, str]]


def stored() -> dict[str, object]:
    return {row.key: row.value for row in Setting.select()}


# --- the service ------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    URL,
    "https://unsub.sales.example/?t={token}&list=q4",
    "https://unsub.sales.example:8443/{token}",
    "http://localhost:8080/u/{token}",
    "http://127.0.0.1/u/{token}",
    "http://[::1]/u/{token}",
])
def test_good_one_click_urls_are_kept_as_typed(url: str) -> None:
    assert svc.check_url(f"  {url} ") == url


@pytest.mark.parametrize("empty", ["", "   ", None])
def test_an_empty_url_means_the_mailto_link_only(empty: str | None) -> None:
    assert svc.check_url(empty) is None


@pytest.mark.parametrize(("url", "words"), [
    ("https://unsub.sales.example/u/", "must contain {token}"),
    ("http://unsub.sales.example/u/{token}", "must use https://"),
    ("http://192.168.1.5/u/{token}", "must use https://"),
    ("ftp://unsub.sales.example/{token}", "must start with https://"),
    ("unsub.sales.example/{token}", "must start with https://"),
    ("https:///u/{token}", "must start with https://"),
    ("javascript:alert(1)//{token}", "must start with https://"),
    ("https://unsub.sales.example/u/{token} x", "may not contain spaces"),
    ("https://unsub.sales.example/ü/{token}", "non-ASCII"),
    ("https://unsub.sales.example/u/{token}>,<https://evil.example/", "may not contain <"),
    ("https://unsub.sales.example/a,b/{token}", "may not contain <"),
    ("https://unsub.sales.example:99999/{token}", "not a valid web address"),
    ("https://{token}.sales.example/", "not in its host"),
    ("https://unsub.sales.example/" + "a" * 500 + "/{token}", "longer than 500"),
])
def test_bad_urls_are_refused_in_plain_words(url: str, words: str) -> None:
    with pytest.raises(svc.InvalidSetting) as caught:
        svc.check_url(url)
    assert caught.value.field == "unsubscribe_url"
    assert words in str(caught.value)


def test_the_footer_is_one_bounded_line_sent_as_written() -> None:
    assert svc.check_footer("  Not interested?\tReply   'unsubscribe'. ") == \
        "Not interested? Reply 'unsubscribe'."
    assert svc.check_footer("") == "" and svc.check_footer(None) == ""
    assert svc.check_footer("x" * svc.FOOTER_MAX) == "x" * svc.FOOTER_MAX
    for bad, words in (("line one\nline two", "one line"), ("a\r\nb", "one line"),
                       ("a\u2028b", "one line"), ("a\x00b", "control characters"),
                       ("x" * (svc.FOOTER_MAX + 1), "at most 300"),
                       ("Opt out: https://u.example/{token}", "{token} is only filled in"),
                       ("Bye {{first_name}}", "are not filled in")):
        with pytest.raises(svc.InvalidSetting) as caught:
            svc.check_footer(bad)
        assert caught.value.field == "unsubscribe_footer" and words in str(caught.value), bad


@pytest.mark.parametrize("good", [1, 120, 3600, "90", " 45 "])
def test_round_trip_timeouts_within_bounds(good: object) -> None:
    assert svc.check_timeout(good) == int(str(good))


@pytest.mark.parametrize("bad", [0, -5, 3601, "ten", "1.5", "", True, 10**12])
def test_round_trip_timeouts_out_of_bounds_are_refused(bad: object) -> None:
    with pytest.raises(svc.InvalidSetting, match="whole number of seconds from 1 to 3600"):
        svc.check_timeout(bad)


def test_save_stores_all_four_together_and_daily_reads_them(db: Path) -> None:
    assert svc.current() == svc.DeliverabilitySettings()  # the defaults
    saved = svc.save(svc.validate(URL, "Reply 'unsubscribe' to stop.", True, "90"))
    assert stored() == {"unsubscribe_url": URL, "unsubscribe_footer": "Reply 'unsubscribe' to "
                        "stop.", "round_trip_daily": True, "round_trip_timeout_seconds": 90}
    assert svc.current() == saved
    assert unsubscribe.config() == unsubscribe.Config(url=URL,
                                                      footer="Reply 'unsubscribe' to stop.")
    connected = make_account("rep@sales.example")
    assert daily.round_trips_due(NOW) == [connected]  # the daily round trip is on
    svc.save(svc.validate(round_trip_daily=False))
    assert daily.round_trips_due(NOW) == []
    assert get_setting("unsubscribe_url") == URL  # unchanged values stay


def test_a_bad_value_saves_nothing_not_even_the_good_ones(db: Path) -> None:
    set_setting("unsubscribe_footer", "Old footer")
    with pytest.raises(svc.InvalidSetting):
        svc.validate(unsubscribe_url=URL, unsubscribe_footer="New",
                     round_trip_timeout_seconds=0)
    with pytest.raises(svc.InvalidSetting, match="must contain"):  # a hand-made value
        svc.save(svc.DeliverabilitySettings(unsubscribe_url="https://x.example/",
                                            unsubscribe_footer="New"))
    with pytest.raises(svc.InvalidSetting):
        save_settings({"long_wait_days": 30}, deliverability=svc.DeliverabilitySettings(
            unsubscribe_footer="a\nb"))
    assert stored() == {"unsubscribe_footer": "Old footer"}


def test_the_previews_are_made_by_the_composers_own_functions() -> None:
    assert svc.one_click_preview(URL) == f"https://unsub.sales.example/u/{svc.SAMPLE_TOKEN}"
    assert svc.one_click_preview(None) == ""
    assert ending_preview("Reply  'unsubscribe'.", "Ava") == \
        "…the step's text…\n\n-- \nAva\n\nReply 'unsubscribe'."
    assert ending_preview("", "Ava") == "…the step's text…\n\n-- \nAva"


# --- what is saved is what the composer sends ---------------------------------------------------

def composed(account_email: str = "rep@sales.example") -> tuple[Message, str]:
    """One campaign email composed the way the sender does (settings read once, then compose)."""
    account = make_account(account_email)
    account.signature = "Ava Reyes"
    account.save()
    campaign = make_campaign(f"Q4 {account_email}", [account], steps=1)
    lead = make_lead(campaign, "ada@leads.example", account, fields={"first_name": "Ada"})
    data = compose(lead, campaign.steps.get(), account, NOW,
                   unsubscribe_config=unsubscribe.config()).data
    return message_from_bytes(data, policy=default), unsubscribe.token_for(lead)


def text_of(message: Message) -> str:
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    return body.decode().replace("\r\n", "\n")


def test_saved_url_and_footer_land_in_a_composed_campaign_email(db: Path, cli: Cli) -> None:
    code, _, err = cli("deliverability", "settings", "--unsubscribe-url", URL,
                         "--footer", "Not interested? Reply 'unsubscribe'.")
    assert code == 0, err
    message, token = composed()
    header = str(message["List-Unsubscribe"])
    assert header.startswith(f"<https://unsub.sales.example/u/{token}>, <mailto:")
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert text_of(message).endswith("-- \nAva Reyes\n\nNot interested? Reply "
                                     "'unsubscribe'.\n")
    # and back to the mailto link only, no footer
    code, _, err = cli("deliverability", "settings", "--no-unsubscribe-url", "--footer", "")
    assert code == 0, err
    message, _ = composed("rep2@sales.example")
    assert str(message["List-Unsubscribe"]).startswith("<mailto:rep2@sales.example?")
    assert message["List-Unsubscribe-Post"] is None
    assert text_of(message).endswith("-- \nAva Reyes\n")


# --- the command line ---------------------------------------------------------------------------

def test_the_command_prints_the_current_values_without_options(db: Path, cli: Cli) -> None:
    code, out, err = cli("deliverability", "settings")
    assert (code, err) == (0, "")
    assert "unsubscribe URL      none (leads unsubscribe by email)" in out
    assert "daily round trip     off" in out and "round-trip timeout   120 s" in out
    code, out, _ = cli("deliverability", "settings", "--json")
    assert json.loads(out) == {"unsubscribe_url": None, "unsubscribe_footer": "",
                               "round_trip_daily": False, "round_trip_timeout_seconds": 120}


def test_the_command_changes_only_what_is_given(db: Path, cli: Cli) -> None:
    code, out, err = cli("deliverability", "settings", "--round-trip-daily", "on",
                         "--round-trip-timeout", "300")
    assert code == 0, err
    assert "Saved" in out and "daily round trip     on" in out and "300 s" in out
    code, out, err = cli("deliverability", "settings", "--unsubscribe-url", URL, "--json")
    assert code == 0, err
    assert json.loads(out) == {"unsubscribe_url": URL, "unsubscribe_footer": "",
                               "round_trip_daily": True, "round_trip_timeout_seconds": 300}


@pytest.mark.parametrize(("args", "words"), [
    (["--unsubscribe-url", "http://unsub.sales.example/{token}"], "must use https://"),
    (["--unsubscribe-url", "https://unsub.sales.example/"], "must contain {token}"),
    (["--unsubscribe-url", ""], "use --no-unsubscribe-url"),
    (["--unsubscribe-url", URL, "--no-unsubscribe-url"], "not allowed with"),
    (["--footer", "one\ntwo"], "one line"),
    (["--round-trip-daily", "yes"], "invalid choice"),
    (["--round-trip-timeout", "0"], "from 1 to 3600"),
    (["--round-trip-timeout", "soon"], "from 1 to 3600"),
    (["--unsubscribe-url", URL, "--round-trip-timeout", "99999"], "from 1 to 3600"),
])
def test_bad_input_is_one_line_exit_3_and_changes_nothing(
        db: Path, cli: Cli, args: list[str], words: str) -> None:
    code, out, err = cli("deliverability", "settings", "--footer", "Kept", "--round-trip-daily",
                         "off")
    assert code == 0, err
    before = stored()
    code, out, err = cli("deliverability", "settings", *args)
    assert code == 3 and out == ""
    assert len(err.strip().splitlines()) == 1 and words in err, err
    assert stored() == before


def test_every_option_has_a_help_text() -> None:
    from mailmonitor.cli import build_parser

    parser = build_parser()
    top = next(a for a in parser._actions if a.dest == "command").choices  # type: ignore[union-attr]
    deliverability = top["deliverability"]  # type: ignore[index]
    settings_parser = next(a for a in deliverability._actions
                           if a.dest == "action").choices["settings"]  # type: ignore[union-attr]
    for action in settings_parser._actions:
        assert action.help, action.option_strings
