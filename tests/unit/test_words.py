"""Words the rep reads (issue 12 §3 stale messages): counts agree ("1 lead", never "the 1
leads"), why a check ran is said in words ("demo start, confirmed by a second check", not
"demo+confirm"), a check's steps are not a Python dict, an empty address is not "''"."""

from __future__ import annotations

import pytest

from mailmonitor.services.campaigns.impact import Impact, describe_disconnect
from mailmonitor.services.common.validation import InvalidInput, normalize_email
from mailmonitor.services.monitoring.check_words import phases_words, trigger_words
from mailmonitor.wording import count, verb


def test_counts_agree() -> None:
    assert (count(1, "lead"), count(3, "lead"), count(1200, "lead")) == (
        "1 lead", "3 leads", "1,200 leads")
    assert (verb(1, "waits", "wait"), verb(0, "waits", "wait")) == ("waits", "wait")


def test_the_disconnect_warning_counts_in_words() -> None:
    text = describe_disconnect(Impact(email="ava@x.test", campaigns=["Q4"], open_leads=1,
                                      contacted_leads=1, grace_minutes=60))
    assert "Its 1 open lead waits." in text
    assert "1 lead it already emailed is set to Campaign Stopped" in text
    assert "the 1 leads" not in text


def test_why_a_check_ran_and_its_steps_in_words() -> None:
    assert trigger_words("demo+confirm") == "demo start, confirmed by a second check"
    assert trigger_words("schedule") == "scheduled"
    assert trigger_words("manual") == "Test Connection"
    assert phases_words({"connect": 12.4, "tls": 20.0, "auth": 31.2}) == \
        "connect 12 ms · TLS 20 ms · sign-in 31 ms"
    assert phases_words({}) == ""


def test_an_empty_address_says_so() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_email("  ")
    assert str(caught.value) == "the email address is empty"
