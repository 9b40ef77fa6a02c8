"""A damaged database and a full disk, for real (issue 12 part 2): the real `mailmonitor`
process stops or fails with one clear line, never a traceback, and changes nothing."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

from tests.factories import make_account, make_campaign, make_leads

ROOT = Path(__file__).resolve().parents[2]


def mailmonitor(data_dir: Path, *args: str, timeout: float = 60, **kwargs: object
                ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAILMONITOR_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT),
           "MAILMONITOR_SEND_TICK": "0.1", "MAILMONITOR_MONITOR_TICK": "0.1",
           # The imported mailboxes have passwords: a keyring file outside the data folder.
           "PYTHON_KEYRING_BACKEND": "tests.file_keyring.FileKeyring",
           "MAILMONITOR_TEST_KEYRING_FILE": str(data_dir.parent / f"{data_dir.name}.keyring")}
    return subprocess.run([sys.executable, "-m", "mailmonitor", *args], capture_output=True,
                          text=True, env=env, timeout=timeout, **kwargs)  # type: ignore[call-overload]


def test_a_database_damaged_mid_file_stops_run_headless_with_one_line(data_dir: Path) -> None:
    from mailmonitor.models import close_db, db, open_db

    path = data_dir / "mailmonitor.sqlite3"
    open_db(path)
    account = make_account("rep@x.test", min_gap_seconds=0, imap_host="127.0.0.1", imap_port=9,
                           smtp_host="127.0.0.1", smtp_port=9)
    make_leads(make_campaign("C", [account]), account, 3000)
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    close_db()
    size = path.stat().st_size
    with path.open("r+b") as handle:  # the schema (first pages) intact, the data not
        handle.seek(size // 2)
        handle.write(b"\xa5" * (size // 4))

    run = mailmonitor(data_dir, "run", "--headless")  # it must stop by itself
    assert run.returncode == 1
    assert run.stderr.startswith("mailmonitor: the database is damaged (database disk image is "
                                 "malformed): sending stopped")
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


def test_a_full_disk_is_one_clear_line_without_logging_tracebacks(data_dir: Path) -> None:
    assert mailmonitor(data_dir, "accounts", "list").returncode == 0
    csv = data_dir / "accounts.csv"
    csv.write_text("email,imap_host,imap_port,imap_security,smtp_host,smtp_port,signature,"
                   "password\n"
                   + "".join(f"u{i}@x.test,127.0.0.1,1143,plain,127.0.0.1,1587,{'s' * 500},pw{i}\n"
                             for i in range(600)))
    limit = (data_dir / "mailmonitor.sqlite3").stat().st_size + 60_000
    log = data_dir / "logs" / "mailmonitor.log"
    log.write_text("x" * (limit - 10))  # the log cannot grow either

    def no_room() -> None:  # the kernel refuses to grow any file past `limit` (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full = mailmonitor(data_dir, "accounts", "import", str(csv), preexec_fn=no_room)
    assert full.returncode == 1
    assert full.stderr.count("\n") == 1, full.stderr
    assert full.stderr.startswith(f"mailmonitor: the database in {data_dir} could not be written")
    assert full.stderr.endswith("— nothing was changed\n")
    for noise in ("Logging error", "Traceback", "cannot rollback"):
        assert noise not in full.stderr
    log.write_text("")
    listed = mailmonitor(data_dir, "accounts", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_a_reader_that_closes_early_ends_check_quietly(data_dir: Path) -> None:
    """`mailmonitor check --json | head -c 1`: the reader goes before the output is written.
    The command ends as a Unix command does when its reader has gone (exit 128 + SIGPIPE, no
    word on stderr, no traceback logged), its checks recorded all the same."""
    from mailmonitor.models import Check, close_db, open_db

    open_db(data_dir / "mailmonitor.sqlite3")
    checked = make_account("checked@x.test", imap_host="127.0.0.1", imap_port=9,
                           smtp_host="127.0.0.1", smtp_port=9)
    for number in range(400):  # stopped: not checked, but listed (more than a pipe holds)
        make_account(f"stopped{number}@x.test", status="stopped")
    close_db()
    env = {**os.environ, "MAILMONITOR_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT),
           "PYTHON_KEYRING_BACKEND": "tests.file_keyring.FileKeyring",
           "MAILMONITOR_TEST_KEYRING_FILE": str(data_dir.parent / "broken-pipe.keyring")}
    with subprocess.Popen([sys.executable, "-m", "mailmonitor", "check", "--json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as writer:
        assert writer.stdout is not None and writer.stderr is not None
        try:
            head = subprocess.run(["head", "-c", "1"], stdin=writer.stdout,
                                  capture_output=True, timeout=60)
            writer.stdout.close()  # no reader left
            err = writer.stderr.read().decode()
            code = writer.wait(timeout=60)
        finally:
            writer.kill()
    assert (code, err, head.stdout) == (141, "", b"["), (err, head.stderr)
    log = (data_dir / "logs" / "mailmonitor.log").read_text()
    assert "Traceback" not in log and "command failed" not in log
    open_db(data_dir / "mailmonitor.sqlite3")
    try:
        assert Check.select().where(Check.account == checked.id).count() == 1
    finally:
        close_db()


def test_check_ends_its_process_at_once_with_everything_said(data_dir: Path) -> None:
    """`check` ends its process without the interpreter's tear-down (mailmonitor.cli
    `_end_process`): its whole output reaches the reader, its exit status is the sweep's, and
    the log has its last line (written by the reconcile after the output, flushed at exit)."""
    from mailmonitor.models import close_db, open_db

    open_db(data_dir / "mailmonitor.sqlite3")
    make_account("nopassword@x.test", imap_host="127.0.0.1", imap_port=9,
                 smtp_host="127.0.0.1", smtp_port=9)
    for number in range(300):  # listed, not checked: more output than one write
        make_account(f"stopped{number}@x.test", status="stopped")
    close_db()
    env = {**os.environ, "MAILMONITOR_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT),
           "PYTHON_KEYRING_BACKEND": "tests.file_keyring.FileKeyring",
           "MAILMONITOR_TEST_KEYRING_FILE": str(data_dir.parent / "at-once.keyring")}
    env.pop("PYTHONUNBUFFERED", None)  # its output buffered, as in a rep's shell
    done = subprocess.run([sys.executable, "-m", "mailmonitor", "check", "--json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.endswith("]\n")  # to its last byte
    rows = json.loads(done.stdout)
    assert len(rows) == 301 and done.stderr == ""
    assert [r["status"] for r in rows if r["email"] == "nopassword@x.test"] == ["disconnected"]
    assert done.returncode == 2  # a disconnected mailbox: as the sweep found it
    log = (data_dir / "logs" / "mailmonitor.log").read_text()
    assert log.rstrip().splitlines()[-1].endswith("alerts: 1 opened, 0 changed, 0 resolved, "
                                                  "0 reminded")
