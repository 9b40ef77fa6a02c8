"""What the rep must know (spec §1 "Alert"): alerts opened once per key, refreshed rather than
repeated, resolved when the cause goes away (``registry``), and the policy that turns them into
coalesced, rate-limited desktop notifications (``notifications``, no Qt).

May import ``models``; ``actions`` (which buttons an alert offers) also reads
``campaigns.rules``.
"""
