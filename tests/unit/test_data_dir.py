"""The data folder (database, logs) is private to the user: created 0700 whatever the umask."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailmonitor.config import DataDirError, prepare_data_dir, resolve_data_dir
from mailmonitor.logsetup import setup_logging


@pytest.fixture(params=[0o022, 0o002, 0o000], ids=["umask022", "umask002", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_data_folder_is_0700(tmp_path: Path, umask: int) -> None:
    path = prepare_data_dir(tmp_path / "a" / "b" / "mailmonitor")
    assert path.is_dir()
    assert mode(path) == 0o700
    assert not (path / ".write-test").exists()


def test_log_folder_is_0700(tmp_path: Path, umask: int) -> None:
    data = prepare_data_dir(tmp_path / "mailmonitor")
    try:
        log_file = setup_logging(data)
        assert mode(log_file.parent) == 0o700
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_mailmonitor", False)]:
            root.removeHandler(handler)
            handler.close()


@pytest.mark.parametrize("existing_mode", [0o777, 0o750, 0o705])
def test_an_existing_folder_open_to_others_is_tightened_like_a_new_one(
        tmp_path: Path, existing_mode: int) -> None:
    existing = tmp_path / "chosen"
    existing.mkdir()
    os.chmod(existing, existing_mode)
    (existing / "keep.txt").write_text("the rep's file")
    assert prepare_data_dir(existing) == existing
    assert mode(existing) == 0o700
    assert (existing / "keep.txt").read_text() == "the rep's file"


def test_a_private_existing_folder_is_left_as_it_is(tmp_path: Path) -> None:
    existing = tmp_path / "chosen"
    existing.mkdir()
    os.chmod(existing, 0o500 | 0o200)
    assert prepare_data_dir(existing) == existing and mode(existing) == 0o700


def test_a_shared_folder_like_tmp_is_refused_and_not_changed(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    with pytest.raises(DataDirError, match=r"shared with other users \(mode 1777\)"):
        prepare_data_dir(shared)
    assert mode(shared) == 0o1777


def test_cli_tightens_an_existing_0777_data_folder(cli, data_dir: Path) -> None:
    os.chmod(data_dir, 0o777)
    assert cli("accounts", "list")[0] == 0
    assert mode(data_dir) == 0o700


def test_default_is_the_platforms_user_data_folder(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILMONITOR_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert resolve_data_dir(None) == tmp_path / "share" / "mailmonitor"
    path = prepare_data_dir(resolve_data_dir(None))
    assert mode(path) == 0o700


def test_unusable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DataDirError, match="cannot use data folder"):
        prepare_data_dir(blocker / "mailmonitor")
