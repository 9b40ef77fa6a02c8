"""Signing in (spec §3, §5, §7): Google and Microsoft OAuth through the system browser with a
127.0.0.1-only loopback redirect, silent token refresh, classifying failed refreshes, the client
registrations, and the OS keyring that holds every secret (and nothing else does).

May import ``models`` and ``accounts``; blocking calls only (callers run them in worker threads).
"""
