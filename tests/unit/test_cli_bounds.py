"""Issue 22 on the command line (a contract: exact exit codes, one line): the table of bounds
held alike by `accounts add`, `accounts import` and `accounts edit`; empty values; unknown
mailboxes and campaigns; a password mailbox without a password; ports left out."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mailmonitor.cli.common import EXIT_OK, EXIT_USAGE
from mailmonitor.services.common import bounds

Cli = Callable[..., tuple[int, str, str]]
HOSTS = ["--imap-host", "127.0.0.1", "--smtp-host", "127.0.0.1"]

# table key -> the command line's option (add and edit) and the CSV column (import)
OPTIONS = {"daily_limit": ("--daily-limit", "daily_limit"),
           "min_gap_seconds": ("--min-gap", "min_gap"),
           "imap_port": ("--imap-port", "imap_port"),
           "smtp_port": ("--smtp-port", "smtp_port")}


def listed(cli: Cli) -> list[dict[str, object]]:
    return json.loads(cli("accounts", "list", "--json")[1])  # type: ignore[no-any-return]


def via_add(cli: Cli, folder: Path, option: str, column: str, value: str) -> tuple[int, str]:
    code, _, err = cli("accounts", "add", "--email", "new@example.com", *HOSTS, option, value,
                       "--password-stdin", stdin="pw\n")
    return code, err


def via_import(cli: Cli, folder: Path, option: str, column: str, value: str
               ) -> tuple[int, str]:
    csv = folder / "accounts.csv"
    csv.write_text(f"email,imap_host,smtp_host,password,{column}\n"
                   f"new@example.com,127.0.0.1,127.0.0.1,pw,{value}\n")
    code, _, err = cli("accounts", "import", str(csv))
    return code, err


def via_edit(cli: Cli, folder: Path, option: str, column: str, value: str) -> tuple[int, str]:
    code, _, err = cli("accounts", "edit", "old@example.com", option, value)
    return code, err


PATHS = {"add": via_add, "import": via_import, "edit": via_edit}


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("key", sorted(OPTIONS))
def test_add_import_and_edit_hold_each_number_to_the_same_bounds(
        cli: Cli, data_dir: Path, key: str, path: str) -> None:
    assert cli("accounts", "add", "--email", "old@example.com", *HOSTS, "--password-stdin",
               stdin="pw\n")[0] == EXIT_OK
    limits = bounds.NUMBERS[key]
    option, column = OPTIONS[key]
    for value, words in ((limits.low - 1, "is too small"), (limits.high + 1, "is too large")):
        before = listed(cli)
        code, err = PATHS[path](cli, data_dir, option, column, str(value))
        assert code == EXIT_USAGE, (path, value, err)
        assert f"{limits.what} {value} {words}" in err and err.count("\n") == 1, err
        assert listed(cli) == before  # nothing changed
    code, err = PATHS[path](cli, data_dir, option, column, str(limits.high))
    assert code == EXIT_OK, (path, err)
    row = next(r for r in listed(cli) if r["email"] == (
        "old@example.com" if path == "edit" else "new@example.com"))
    stored = {"daily_limit": row["daily_limit"], "min_gap_seconds": row["min_gap_seconds"],
              "imap_port": row["imap"]["port"],  # type: ignore[index]
              "smtp_port": row["smtp"]["port"]}[key]  # type: ignore[index]
    assert stored == limits.high


@pytest.mark.parametrize(("args", "words"), [
    # the findings, one by one
    (["accounts", "edit", "old@example.com", "--min-gap", "86401"],
     "minimum gap 86401 is too large (at most 86,400 seconds)"),
    (["accounts", "edit", "old@example.com", "--imap-port", "0"],
     "IMAP port 0 is too small (at least 1)"),
    (["accounts", "add", "--email", "x@example.com", *HOSTS, "--imap-port", "99999"],
     "IMAP port 99999 is too large (at most 65535)"),
    (["accounts", "remove", "unknown@x.test"], "no account unknown@x.test"),
    (["accounts", "disconnect", "unknown@x.test"], "no account unknown@x.test"),
    (["accounts", "reconnect", "unknown@x.test"], "no account unknown@x.test"),
    (["accounts", "resume-sending", "unknown@x.test"], "no account unknown@x.test"),
    (["accounts", "edit", "unknown@x.test", "--name", "X"], "no account unknown@x.test"),
    (["campaigns", "pause", "Nope"], "no campaign named 'Nope'"),
    (["campaigns", "edit", "C", "--auto-reallocate", "0"],
     "--auto-reallocate 0 is too small (at least 1 minute)"),
    (["accounts", "add", "--email", "rep@gmail.com"],
     "rep@gmail.com signs in with a password, and none was given"),
    (["notify", "add", "X", "--webhook", ""], "the webhook URL is empty"),
    (["notify", "add", "X", "--slack", ""], "the webhook URL is empty"),
    (["notify", "add", "X", "--email", ""], "the alert address is empty"),
    (["accounts", "add", "--email", ""], "the email address is empty"),
    (["accounts", "add", "--email", "x@example.com", "--imap-host", "", "--smtp-host", "h.x"],
     "the IMAP host is missing"),
    (["accounts", "add", "--email", "x@example.com", *HOSTS, "--warmup", ""],
     "the warm-up is empty"),
    (["accounts", "add", "--email", "x@example.com", *HOSTS, "--ca-file", ""],
     "the CA file is empty"),
    (["accounts", "add", "--email", "x@example.com", *HOSTS, "--timeout", "0"],
     "--timeout 0 is too small"),
    (["check", "--concurrency", "65"], "--concurrency 65 is too large (at most 64)"),
])
def test_each_finding_is_one_line_exit_3_and_changes_nothing(
        cli: Cli, data_dir: Path, args: list[str], words: str) -> None:
    assert cli("accounts", "add", "--email", "old@example.com", *HOSTS, "--password-stdin",
               stdin="pw\n")[0] == EXIT_OK
    steps = data_dir / "steps.json"
    steps.write_text(json.dumps([{"subject": "Hi", "body": "B", "delay_days": 0}]))
    assert cli("campaigns", "create", "C", "--mailbox", "old@example.com", "--steps",
               str(steps))[0] == EXIT_OK
    before = (listed(cli), cli("campaigns", "list", "--json")[1],
              cli("notify", "list", "--json")[1])
    code, out, err = cli(*args, stdin="pw\n")
    assert (code, out) == (EXIT_USAGE, ""), (args, out, err)
    assert words in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert (listed(cli), cli("campaigns", "list", "--json")[1],
            cli("notify", "list", "--json")[1]) == before


@pytest.mark.parametrize(("security", "ports"), [
    ([], (993, 465)),
    (["--imap-security", "starttls", "--smtp-security", "starttls"], (143, 587)),
    (["--imap-security", "ssl", "--smtp-security", "plain"], (993, 25)),
])
def test_ports_left_out_are_the_usual_ones_for_the_security(
        cli: Cli, security: list[str], ports: tuple[int, int]) -> None:
    code, _, err = cli("accounts", "add", "--email", "x@example.com", *HOSTS, *security,
                       "--password-stdin", stdin="pw\n")
    assert code == EXIT_OK, err
    (row,) = listed(cli)
    assert (row["imap"]["port"], row["smtp"]["port"]) == ports  # type: ignore[index]


def test_a_google_mailbox_without_a_password_is_pointed_to_the_browser(cli: Cli) -> None:
    code, _, err = cli("accounts", "add", "--email", "rep@gmail.com")
    assert code == EXIT_USAGE
    assert err == ("mailmonitor: rep@gmail.com signs in with a password, and none was given "
                   "(--password-stdin, or a password column) — or --kind gmail to sign in "
                   "through the browser\n")
    assert listed(cli) == []
