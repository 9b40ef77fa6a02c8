"""Signing in (spec §3, §5, §7): Google and Microsoft OAuth through the system browser with a
127.0.0.1-only loopback redirect, silent token refresh (``refresh``: the installation's token
provider), classifying failed refreshes, the client registrations, and the OS keyring that holds
every secret (and nothing else does).

``tokens`` is what checks and sends need of it: the ``TokenProvider`` type the start-up code
builds (``refresh.oauth_token_provider``) and hands to the monitor, the sending engine and the
checks (importing a module installs nothing).

Floor: just above ``common``; may import ``models``, ``common`` and the base modules only.
Storing a new mailbox after its sign-in is ``accounts.oauth_signin``'s, a floor up. Blocking calls
only (callers run them in worker threads).
"""
