"""List-Unsubscribe headers, how an unsubscribe request is told from a reply that only quotes
the word, and the suppression list that every way of adding leads respects."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from mailmonitor.models import Lead, set_setting
from mailmonitor.services.campaigns.setup import assign_and_insert
from mailmonitor.services.deliverability import suppression, unsubscribe
from mailmonitor.services.sending.composer import compose
from mailmonitor.services.sending.replies import parse
from tests import mail_samples as samples
from tests.factories import make_account, make_campaign, make_lead

NOW = datetime(2026, 11, 23, 9, 0)


def asks(text: str, subject: str = "Re: Hello") -> bool:
    return unsubscribe.asks_to_unsubscribe(parse(samples.reply("a@x.example", "r@s.example",
                                                               None, subject, text)))


def test_requests_in_the_leads_own_words_count_quoted_text_does_not() -> None:
    assert asks("Unsubscribe")
    assert asks("please remove me from your list")
    assert asks("Hi,\nstop emailing me.")
    assert asks("whatever", subject="Unsubscribe")
    assert asks("Bitte abmelden")
    assert not asks("Interested! Let's talk.\n\n> Reply unsubscribe to stop")
    assert not asks("Thanks.\n\nOn Mon, Ava wrote:\n> unsubscribe here")
    assert not asks("How do I unsubscribe my colleague and add me instead?")


def test_the_header_carries_the_leads_token_and_one_click_when_configured(db: Path) -> None:
    account = make_account("rep@sales.example")
    campaign = make_campaign("C", [account], steps=1)
    lead = make_lead(campaign, "ada@x.example", account, fields={"first_name": "Ada"})
    step = campaign.steps.get()
    data = compose(lead, step, account, NOW).data.decode()
    token = unsubscribe.token_for(lead)
    assert f"List-Unsubscribe: <mailto:rep@sales.example?subject=unsubscribe%20unsub-{token}>" \
        in data
    assert "List-Unsubscribe-Post" not in data
    assert unsubscribe.leads_of_tokens(unsubscribe.tokens_in(f"unsubscribe unsub-{token}")) \
        == [lead.id]
    set_setting("unsubscribe_url", "https://u.sales.example/?t={token}")
    data = compose(lead, step, account, NOW).data.decode()
    assert f"<https://u.sales.example/?t={token}>,\r\n <mailto:" in data
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in data
    assert unsubscribe.token_for(lead) == token  # one token per lead


def test_suppressed_addresses_are_never_added_and_their_leads_stop(db: Path) -> None:
    account = make_account("rep@sales.example")
    first = make_campaign("First", [account], steps=2)
    lead = make_lead(first, "Gone@X.example", account)
    assert suppression.suppress(["gone@x.example"], NOW, source="test") == 1
    assert Lead.get_by_id(lead.id).state == "unsubscribed"
    assert suppression.suppress(["GONE@x.example"], NOW) == 0
    second = make_campaign("Second", [account], steps=1)
    assign_and_insert(second, [("gone@x.example", {}), ("new@x.example", {})], NOW)
    assert [lead.email for lead in Lead.select().where(Lead.campaign == second)] == [
        "new@x.example"]
