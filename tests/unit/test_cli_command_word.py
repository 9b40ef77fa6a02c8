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


def test_check_leaves_the_collector_as_it_found_it(
        data_dir: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    """`check` tunes the garbage collector for its start-up and sweep (off, frozen, collected
    less often); an in-process caller gets it back as it was, also after a failed command."""
    import gc

    from mailmonitor.cli.check import SWEEP_GC_YOUNG

    before = gc.get_threshold()
    assert before[0] != SWEEP_GC_YOUNG and gc.isenabled()
    assert cli("check", "--json")[0] == 0
    assert cli("check", "nobody@x.test")[0] == 3  # refused after start-up
    assert (gc.get_threshold(), gc.isenabled(), gc.get_freeze_count()) == (before, True, 0)
