"""Where mail lands: the round trip (``round_trip``: send to itself, find it over IMAP: Inbox /
Spam / not arrived), the daily deliverability re-checks (``daily``) and the Deliverability tab's
overview of one mailbox (``overview``).

Floor: above ``sending`` (a round trip is a real send) and the state core (``deliverability``'s
holds, bounce rate and DNS results); below ``alerts`` and ``desktop``. Independent of ``team``.
"""
