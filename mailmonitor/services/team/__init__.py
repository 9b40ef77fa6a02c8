"""Teams: several running copies of mailmonitor (windows and `run --headless` senders on
different machines) on one PostgreSQL database. This package owns who serves which mailbox (a
lease per mailbox, taken only by a copy whose keyring holds the mailbox's secret, lost when its
holder stops renewing it), the team's members and what the window says about it. On SQLite (one
process per data folder) every mailbox is served by the one copy and none of this runs.

Floor: beside ``placement`` (independent of it), below ``alerts``; may import ``sending``, the
state core, ``auth`` and ``common``; nothing imports Qt.
"""
