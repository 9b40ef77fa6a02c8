"""What a mailbox's health does to campaigns and leads (spec §4, §5): halting and resuming leads,
auto-pause, re-allocation balanced by capacity, the one-click reconnect, the two-step disconnect
with its grace period, reminders and the long wait, creating campaigns and importing leads.

Floor: the state core, with ``monitoring`` (a status write applies ``rules``) and
``deliverability`` (suppressed addresses are not imported); may import ``auth`` and ``common``.
"""
