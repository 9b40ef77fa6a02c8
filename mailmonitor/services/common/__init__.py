"""The bottom floor of services: the vocabulary every capability shares.

``validation`` (everything a rep types or imports, checked: addresses, hosts, ports, windows,
warm-up, CSV files), ``reasons`` (the single table of statuses, reason codes and their words),
``rep_day`` (the rep's calendar day in their time zone), ``capacity`` (what a mailbox may still
send today) and ``policies`` (the providers' dated changes shipped with the app, and the matcher
that says which mailboxes they hit).

May import ``models`` and the base modules only; every other capability may import it.
"""
