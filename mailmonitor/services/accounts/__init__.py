"""Mailboxes as the rep enters them: adding one or many (CSV), provider presets (default hosts,
app- password help) and validation of addresses, endpoints, sending windows and warm-up.

May import ``models``, ``sending.rep_day`` (the rep's day a warm-up starts on) and
``auth.secrets`` (a password goes to the keyring, never the database).
"""
