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
        with self._locked() as data:
            return data.get(f"{service}\x00{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._locked() as data:
            data[f"{service}\x00{username}"] = password

    def delete_password(self, service: str, username: str) -> None:
        with self._locked() as data:
            if data.pop(f"{service}\x00{username}", None) is None:
                raise keyring.errors.PasswordDeleteError(username)
