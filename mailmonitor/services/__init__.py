"""Everything that is not a widget, one sub-package per capability (read it like a table of
contents).

- ``accounts``   adding mailboxes, provider presets, checking what a rep types or imports
- ``monitoring`` probes, classification, status rules, the background monitor
- ``auth``       Google / Microsoft sign-in and the OS keyring
- ``campaigns``  what a mailbox's status does to campaigns: halt, pause, re-allocate, grace, stop
- ``sending``    the sending engine: scheduling, composing, crash-safe sending, replies and bounces
- ``alerts``     alerts the rep must see, and which of them become desktop notifications
- ``reconnect``  the reconnect wizard as a Qt-free flow
- ``desktop``    running in the background, start at login, the app's settings

No module here imports Qt widgets or anything from ``mailmonitor.ui``; services announce changes on
``mailmonitor.events.bus``.
"""
