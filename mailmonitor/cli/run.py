"""`mailmonitor run --headless`: monitoring and sending without a window, until SIGTERM."""

from __future__ import annotations

from pathlib import Path

from mailmonitor.cli.common import Command, Parser, Subparsers


def add_parser(sub: Subparsers, common: Parser) -> dict[str, Command]:
    """`run` has its own start-up: `mailmonitor.cli` calls `cmd_run_headless` itself."""
    run = sub.add_parser("run", parents=[common], help="monitoring and sending without a window")
    run.add_argument("--headless", action="store_true", required=True,
                     help="required: run without a window until SIGTERM")
    return {}


def cmd_run_headless(data_dir: Path) -> int:
    from mailmonitor.headless import run_headless

    return run_headless(data_dir)
