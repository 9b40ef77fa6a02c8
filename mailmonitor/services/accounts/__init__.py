"""Mailboxes as the rep enters them: adding one or many (CSV), provider presets (default hosts,
app- password help), validation of addresses, endpoints, sending windows and warm-up, the real
connection test both wizards run before anything is stored (``connection_test``: the flow base,
its outcome and the failure help per reason and provider), adding one mailbox after a passing
test (``add_flow``) and the support report behind “Copy diagnostics” (``diagnostics``).

May import ``models``, ``auth.secrets`` (a password goes to the keyring, never the database),
``sending.rep_day`` (the rep's day a warm-up starts on) and ``monitoring`` (what a test's
answers mean, recording a check).
"""
