"""Sending (spec §6): which lead gets which step from which mailbox and when (scheduler, daily
capacity with warm-up), composing the email, sending a batch over SMTP with a record before and
after every send, settling interrupted sends at start (reconcile), reading replies and
bounces over IMAP, and a mailbox's sending settings and sender as the rep edits them (settings).

May import ``models``, ``monitoring`` (probes' credentials, classification, status changes),
``auth``, ``alerts`` and ``accounts.validation``.
"""
