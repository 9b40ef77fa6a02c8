"""Signing in (spec §3, §5, §7): Google and Microsoft OAuth through the system browser with a
127.0.0.1-only loopback redirect, silent token refresh, classifying failed refreshes, the client
registrations, and the OS keyring that holds every secret (and nothing else does).

``tokens`` is what checks and sends need of it: a ``TokenProvider`` the start-up code builds and
hands to the monitor, the sending engine and the checks (importing a module installs nothing).

May import ``models`` and ``accounts``; blocking calls only (callers run them in worker threads).
``oauth_cli``, the command line's sign-in commands, also runs checks (``monitoring.checker``) and
the reconnect rule (``campaigns.lifecycle``).
"""
