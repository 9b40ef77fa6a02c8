"""Sending (spec §6): which lead gets which step from which mailbox and when (scheduler), composing
the email, sending a batch over SMTP with a record before and after every send, settling
interrupted sends at start (reconcile), reading replies and bounces over IMAP, and a mailbox's
sending settings and sender as the rep edits them (settings).

Floor: above the state core (``monitoring`` for credentials, classification and status changes,
``campaigns`` for the rules, ``deliverability`` for bounces and unsubscribes), ``auth`` and
``common``; below ``team``, ``placement`` and ``alerts``.
"""
