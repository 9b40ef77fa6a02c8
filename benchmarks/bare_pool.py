"""The bare client the check benchmarks compare the app with: the same sign-ins done with plain
imapclient and smtplib in a pool of threads — STARTTLS, LOGIN, EXAMINE INBOX, LOGOUT over IMAP;
STARTTLS, AUTH, NOOP, QUIT over submission — and nothing else (no database, no keyring, no
classification, nothing recorded).

`pool(...)` runs it in the caller's process (bench_sweep, bench_check_cli: already started, its
modules imported). Run as a program it is what someone would write to check their mailboxes
by hand, timed from its launch to its exit like `mailmonitor check` (bench_check_cli):

    python benchmarks/bare_pool.py USERS.json IMAP_PORT SUBMISSION_PORT CA_FILE THREADS

USERS.json: a list of [email, password]; the server is 127.0.0.1.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import sys
from concurrent.futures import ThreadPoolExecutor


def pool(users: list[tuple[str, str]], imap_port: int, submission_port: int, ca: str,
         threads: int) -> None:
    from imapclient import IMAPClient

    context = ssl.create_default_context(cafile=ca)

    def one(user: tuple[str, str]) -> None:
        email, password = user
        imap = IMAPClient("127.0.0.1", port=imap_port, ssl=False, timeout=20)
        imap.starttls(context)
        imap.login(email, password)
        imap.select_folder("INBOX", readonly=True)
        imap.logout()
        smtp = smtplib.SMTP("127.0.0.1", submission_port, timeout=20)
        smtp.starttls(context=context)
        smtp.login(email, password)
        smtp.noop()
        smtp.quit()

    with ThreadPoolExecutor(threads) as workers:
        list(workers.map(one, users))


if __name__ == "__main__":
    users_file, imap_port, submission_port, ca, threads = sys.argv[1:6]
    with open(users_file, encoding="utf-8") as f:
        pool([(e, p) for e, p in json.load(f)], int(imap_port), int(submission_port), ca,
             int(threads))
