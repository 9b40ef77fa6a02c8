"""What the SMTP answers to real sends say about the mailbox (not only about one message).

A server that refuses a campaign email as spam, or because the sender (its address, domain or
IP) is blocked or listed ("550 5.7.1 … blocked", "554 5.7.1 … spam", "5.7.26 DMARC", "5.7.27
SPF"), will refuse the next one too: the mailbox is held with status "Sending Blocked"
(holds.py) and an alert quoting the server, even though its logins pass. Only the rep resumes
it. Refusals about one address (5.1.1) or one message's content (5.6.0) stay per lead.
"""

from __future__ import annotations

import re
from datetime import datetime

from mailmonitor.models import Account
from mailmonitor.services.deliverability import holds

_ENHANCED = re.compile(r"\b5\.7\.(\d{1,3})\b")
# Words providers use when they refuse a sender, not an address (Gmail, Microsoft, Yahoo,
# Spamhaus-style block lists).
_BLOCK_WORDS = re.compile(
    r"spam|junk|block|blacklist|black list|denylist|reputation|banned|\blisted\b|spamhaus|"
    r"barracuda|not accepted for policy|unsolicited|bulk mail|dmarc|\bspf\b|dkim|"
    r"unauthenticated", re.IGNORECASE)
# 5.7.23 SPF fail, 5.7.25 no reverse DNS, 5.7.26 DMARC/unauthenticated, 5.7.27 SPF (RFC 7372),
# 5.7.28 mail flood, 5.7.606-5.7.708 Microsoft's banned/blocked sender ranges.
_SENDER_POLICY_DETAILS = {23, 25, 26, 27, 28} | set(range(606, 709))


def refused_as_sender(code: int, text: str) -> bool:
    """Is this permanent answer a verdict on the sending mailbox (spam, block, policy)?"""
    if not 500 <= code < 600:
        return False
    enhanced = _ENHANCED.search(text)
    if enhanced and int(enhanced.group(1)) in _SENDER_POLICY_DETAILS:
        return True
    if "relay" in text.lower():  # 5.7.1 relay access denied: the recipient's side
        return False
    return bool(_BLOCK_WORDS.search(text)) and (enhanced is not None or code in (550, 554))


def hold_for_refusals(account: Account, recipient: str, answer: str, now: datetime) -> bool:
    detail = (f"The server refused an email from {account.email} to {recipient}: {answer[:400]}"
              ". Further sends would meet the same answer and hurt the mailbox's reputation.")
    return holds.place_hold(account, "sending_blocked", detail, now)
