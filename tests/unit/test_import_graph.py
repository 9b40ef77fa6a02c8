"""Which parts may import which (the sub-packages' docstrings): checked in a fresh interpreter,
so what a module loads is what importing it really costs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def loaded_by(module: str, prefix: str) -> list[str]:
    code = (f"import sys, {module}; "
            f"print(' '.join(sorted(m for m in sys.modules if m.startswith({prefix!r}))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=60).stdout
    return out.split()


@pytest.mark.parametrize(("module", "must_not_load"), [
    ("mailmonitor.models", "mailmonitor.services"),
    # The checker is handed its token provider: it never reaches for the OAuth service...
    ("mailmonitor.services.monitoring.checker", "mailmonitor.services.auth.oauth"),
    # ...and the OAuth service installs nothing into the monitoring side.
    ("mailmonitor.services.auth.oauth", "mailmonitor.services.monitoring"),
    ("mailmonitor.services.auth.tokens", "mailmonitor.services.auth.oauth"),
])
def test_module_does_not_load(module: str, must_not_load: str) -> None:
    assert loaded_by(module, must_not_load) == []
