"""Where data lives, and configuration that comes from the environment."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "mailmonitor"
DATA_DIR_ENV = "MAILMONITOR_DATA_DIR"


class DataDirError(Exception):
    pass


def resolve_data_dir(cli_value: str | None) -> Path:
    raw = cli_value or os.environ.get(DATA_DIR_ENV) or platformdirs.user_data_dir(APP_NAME)
    return Path(raw).expanduser()


def prepare_data_dir(path: Path) -> Path:
    """Create the data folder with private permissions; a clear error when that is impossible."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise DataDirError(f"cannot use data folder {path}: {exc.strerror or exc}") from None
    return path
