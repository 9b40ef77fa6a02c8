"""Everything that is not a widget, one sub-package per capability, on floors (import-linter
checks them: ``[tool.importlinter]`` in pyproject.toml). A floor may import the floors below it,
never one above; ``a | b`` are independent neighbours, ``a : b : c`` one floor whose members may
use each other.

    desktop          the always-on loop (window and run --headless): composes everything below
    reconnect        the reconnect wizard as a Qt-free flow
    accounts         adding, editing and testing mailboxes; Google/Microsoft sign-in of a mailbox
    alerts           what needs the rep, and the channels (email, Slack, webhooks) that tell them
    team | placement team members, leases | round trip, daily re-checks, deliverability overview
    sending          the sending engine: scheduling, composing, crash-safe sending, replies
    monitoring : campaigns : deliverability
                     the state core: probes and status writes, what a status does to campaigns
                     (halt, pause, re-allocate, grace, stop), holds, bounces, suppression, DNS
    auth             the OS keyring, tokens, Google / Microsoft sign-in itself
    common           the vocabulary: input validation, statuses and reasons, the rep's day

The package is one floor of the house: below ``ui``, ``app``/``headless`` and ``cli``; above
``models`` and the base modules (clock, config, events, logsetup, wording). No module here imports
Qt widgets or anything from ``mailmonitor.ui``; services announce changes on
``mailmonitor.events.bus``.
"""
