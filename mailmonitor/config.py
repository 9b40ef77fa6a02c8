"""Where data lives, and configuration that comes from the environment."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import platformdirs

APP_NAME = "mailmonitor"
DATA_DIR_ENV = "MAILMONITOR_DATA_DIR"


class DataDirError(Exception):
    pass


def resolve_data_dir(cli_value: str | None) -> Path:
    raw = cli_value or os.environ.get(DATA_DIR_ENV) or platformdirs.user_data_dir(APP_NAME)
    return Path(raw).expanduser()


def make_private(path: Path) -> None:
    """An existing data folder that others can read or enter is tightened to 0700 like a new
    one. A shared folder (sticky, like /tmp) or someone else's is refused, never changed."""
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise DataDirError(f"cannot use data folder {path}: it is not a folder")
    if os.name != "posix" or not info.st_mode & 0o077:
        return
    mode = stat.S_IMODE(info.st_mode)
    if info.st_mode & stat.S_ISVTX or info.st_uid != os.getuid():
        raise DataDirError(f"cannot use data folder {path}: it is shared with other users (mode "
                           f"{mode:04o}); choose a folder of its own")
    path.chmod(0o700)


def prepare_data_dir(path: Path) -> Path:
    """Create the data folder with private permissions (an existing one is made private); a
    clear error when that is impossible."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        make_private(path)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise DataDirError(f"cannot use data folder {path}: {exc.strerror or exc}") from None
    return path
