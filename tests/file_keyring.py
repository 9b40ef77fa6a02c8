"""A keyring backend in a JSON file, for tests that run mailmonitor as a subprocess (the kill
test): the in-memory backend cannot cross processes. TESTS ONLY — it keeps secrets in plain text
(throwaway passwords of test Dovecot users); the app never selects it. Chosen with
    PYTHON_KEYRING_BACKEND=tests.file_keyring.FileKeyring
    MAILMONITOR_TEST_KEYRING_FILE=/tmp/…/keyring.json
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

import keyring.backend
import keyring.errors

FILE_ENV = "MAILMONITOR_TEST_KEYRING_FILE"


class FileKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]
    _cache: tuple[tuple[str, int, int, int], dict[str, str]] | None = None

    @property
    def path(self) -> Path:
        value = os.environ.get(FILE_ENV)
        if not value:
            raise keyring.errors.KeyringError(f"{FILE_ENV} is not set")
        return Path(value)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, str]]:
        path = self.path
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            data = json.loads(path.read_text()) if path.exists() else {}
            before = dict(data)
            yield data
            if data != before:
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(data))
                tmp.chmod(0o600)
                os.replace(tmp, path)

    def get_password(self, service: str, username: str) -> str | None:
        # Read-only: the file as last parsed while it is the same file (a write replaces it,
        # so a new inode or size or time means read it again) — a check of 500 mailboxes
        # reads it 500 times, and parsing it each time was the test double's cost, not the app's.
        path = self.path
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        stamp = (str(path), info.st_ino, info.st_size, info.st_mtime_ns)
        cached = self._cache
        if cached is None or cached[0] != stamp:
            with open(path.with_suffix(".lock"), "a") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_SH)
                data = json.loads(path.read_text()) if path.exists() else {}
            cached = self._cache = (stamp, data)
        return cached[1].get(f"{service}\x00{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._locked() as data:
            data[f"{service}\x00{username}"] = password

    def delete_password(self, service: str, username: str) -> None:
        with self._locked() as data:
            if data.pop(f"{service}\x00{username}", None) is None:
                raise keyring.errors.PasswordDeleteError(username)
