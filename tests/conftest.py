"""Shared fixtures: a fresh SQLite file per test, an in-memory keyring, an injectable clock."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from mailmonitor.clock import FakeClock
from mailmonitor.models import close_db, open_db
from mailmonitor.services.events import bus
from tests.memory_keyring import MemoryKeyring


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def _clean_bus() -> Iterator[None]:
    yield
    bus._handlers.clear()


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mm-data-"))
    yield path


@pytest.fixture
def db(data_dir: Path) -> Iterator[Path]:
    """A real SQLite file in a fresh folder, schema created, bound to the models."""
    path = data_dir / "mailmonitor.sqlite3"
    open_db(path)
    yield path
    close_db()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
