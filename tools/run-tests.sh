#!/usr/bin/env bash
# The whole suite: lint, types, the import floors (import-linter; contracts in pyproject.toml),
# then pytest (offscreen Qt; the tray tests under Xvfb inside a private D-Bus session). Any
# skipped test fails the run (see tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export QT_QPA_PLATFORM=offscreen
# Code that bypasses the tests' in-memory keyring must fail loudly, never touch a real one.
export PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring
unset REQUESTS_CA_BUNDLE
echo "== ruff"; "$VENV/bin/ruff" check mailmonitor tests benchmarks tools packaging
echo "== mypy"; "$VENV/bin/mypy"
echo "== import layers"; "$VENV/bin/lint-imports" --no-cache
echo "== pytest"
exec dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" \
  "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
