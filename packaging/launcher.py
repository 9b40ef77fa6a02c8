"""Entry script of the frozen app (PyInstaller): the same `main()` as the `mailmonitor` command.

Kept tiny on purpose. Two things only a frozen app has to care about:
- a windowed build (Windows `mailmonitor.exe`, the macOS .app) has no stdout/stderr at all:
  give it null streams so no print or log handler can fail on them;
- output piped into a reader that goes away (`mailmonitor --self-test | head -1`) must not turn
  into an error at exit.
"""

from __future__ import annotations

import os
import sys


def _null_streams() -> None:
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def run() -> int:
    _null_streams()
    os.environ.setdefault("QT_API", "pyside6")
    from mailmonitor.cli import main

    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left; point stdout at /dev/null so the interpreter's final flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    return code


if __name__ == "__main__":
    sys.exit(run())
