"""Noticing disconnections (spec §2, §3): the IMAP/SMTP probes, classifying what a server answered
into a status and reason, the status rules (confirm once, backoff, escalation), recording checks
and status changes, and the background monitor that schedules checks.

``reasons`` is the single table of statuses, reason codes and their words. May import ``models``,
``auth`` (secrets; the token provider is passed in) and ``campaigns.rules`` (a status change's
effect on campaigns), ``accounts.validation`` (what counts as a local host). Of ``sending`` it
reads only the rep's time zone (``sending.rep_day``).
"""
