"""Deliverability: what happens to the mail after a login works (issue 14).

Owns the round-trip test (`round_trip`: send to itself, find it over IMAP: Inbox / Spam / not
arrived), the bounce guard (`bounce_guard`: hard and soft bounces from RFC 3464 reports, the rate
over a mailbox's recent sends, the pause), holds on sending that a passing login does not lift
(`holds`), what SMTP answers to real sends say about the mailbox (`send_outcomes`), the SPF /
DMARC / DKIM check of each sending domain (`dns_auth`), List-Unsubscribe and the suppression
list (`unsubscribe`, `suppression`) and the daily re-checks (`daily`).

May import `models`, `events` and the other service rooms (monitoring for status writes, alerts,
sending's mailbox helpers); never Qt. Sending calls in through small hooks (composer headers,
bounce records, the send-refused kind); monitoring asks `holds` before writing `connected`.
"""
