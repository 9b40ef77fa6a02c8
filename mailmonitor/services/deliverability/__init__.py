"""Deliverability: what happens to the mail after a login works.

Owns the bounce guard (`bounce_guard`: hard and soft bounces from RFC 3464 reports, the rate over a
mailbox's recent sends, the pause), holds on sending that a passing login does not lift (`holds`),
what SMTP answers to real sends say about the mailbox (`send_outcomes`), the SPF / DMARC / DKIM
check of each sending domain (`dns_auth`), List-Unsubscribe and the suppression list
(`unsubscribe`, `suppression`) and the rep's deliverability settings (`settings`). The round trip,
the daily re-checks and the overview send mail, so they live a floor up in ``placement``.

Floor: the state core, with ``monitoring`` (a hold is a status write) and ``campaigns``; may import
``auth`` and ``common``; never Qt. Sending calls in through small hooks (composer headers, bounce
records, the send-refused kind).
"""
