"""Mailboxes as the rep enters them: adding one or many (CSV), provider presets (default hosts,
app-password help), the real connection test both wizards run before anything is stored
(``connection_test``: the flow base, its outcome and the failure help per reason and provider),
adding one mailbox after a passing test (``add_flow``), adding a Google / Microsoft mailbox after
its sign-in (``oauth_signin``, and ``oauth_cli`` for the command line), editing a mailbox in place
(``editing``), switching its sign-in method in place (``switching``) and the support report
behind “Copy diagnostics” (``diagnostics``).

Floor: below ``reconnect`` and ``desktop``; may import ``alerts`` and every floor under it
(``monitoring`` to record a check, ``campaigns`` for what a new mailbox does to them, ``auth`` for
the keyring, ``common`` for validation).
"""
