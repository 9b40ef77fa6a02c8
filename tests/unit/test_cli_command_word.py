"""`check` assembles only its own parser and skips start-up's collections (issue 22), also when
the options every command takes come before it (`mailmonitor --data-dir D check`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mailmonitor.cli import command_word


@pytest.mark.parametrize(("argv", "word"), [
    (["check", "--json"], "check"),
    (["--data-dir", "/d", "check"], "check"),
    (["--data-dir=/d", "--database", "postgresql://h/db", "check", "--json"], "check"),
    (["--database=sqlite.db", "accounts", "list"], "accounts"),
    (["--data-dir", "/d"], None),
    (["--json", "check"], None),  # an option no command takes before its name: argparse says
    ([], None),
])
def test_the_command_is_found_past_the_options_before_it(argv: list[str],
                                                         word: str | None) -> None:
    assert command_word(argv) == word


def test_check_after_the_data_folder_runs_and_says_the_same(
        data_dir: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    first = cli("check", "--json")
    again = cli("--data-dir", str(data_dir), "check", "--json")
    assert first == again == (0, "[]\n", "")
    code, _out, err = cli("--data-dir", str(data_dir), "check", "--bogus")
    assert code == 3 and "unrecognized arguments: --bogus" in err
