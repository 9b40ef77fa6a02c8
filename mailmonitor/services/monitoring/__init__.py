"""Noticing disconnections (spec §2, §3): the IMAP/SMTP probes, classifying what a server answered
into a status and reason, the status rules (confirm once, backoff, escalation), recording checks
and status changes (``account_state``: the one place a status is written; it applies the campaign
rules and keeps holds), the login budget that keeps checks from tripping a server's ban
(``login_budget``), and the background monitor that schedules checks.

Floor: the state core, with ``campaigns`` and ``deliverability``; may import ``auth`` (secrets; the
token provider is passed in) and ``common`` (``reasons``, the table of statuses and reasons).
"""
