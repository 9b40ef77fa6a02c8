"""What the rep must know (spec §1 "Alert"): the conditions derived from the state
(``attention``, read by ``facts``), stored and resolved by one ``reconciler``, which channels
subscribed to which events (``subscriptions``), the policy that turns them into coalesced,
rate-limited desktop notifications (``notifications``, no Qt), the channels' digests and
deliveries (``digest``, ``outbox``, ``channels``), the cards the window renders (``cards``),
and which of the providers' dated changes hit which mailboxes (``radar``: for the attention
model, the mailbox's detail and `mailmonitor policies`).

Floor: below ``accounts``, ``reconnect`` and ``desktop``; may import ``team``, ``placement``,
``sending``, the state core (``monitoring``, ``campaigns``, ``deliverability``), ``auth`` and
``common``.
"""
