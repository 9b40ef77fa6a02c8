"""The keyring code against a real Secret Service (gnome-keyring), not the tests' in-memory one.

Runs in a subprocess under its own D-Bus session (`dbus-run-session`), with a fresh HOME and the
login keyring unlocked by `gnome-keyring-daemon --unlock` (platform notes: headless machines have
no keyring otherwise). `make test` installs gnome-keyring (TEST_DEBS)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = r"""
import json, sys
from mailmonitor.services.auth import secrets

email, token, cache = sys.argv[1], sys.argv[2], sys.argv[3]
usable, backend = secrets.keyring_status()
secrets.set_secret(email, "refresh_token", token)
secrets.set_secret(email, "msal_cache", cache)
read = (secrets.get_secret(email, "refresh_token"), secrets.get_secret(email, "msal_cache"))
secrets.delete_secret(email, "refresh_token")
after = secrets.get_secret(email, "refresh_token")
print(json.dumps({"usable": usable, "backend": backend, "read_token": read[0] == token,
                  "read_cache": read[1] == cache, "after_delete": after}))
"""


def test_secrets_round_trip_through_gnome_keyring() -> None:
    for tool in ("dbus-run-session", "gnome-keyring-daemon"):
        assert shutil.which(tool), f"{tool} is missing: apt-get install dbus gnome-keyring"
    home = Path(tempfile.mkdtemp(prefix="mm-keyring-home-"))
    try:
        token = "1//secret-service-" + os.urandom(12).hex()
        cached = "0.AX-secret-service-" + os.urandom(12).hex()
        cache = json.dumps({"RefreshToken": {"k": {"secret": cached, "padding": "x" * 3000}}})
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
               "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring",
               "LANG": "C.UTF-8"}
        command = ("printf test-password | gnome-keyring-daemon --unlock --components=secrets "
                   '--daemonize >/dev/null && exec "$0" -c "$1" "$2" "$3" "$4"')
        proc = subprocess.run(
            ["dbus-run-session", "--", "sh", "-c", command, sys.executable, SCRIPT,
             "rep@example.test", token, cache],
            env=env, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result == {"usable": True, "backend": "keyring.backends.SecretService.Keyring",
                          "read_token": True, "read_cache": True, "after_delete": None}
        keyrings = list((home / ".local/share/keyrings").glob("*"))
        assert keyrings, "gnome-keyring stored nothing on disk"
        for path in keyrings:  # the kept cache is encrypted at rest
            assert cached.encode() not in path.read_bytes()
        assert sum(path.stat().st_size for path in keyrings) > 3000  # it is in there
    finally:
        shutil.rmtree(home, ignore_errors=True)
