"""Incoming messages as real servers and mail clients write them: a reply, automatic replies,
delivery status notifications (RFC 3464) and a read receipt. Bytes with CRLF, ready for IMAP
APPEND (``Dovecot.deliver``) or the parser."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid


def _finish(message: EmailMessage) -> bytes:
    message["Date"] = "Tue, 24 Nov 2026 10:00:00 +0000"
    if message["Message-ID"] is None:
        message["Message-ID"] = make_msgid(domain="remote.example")
    return message.as_bytes(policy=SMTP)


def reply(lead: str, to: str, original_id: str | None, subject: str = "Re: Hello",
          text: str = "Sounds good, call me tomorrow.") -> bytes:
    message = EmailMessage()
    message["From"] = f"The Lead <{lead}>"
    message["To"] = to
    message["Subject"] = subject
    if original_id:
        message["In-Reply-To"] = original_id
        message["References"] = original_id
    message.set_content(text)
    return _finish(message)


def out_of_office(lead: str, to: str, original_id: str | None,
                  style: str = "auto-submitted") -> bytes:
    """An automatic reply the way Exchange (Auto-Submitted + "Automatic reply:"), Gmail's
    vacation responder (Auto-Submitted, Precedence: bulk) or older tools (X-Autoreply, an
    "Out of Office" subject only) write it."""
    message = EmailMessage()
    message["From"] = lead
    message["To"] = to
    if original_id:
        message["In-Reply-To"] = original_id
        message["References"] = original_id
    if style == "auto-submitted":
        message["Subject"] = "Automatic reply: Hello"
        message["Auto-Submitted"] = "auto-replied"
    elif style == "precedence":
        message["Subject"] = "Re: Hello"
        message["Precedence"] = "bulk"
    elif style == "x-autoreply":
        message["Subject"] = "Re: Hello"
        message["X-Autoreply"] = "yes"
    else:
        message["Subject"] = "Out of Office: back on Monday"
    message.set_content("I am out of the office until Monday with limited access to email.")
    return _finish(message)


def delivery_status(original: bytes | None, recipient: str, to: str, action: str = "failed",
                    status: str = "5.1.1", original_id: str | None = None) -> bytes:
    """A DSN from MAILER-DAEMON as Postfix writes it: human text, the machine status
    (message/delivery-status), the returned headers (text/rfc822-headers)."""
    if original is not None:
        returned = original.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    else:
        returned = f"Message-ID: {original_id}\r\nTo: {recipient}\r\nSubject: Hello"
    subject = ("Undelivered Mail Returned to Sender" if action == "failed"
               else "Delayed Mail (still being retried)")
    text = f"""\
From: Mail Delivery System <MAILER-DAEMON@mx.remote.example>
To: {to}
Subject: {subject}
Date: Tue, 24 Nov 2026 10:00:00 +0000
Message-ID: {make_msgid(domain="mx.remote.example")}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B0UND"

--B0UND
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.remote.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--B0UND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.remote.example
Arrival-Date: Tue, 24 Nov 2026 09:59:58 +0000

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected

--B0UND
Content-Type: text/rfc822-headers

{returned}

--B0UND--
"""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii")


def plain_bounce(original_id: str, recipient: str, to: str) -> bytes:
    """An old-style bounce: MAILER-DAEMON, plain text quoting the original headers."""
    message = EmailMessage()
    message["From"] = "MAILER-DAEMON@mx.remote.example"
    message["To"] = to
    message["Subject"] = "failure notice"
    message.set_content(f"Hi. This is the qmail-send program.\nI'm afraid I wasn't able to "
                        f"deliver your message to the following addresses.\n\n<{recipient}>:\n"
                        f"Sorry, no mailbox here by that name.\n\n--- Below this line is a copy "
                        f"of the message.\n\nMessage-ID: {original_id}\nSubject: Hello\n")
    return _finish(message)


def read_receipt(lead: str, to: str, original_id: str) -> bytes:
    message = EmailMessage()
    message["From"] = lead
    message["To"] = to
    message["Subject"] = "Read: Hello"
    message["In-Reply-To"] = original_id
    message.set_content("Your message was read.")
    message.make_mixed()
    message.set_type("multipart/report")
    message.set_param("report-type", "disposition-notification")
    return _finish(message)
