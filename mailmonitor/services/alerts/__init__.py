"""What the rep must know (spec §1 "Alert"): alerts opened once per key, refreshed rather than
repeated, resolved when the cause goes away (``registry``), the policy that turns them into
coalesced, rate-limited desktop notifications (``notifications``, no Qt), and the list the rep
reads: one card per broken mailbox with its campaigns nested (``grouping``).

May import ``models`` and ``monitoring.reasons`` (the words for statuses and reasons);
``actions`` (which buttons an alert offers) also reads ``campaigns.rules``.
"""
