"""The command line (spec §7 — a contract: tests outside the project use it): `main` is the
`mailmonitor` command (pyproject.toml's entry point) and `python -m mailmonitor`.

The top floor: may import mailmonitor.services, mailmonitor.models and the base modules (clock,
config, events, wording, logsetup, …) and, lazily, app/demo/headless; nothing imports
mailmonitor.cli (but the entry scripts: mailmonitor/__main__.py, cli/__main__.py and
packaging/launcher.py, which call `main`).

Inside the package each floor imports only the floors below it:
- this module: the root parser (--version, --self-test, `demo`), the assembly of the groups'
  parsers (GROUPS) and `main`, which starts up and runs the command;
- one module per command group: accounts, campaigns, leads, check (with its helper
  round_trip), run, alerts, maintenance, policies, notify, deliverability (suppress,
  deliverability settings), team, db, oauth. A group imports common and services/models, never
  another group nor this module;
- common: exit codes, Failure, UsageError, Parser, print_json, read_password_stdin.

A new command group is one module, named in GROUPS: its `add_parser(sub, common)` adds its
sub-command(s) to `sub` (with `common`, the --data-dir and --database options, as parent) and
returns the function that runs each, by name; `main` calls it with the parsed arguments and the
time once the database is open and housekeeping has run. Its place in GROUPS is its place in
`mailmonitor --help`. (check, run and db return nothing: they run at their own moment of
start-up, named in `_main`.) The groups are imported as the parser is assembled: `mailmonitor
check …` assembles only its own (its start-up is part of every scripted check's time, issue
22; the parser, its help and its errors are the same as with every group).

Exit codes: see common."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, cast

from mailmonitor import __version__
from mailmonitor.cli import check
from mailmonitor.cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Command,
    Failure,
    Group,
    Parser,
    UsageError,
)

log = logging.getLogger("mailmonitor")

# Every command group (a module of this package), in `mailmonitor --help` order (after `demo`).
GROUPS: tuple[str, ...] = (
    "check",
    "run",
    "accounts",
    "campaigns",
    "leads",
    "alerts",
    "maintenance",
    "policies",
    "notify",
    "deliverability",
    "team",
    "db",
    "oauth",
)
# Commands whose group's parser is all a command line starting with them needs (`check`: its
# start-up counts in every scripted check; the others' parsers cost it a tenth of it).
ALONE = {"check": "check"}


def group(name: str) -> Group:
    return cast(Group, importlib.import_module(f"mailmonitor.cli.{name}"))


def build_parser() -> Parser:
    return assemble()[0]


def assemble(only: str | None = None) -> tuple[Parser, dict[str, Command]]:
    """The parser, and what runs each command that `_main` does not name itself; `only`: just
    that group's sub-commands (the parser of a command line that starts with one of them)."""
    common = Parser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help="where the database and logs live (env MAILMONITOR_DATA_DIR)")
    common.add_argument("--database", default=argparse.SUPPRESS, metavar="URL",
                        help="postgresql://user@host/db?sslmode=… or a SQLite file "
                             "(env MAILMONITOR_DATABASE_URL; default: the data folder's)")

    parser = Parser(prog="mailmonitor", parents=[common],
                    description="Keeps outreach mailboxes connected and campaigns running. "
                    "Without a command, mailmonitor opens its window (so does `mailmonitor "
                    "demo`, on demo data); every other command runs here in the terminal and "
                    "opens no window.",
                    epilog="`mailmonitor COMMAND --help` lists a command's options. The rep's "
                    "guide is in the window: Help → Guide (F1).")
    parser.add_argument("--version", action="version", version=f"mailmonitor {__version__}",
                        help="print the version and exit")
    parser.add_argument("--self-test", action="store_true",
                        help="check the database, keyring and Qt platform, then exit")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")

    sub.add_parser("demo", parents=[common], help="the app with demo servers and data")
    commands: dict[str, Command] = {}
    for name in GROUPS if only is None else (only,):
        commands |= group(name).add_parser(sub, common)
    return parser, commands


# --- entry ----------------------------------------------------------------------------------

_VALUED = ("--data-dir", "--database")  # the options every command takes, each with a value


def command_word(argv: Sequence[str]) -> str | None:
    """The command named in `argv`, past the options before it (`--data-dir D check` is
    `check`); None when there is none or an option it does not know comes first."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in _VALUED:
            i += 2
        elif word.startswith(tuple(f"{o}=" for o in _VALUED)):
            i += 1
        else:
            return None if word.startswith("-") else word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    checking = command_word(args) == "check"
    collecting, thresholds = gc.isenabled(), gc.get_threshold()
    if collecting and checking:
        # What start-up makes (modules, classes, the parser) lives until the command ends:
        # no garbage collection while it is made (check.cmd_check freezes it and collects
        # again for the sweep, less often). A tenth of `check`'s start-up went to collections
        # (issue 22).
        gc.disable()
    try:
        code = _run(args, own_process=argv is None)
    finally:
        gc.set_threshold(*thresholds)  # as the command found the collector
        if collecting:
            gc.enable()
    if argv is None and checking:
        _end_process(code)
    return code


def _run(args: list[str], own_process: bool) -> int:
    try:
        return _main(args)
    except UsageError as exc:
        print(f"mailmonitor: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Quietly, as a Unix command ends when its reader has gone: no message, no traceback;
        # what the command did stays done (`check`: its checks are recorded).
        if own_process:  # the process's own standard output (an in-process caller keeps its)
            _drop_stdout()
        return EXIT_BROKEN_PIPE


def _end_process(code: int) -> NoReturn:
    """The process ends here, as soon as the command is done (`check`, whose every second
    counts in the scripts that run it): its output flushed, the exit handlers run (the log's
    last lines written), then no interpreter tear-down. A check thread that ignored every bound
    cannot hold the process open (the interpreter's exit waits for every worker thread), and
    the tear-down's freeing of every module and object is skipped: 500 mailboxes, from the end
    of `main` to the process reaped, 15 → 9 ms (issue 22). The database was closed by the
    command; output the reader did not take ends the command as in `_run`."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went before the last of the output: as in `_run`
        _drop_stdout()
        code = EXIT_BROKEN_PIPE
    except (AttributeError, OSError, ValueError):  # none, closed or not writable
        code = code or EXIT_FAILED
    atexit._run_exitfuncs()  # logging.shutdown, and any other library's
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)


def _drop_stdout() -> None:
    """Standard output's reader has gone: what is still buffered for it goes nowhere (else the
    interpreter's last flush fails again at exit, says so on stderr and exits 120)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a caller's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _main(argv: list[str]) -> int:
    from mailmonitor.config import DataDirError, prepare_data_dir, resolve_data_dir
    from mailmonitor.services.auth.secrets import SecretStoreError
    from mailmonitor.services.common.validation import InvalidInput

    word = command_word(argv)
    parser, commands = assemble(ALONE.get(word) if word else None)
    args = parser.parse_args(argv)
    if args.command == "run":
        from mailmonitor.headless import catch_stop_signals_early

        catch_stop_signals_early()  # a SIGTERM while starting up still stops gracefully
    if args.command == "demo":
        from mailmonitor.demo import run_demo

        return run_demo()
    try:
        data_dir = prepare_data_dir(resolve_data_dir(getattr(args, "data_dir", None)))
    except DataDirError as exc:
        raise UsageError(str(exc)) from None
    if args.self_test:
        from mailmonitor.selftest import run_self_test

        return run_self_test(data_dir)
    from mailmonitor.models import DB_FILENAME, SchemaTooNew, close_db, open_db
    from mailmonitor.models.database import DatabaseURLError, first_line
    from mailmonitor.services.team import local as team_local

    team_local.apply(data_dir)  # this copy's member name (team.json / MAILMONITOR_MEMBER)
    try:
        target = team_local.database_for(getattr(args, "database", None), data_dir, DB_FILENAME)
    except DatabaseURLError as exc:
        raise UsageError(f"--database: {exc}") from None
    if args.command is None:
        from mailmonitor.app import run_app
        from mailmonitor.services.team.connect import restart_if_requested

        return restart_if_requested(run_app(data_dir, database=target))

    import peewee

    from mailmonitor.clock import utcnow
    from mailmonitor.logsetup import setup_logging

    setup_logging(data_dir)
    if args.command == "db":
        from mailmonitor.cli import db

        return db.cmd_db(args, target)
    try:
        open_db(target)
    except SchemaTooNew as exc:
        print(f"mailmonitor: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        where = f"in {data_dir}" if target.kind == "sqlite" else target.describe()
        raise UsageError(f"cannot open the database {where}: {first_line(exc)}") from None
    from mailmonitor.services.team.live import announce_changes

    if args.command != "run":  # `run` publishes and listens through its BackgroundWork
        announce_changes()  # a team database: the other copies' windows hear of what this changes
    from mailmonitor.services.team.members import register_this_member

    register_this_member()
    try:
        now = utcnow()
        if args.command == "check":
            return _told(check.cmd_check(args))
        if args.command == "run":
            from mailmonitor.cli import run

            return run.cmd_run_headless(data_dir)
        from mailmonitor.services.campaigns.lifecycle import run_housekeeping

        run_housekeeping(now)
        command = commands.get(args.command)
        if command is None:
            raise UsageError(f"unknown command {args.command}")
        return _told(command(args, now))
    except InvalidInput as exc:
        raise UsageError(str(exc)) from None
    except (Failure, SecretStoreError) as exc:
        print(f"mailmonitor: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        # Standard output's reader has gone (`… | head -1`): what the command did is done
        # (`check`: its checks are recorded), so the rep is told of it as after any command;
        # `main` ends quietly.
        _told(EXIT_OK)
        raise
    except OSError as exc:
        log.exception("command failed")
        print(f"mailmonitor: {exc.strerror or exc} — nothing was changed", file=sys.stderr)
        return EXIT_FAILED
    except peewee.DatabaseError as exc:  # a full disk, a locked or damaged file
        from mailmonitor.logsetup import original_error

        cause = original_error(exc)
        log.error("database error: %s", cause, exc_info=exc)
        where = f"in {data_dir}" if target.kind == "sqlite" else target.describe()
        print(f"mailmonitor: the database {where} could not be written ({cause}) — nothing "
              "was changed", file=sys.stderr)
        return EXIT_FAILED
    finally:
        close_db()


def _told(code: int) -> int:
    """After a command, what the rep is told follows what it changed (the attention model's
    alerts, which the window, the tray and the channels show); a failure here is logged and
    changes nothing of the command's outcome."""
    from mailmonitor.clock import utcnow
    from mailmonitor.services.alerts.reconciler import reconcile

    try:
        reconcile(utcnow())
    except Exception:
        log.exception("reconciling the alerts after the command failed")
    return code
