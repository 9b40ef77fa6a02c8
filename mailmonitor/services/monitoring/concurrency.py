"""How many mailboxes are checked at once.

The window and `run --headless` check in the background while the rep works: their limit is the
`max_concurrent_checks` setting, chosen so the event loop never stalls visibly during a sweep.
`mailmonitor check` has nothing else to do, so it checks as many at once as a bare client pool
(`benchmarks/bench_check_cli.py` measures both); `--concurrency N` overrides it."""

from __future__ import annotations

from mailmonitor.services.common import bounds

CLI_CONCURRENCY = 16  # `check`: as a bare imapclient/smtplib pool of 16 threads
# More connections at once only trip providers' connection limits (the one table of bounds).
MAX_CONCURRENCY = bounds.NUMBERS["check_concurrency"].high
