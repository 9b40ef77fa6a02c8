"""Unsubscribe (RFC 2369 List-Unsubscribe, RFC 8058 one-click) and how a request is recognised.

Every campaign email carries `List-Unsubscribe: <mailto:SENDING-MAILBOX?subject=unsubscribe%20
TOKEN>` with a random per-lead token; when the rep configured a one-click URL (setting
`unsubscribe_url`, with `{token}` where the token goes) it is listed first and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` is added (RFC 8058; Gmail and Yahoo ask
bulk senders for it). An optional footer line (setting `unsubscribe_footer`) ends the text.

A message in the sending mailbox's INBOX is an unsubscribe request when it carries a lead's
token (the mailto link fills the subject with it), or when a lead's reply says so in its own
words at the top (not in the quoted text): "unsubscribe", "remove me", "opt out", "take me off
your list", "stop emailing". The lead becomes `unsubscribed` and its address goes on the
suppression list (every campaign of the database)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import Message
from email.policy import Policy
from urllib.parse import quote

from mailmonitor.clock import utcnow
from mailmonitor.models import Account, Lead, Setting, UnsubscribeToken, db
from mailmonitor.services.common.validation import wire_address
from mailmonitor.services.deliverability import suppression

TOKEN_BYTES = 12
FOOTER_MAX = 300  # characters of the footer line an email carries at most
_TOKEN = re.compile(r"\bunsub-([A-Za-z0-9_-]{16})")
_ASK = re.compile(
    r"^\W*((please|pls|bitte|por favor)\s+)?"
    r"(unsubscribe|unsuscribe|remove\s+me|opt[\s-]?out|take\s+me\s+off|"
    r"stop\s+(emailing|sending|contacting)|no\s+more\s+emails?|do\s+not\s+(email|contact)|"
    r"don'?t\s+(email|contact)|abmelden|d[ée]sinscri|darse\s+de\s+baja)\b",
    re.IGNORECASE)
_QUOTE_START = re.compile(r"^(>|On .+ wrote:|-----\s*Original Message|From: |Am .+ schrieb)",
                          re.IGNORECASE)
TOP_LINES = 5  # the request is in the first lines the lead typed


class ListUnsubscribeHeader(UnstructuredHeader):
    """List-Unsubscribe folded only between its <URL>s (RFC 2369 §2): the standard folding
    would turn a long mailto into RFC 2047 encoded words, which no client reads as a link."""

    def fold(self, *, policy: Policy) -> str:
        parts = [p.strip() for p in str(self).split(",") if p.strip()]
        name = getattr(self, "name", "List-Unsubscribe")  # from BaseHeader, mixed in
        return f"{name}: " + ("," + policy.linesep + " ").join(parts) + policy.linesep


def header_registry() -> HeaderRegistry:
    registry = HeaderRegistry()
    # The registry mixes BaseHeader in (typeshed types the argument as a BaseHeader already).
    registry.map_to_type("list-unsubscribe", ListUnsubscribeHeader)  # type: ignore[arg-type]
    return registry


@dataclass(frozen=True)
class Config:
    """The rep's unsubscribe settings, read once per batch of sends."""

    url: str = ""
    footer: str = ""


def config() -> Config:
    values = {row.key: row.value for row in Setting.select().where(
        Setting.key.in_(("unsubscribe_url", "unsubscribe_footer")))}
    return Config(url=str(values.get("unsubscribe_url") or "").strip(),
                  footer=one_line_footer(str(values.get("unsubscribe_footer") or "")))


def one_line_footer(text: str) -> str:
    """The footer as emails carry it: one line, runs of spaces as one, at most FOOTER_MAX."""
    return " ".join(text.split())[:FOOTER_MAX]


def one_click_url(url: str, token: str) -> str:
    """The rep's one-click URL for one lead: `{token}` replaced by the lead's token."""
    return url.replace("{token}", quote(token, safe=""))


def token_for(lead: Lead) -> str:
    """The lead's token, made on its first email. Plain SQL: this runs for every send, and
    peewee's query building would cost more than the query."""
    table, param = UnsubscribeToken._meta.table_name, db.param
    select = f'SELECT token FROM "{table}" WHERE lead_id = {param}'
    row = db.execute_sql(select, (lead.id,)).fetchone()
    if row is None:
        db.execute_sql(f'INSERT INTO "{table}" (token, lead_id, created_at) VALUES '
                       f"({param}, {param}, {param}) ON CONFLICT DO NOTHING",
                       (secrets.token_urlsafe(TOKEN_BYTES), lead.id,
                        UnsubscribeToken.created_at.db_value(utcnow())))
        row = db.execute_sql(select, (lead.id,)).fetchone()
    return str(row[0])


def headers_for(lead: Lead, account: Account, settings: Config | None = None
                ) -> dict[str, str]:
    token = token_for(lead)
    address = quote(wire_address(str(account.email)), safe="@")  # RFC 6068: UTF-8, escaped
    mailto = f"<mailto:{address}?subject={quote(f'unsubscribe unsub-{token}')}>"
    url = (settings or config()).url
    if url:
        return {"List-Unsubscribe": f"<{one_click_url(url, token)}>, {mailto}",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return {"List-Unsubscribe": mailto}


def footer(settings: Config | None = None) -> str:
    return (settings or config()).footer


# --- recognising a request --------------------------------------------------------------------

def tokens_in(text: str) -> list[str]:
    return list(dict.fromkeys(_TOKEN.findall(text)))


def leads_of_tokens(tokens: list[str]) -> list[int]:
    if not tokens:
        return []
    return [i for (i,) in UnsubscribeToken.select(UnsubscribeToken.lead).where(
        UnsubscribeToken.token.in_(tokens)).tuples()]


def own_text(message: Message) -> str:
    """The first text/plain part (or HTML without tags), without the quoted original."""
    part = message.get_body(preferencelist=("plain", "html")) \
        if hasattr(message, "get_body") else None
    if part is None:
        return ""
    try:
        text = str(part.get_content())
    except Exception:
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if part.get_content_subtype() == "html":
        text = re.sub(r"<[^>]+>", "\n", text)
    lines: list[str] = []
    for line in text.splitlines():
        if _QUOTE_START.match(line.strip()):
            break
        if line.strip():
            lines.append(line.strip())
        if len(lines) >= TOP_LINES:
            break
    return "\n".join(lines)


def asks_to_unsubscribe(message: Message) -> bool:
    subject = str(message.get("Subject", ""))
    if _ASK.match(re.sub(r"^\s*((re|aw|sv|fw|fwd)\s*:\s*)+", "", subject, flags=re.I)):
        return True
    return any(_ASK.match(line) for line in own_text(message).splitlines()[:TOP_LINES])


def request_leads(message: Message, replying_leads: list[int]) -> list[int]:
    """The leads this message unsubscribes: the token's lead, or the replying leads when they
    ask in their own words. Empty when it is not a request."""
    text = str(message.get("Subject", "")) + "\n" + own_text(message)
    by_token = leads_of_tokens(tokens_in(text))
    if by_token:
        return by_token
    return replying_leads if replying_leads and asks_to_unsubscribe(message) else []


def unsubscribe_leads(lead_ids: list[int], now: datetime, source: str) -> int:
    """The leads' addresses go on the suppression list; all their leads stop."""
    emails = [e for (e,) in Lead.select(Lead.email).where(Lead.id.in_(lead_ids)).tuples()]
    suppression.suppress(emails, now, reason="unsubscribed", source=source)
    # A lead that replied "unsubscribe" is unsubscribed, not replied.
    Lead.update(state="unsubscribed", next_due_at=None, updated_at=now).where(
        Lead.id.in_(lead_ids) & (Lead.state == "replied")).execute()
    return len(emails)
