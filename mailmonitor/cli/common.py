"""What every command group of the command line uses: exit codes, the two errors a command
raises, the argument parser class, JSON output, reading a secret from standard input.

The bottom floor of mailmonitor.cli: imports no other module of the package (nor services or
models), so every group can import it and nothing in it can lead back to a group.

Exit codes (spec §7, a contract): 0 success; 1 the operation failed (or `check`: any warning);
2 `check`: any disconnected; 3 bad input or usage (one line on stderr; nothing changed); 141
standard output's reader went early (as a command killed by SIGPIPE; 130: Ctrl-C)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn, Protocol, TypeAlias

EXIT_OK, EXIT_FAILED, EXIT_CRITICAL, EXIT_USAGE = 0, 1, 2, 3
# A reader that closed standard output early (`mailmonitor check --json | head -1`): the exit
# status of a Unix command ended by SIGPIPE (128 + 13), as 130 is Ctrl-C's.
EXIT_BROKEN_PIPE = 141


class UsageError(Exception):
    """Bad input or usage: `main` prints the one line and exits 3; nothing was changed."""


class Failure(Exception):
    """The command could not do what was asked; one line for the rep."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# What `parser.add_subparsers(parser_class=Parser)` returns: each group adds its sub-commands
# to it (only a name for the type checker; argparse's class is not subscriptable at run time).
Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"

# A command of a group: its parsed arguments and the time it started at (UTC) → an exit code.
Command: TypeAlias = Callable[[argparse.Namespace, datetime], int]


class Group(Protocol):
    """A command group's module (mailmonitor.cli.GROUPS names them)."""

    def add_parser(self, sub: Subparsers, common: Parser) -> dict[str, Command]:
        """Add this group's sub-command(s) to `sub`, with `common` (--data-dir, --database) as
        parent; return what runs each of them, by name."""
        ...


def read_password_stdin() -> str:
    data = sys.stdin.readline()
    password = data.rstrip("\r\n")
    if not password:
        raise UsageError("--password-stdin was given but standard input had no password")
    return password


def print_json(value: Any) -> None:
    """`value` as JSON; a list one item per line (`check --json` of 500 mailboxes: 5 ms,
    against 12 ms indented throughout, issue 22)."""
    if isinstance(value, list) and value:
        print("[\n" + ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in value)
              + "\n]")
    else:
        print(json.dumps(value, indent=2, ensure_ascii=False))


def iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def mailbox_line(email: str, status: str, reason: str | None, detail: str = "") -> str:
    """One mailbox in the window's words: its status ("Retrying"), then its Reason column
    ("Retrying: timed out", "You disconnected this mailbox"), then the server's answer."""
    from mailmonitor.services.common.vocabulary import NO_REASON, reason_words, status_words

    why = reason_words(status, reason)
    return (f"{email:40} {status_words(status):14} {'' if why == NO_REASON else why}"
            + (f" — {detail}" if detail else "")).rstrip()
