"""Building the email of one step for one lead (spec §6): templates, sender, threading.

Templates: `{{first_name}}` takes the lead's field (CSV column, case-insensitive) or its `email`;
`{{first_name|there}}` falls back to "there" when the field is missing or empty. A field that is
missing without a fallback never produces a broken email: `MissingField` is raised and the caller
flags the lead for the rep instead of sending.

Threading: a follow-up answers the previous messages this mailbox sent to the lead
(`In-Reply-To` = the last one, `References` = all of them, oldest first). Its subject is the step's
own subject when it has one, else "Re: " + the first step's subject. A lead re-allocated to another
mailbox starts a new thread there (the old address cannot send, and a reply to someone else's
message would look forged), with the first subject without "Re:".
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any

from mailmonitor.models import Account, Lead, SendRecord, Step
from mailmonitor.models.states import DELIVERED_SEND_STATES
from mailmonitor.services.common.validation import (
    address_header,
    ascii_domain,
    needs_smtputf8,
)
from mailmonitor.services.deliverability import unsubscribe

# {{ name }} or {{ name | fallback }}; the fallback may be empty ({{title|}}).
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\- ]*?)\s*(?:\|([^{}]*))?\}\}")
THREAD_STATES = DELIVERED_SEND_STATES  # messages that (may) exist at the recipient
# CRLF line endings, folded headers: the bytes that go on the wire (List-Unsubscribe folded
# only between its links).
POLICY = SMTP.clone(header_factory=unsubscribe.header_registry())


class MissingField(Exception):
    """A template needs a field the lead does not have (and gave no fallback)."""

    def __init__(self, fields: list[str], where: str) -> None:
        self.fields = fields
        self.where = where
        names = ", ".join(fields)
        super().__init__(f"{where} needs {names}, which this lead does not have: add the "
                         f"column to the lead or a fallback like {{{{{fields[0]}|there}}}}")


@dataclass(frozen=True)
class Composed:
    message: EmailMessage
    message_id: str  # with angle brackets, as in the header
    subject: str
    data: bytes  # the message as sent (CRLF)


def lead_values(lead: Lead) -> dict[str, str]:
    values = {str(k).strip().lower(): "" if v is None else str(v)
              for k, v in (lead.fields or {}).items()}
    values.setdefault("email", lead.email)
    return values


def render(template: str, values: dict[str, Any], where: str = "the template") -> str:
    """Fill the placeholders; raises MissingField naming every missing field at once."""
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name, fallback = match.group(1).strip().lower(), match.group(2)
        value = str(values.get(name) or "").strip()
        if value:
            return value
        if fallback is not None:
            return fallback.strip()
        if name not in missing:
            missing.append(name or "(empty placeholder)")
        return ""

    text = _PLACEHOLDER.sub(fill, template)
    if missing:
        raise MissingField(missing, where)
    return text


def one_line(text: str) -> str:
    """Header-safe: a value from a CSV must not add header lines."""
    return " ".join(text.split())


def sender_domain(account: Account) -> str:
    """The mailbox's domain as DNS knows it (punycode for an internationalized one)."""
    return ascii_domain(str(account.email).rsplit("@", 1)[-1])


def thread_of(lead: Lead, account: Account) -> list[str]:
    """Message-IDs this mailbox already sent to the lead, oldest first."""
    return [mid for (mid,) in SendRecord.select(SendRecord.message_id).where(
        (SendRecord.lead == lead) & (SendRecord.account == account)
        & SendRecord.state.in_(THREAD_STATES)
    ).order_by(SendRecord.step, SendRecord.id).tuples()]


def subject_for(step: Step, values: dict[str, Any], first_subject: str | None, threaded: bool,
                first_step_subject: str | None = None) -> str:
    own = one_line(render(step.subject or "", values, f"Step {step.position + 1}'s subject"))
    if own:
        return own
    base = first_subject or one_line(render(first_step_subject or "", values,
                                            "Step 1's subject"))
    if not threaded:
        return base
    return base if base.lower().startswith("re:") else f"Re: {base}"


def body_text(body: str, signature: str) -> str:
    text = body.rstrip() + "\n"
    if signature.strip():
        text += "\n-- \n" + signature.strip() + "\n"  # the standard signature separator
    return text


def with_footer(text: str, foot: str) -> str:
    """The email's text with the rep's footer line (setting `unsubscribe_footer`) at its end."""
    return text + "\n" + foot + "\n" if foot else text


def text_to_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p]
    parts = ["<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>" for p in paragraphs]
    return "<!DOCTYPE html>\n<html><body>\n" + "\n".join(parts) + "\n</body></html>\n"


def _cte(text: str) -> str:
    ok = text.isascii() and all(len(line) < 990 for line in text.splitlines())
    return "7bit" if ok else "quoted-printable"


def compose(lead: Lead, step: Step, account: Account, now: datetime,
            thread: list[str] | None = None, first_step_subject: str | None = None,
            with_html: bool = False, unsubscribe_config: unsubscribe.Config | None = None
            ) -> Composed:
    """The email of `step` for `lead` from `account`, with its Message-ID fixed now.

    `thread`: Message-IDs this mailbox sent to the lead before (default: read from the send
    records). Raises MissingField instead of producing a broken email."""
    values = lead_values(lead)
    previous = thread_of(lead, account) if thread is None else thread
    subject = subject_for(step, values, lead.first_subject, bool(previous), first_step_subject)
    body = render(step.body or "", values, f"Step {step.position + 1}'s text")
    text = body_text(body, account.signature or "")
    settings = unsubscribe_config or unsubscribe.config()
    text = with_footer(text, unsubscribe.footer(settings))

    # Internationalized domains as punycode; a non-ASCII local part needs UTF-8 headers, which
    # only an SMTPUTF8 transaction carries (sender.py refuses it on any other server).
    policy = POLICY.clone(utf8=True) if needs_smtputf8(account.email) or needs_smtputf8(
        lead.email) else POLICY
    message = EmailMessage(policy=policy)
    message["From"] = address_header(one_line(account.name or ""), account.email)
    message["To"] = address_header("", lead.email)
    message["Subject"] = subject
    message["Date"] = format_datetime(now.replace(tzinfo=UTC))
    message_id = make_msgid(domain=sender_domain(account))
    message["Message-ID"] = message_id
    if previous:
        message["In-Reply-To"] = previous[-1]
        message["References"] = " ".join(previous)
    for name, value in unsubscribe.headers_for(lead, account, settings).items():
        message[name] = value  # RFC 2369 / RFC 8058: the lead can always opt out
    message.set_content(text, cte=_cte(text))
    if with_html:
        markup = text_to_html(text)
        message.add_alternative(markup, subtype="html", cte=_cte(markup))
    return Composed(message, message_id, subject, message.as_bytes(policy=policy))


def ending_preview(footer: str, signature: str = "Your signature") -> str:
    """How a campaign email ends with this footer: the composer's text, signature and footer."""
    return with_footer(body_text("…the step's text…", signature),
                       unsubscribe.one_line_footer(footer)).rstrip("\n")
