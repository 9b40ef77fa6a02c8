"""What the rep must know (spec §1 "Alert"): alerts opened once per key, refreshed rather than
repeated, resolved when the cause goes away (``registry``), which channels subscribed to which
events (``subscriptions``), the policy that turns them into coalesced, rate-limited desktop
notifications (``notifications``, no Qt), the channels' digests and deliveries (``digest``,
``outbox``, ``channels``) and the list the rep reads (``grouping``); which of the providers' dated
changes hit which mailboxes (``radar``: for the attention model, the mailbox's detail and
`mailmonitor policies`).

Floor: below ``accounts``, ``reconnect`` and ``desktop``; may import ``team``, ``placement``,
``sending``, the state core (``monitoring``, ``campaigns``, ``deliverability``), ``auth`` and
``common``.
"""
