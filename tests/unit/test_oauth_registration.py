"""The team's client registrations (issue 12 §3): `mailmonitor oauth setup` stores client IDs as
settings and the Google client secret in the keyring (never the database); environment variables
still override; bad input is one line, exit 3, nothing changed."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import pytest

from mailmonitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from mailmonitor.models import DB_FILENAME, close_db, get_setting, open_db
from mailmonitor.services.auth import registration as reg
from mailmonitor.services.auth.config import google_config, microsoft_config
from mailmonitor.services.auth.secrets import get_secret

Cli = Callable[..., tuple[int, str, str]]
SECRET = "GOCSPX-team-desktop-secret"
GUID = "0b8c7a52-3f9e-4d1a-9c55-2b7f0c1d9e44"


def client_file(tmp_path: Path, kind: str = "installed", **extra: str) -> Path:
    path = tmp_path / "client_secret_1234.json"
    path.write_text(json.dumps({kind: {
        "client_id": "1234-team.apps.googleusercontent.com", "client_secret": SECRET,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token", **extra}}))
    return path


def database_bytes(data_dir: Path) -> bytes:
    con = sqlite3.connect(data_dir / DB_FILENAME)
    con.execute("PRAGMA wal_checkpoint(FULL)")
    con.close()
    return b"".join(p.read_bytes() for p in data_dir.glob(DB_FILENAME + "*"))


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[None]:
    for name in ("MAILMONITOR_GOOGLE_CLIENT_ID", "MAILMONITOR_GOOGLE_CLIENT_SECRET",
                 "MAILMONITOR_GOOGLE_AUTH_URI", "MAILMONITOR_GOOGLE_TOKEN_URI",
                 "MAILMONITOR_MS_CLIENT_ID", "MAILMONITOR_MS_AUTHORITY"):
        monkeypatch.delenv(name, raising=False)
    yield
    # The models stay bound to the last database after close_db(): leave it without
    # registrations, so later tests see none.
    if (data_dir / DB_FILENAME).exists():
        open_db(data_dir / DB_FILENAME)
        try:
            with contextlib.suppress(Exception):
                reg.clear("google")
            reg.clear("microsoft")
        finally:
            close_db()


def test_setup_from_googles_client_file_keeps_the_secret_in_the_keyring(
        cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    code, out, err = cli("oauth", "setup", "--google-client-json", str(client_file(tmp_path)))
    assert (code, err) == (EXIT_OK, "")
    assert out.splitlines()[0] == "Google sign-in is set up."
    assert ("Google: client ID 1234-team.apps.googleusercontent.com from the settings; client "
            "secret stored in the keyring") in out
    assert "Microsoft: not set up" in out
    assert SECRET not in out
    assert SECRET.encode() not in database_bytes(data_dir)
    assert get_secret(reg.GOOGLE_SECRET_OWNER, reg.GOOGLE_SECRET_KIND) == SECRET

    code, out, _ = cli("oauth", "setup", "--show")
    assert code == EXIT_OK and "1234-team.apps.googleusercontent.com from the settings" in out
    assert SECRET not in out


def test_stored_registrations_are_used_and_the_environment_overrides(
        cli: Cli, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("oauth", "setup", "--google-client-id", "id-1.apps.googleusercontent.com",
               "--google-client-secret", SECRET, "--ms-client-id", GUID,
               "--ms-authority", "https://login.microsoftonline.com/organizations/")[0] == EXIT_OK
    open_db(data_dir / DB_FILENAME)
    try:
        google = google_config()
        assert (google.client_id, google.client_secret) == ("id-1.apps.googleusercontent.com",
                                                            SECRET)
        ms = microsoft_config()
        assert (ms.client_id, ms.authority) == (GUID,
                                                "https://login.microsoftonline.com/organizations")
        monkeypatch.setenv("MAILMONITOR_GOOGLE_CLIENT_ID", "env-id")
        monkeypatch.setenv("MAILMONITOR_GOOGLE_CLIENT_SECRET", "env-secret")
        monkeypatch.setenv("MAILMONITOR_MS_AUTHORITY", "https://idp.test/tenant")
        google = google_config()
        assert (google.client_id, google.client_secret) == ("env-id", "env-secret")
        assert microsoft_config().authority == "https://idp.test/tenant"
        assert reg.registration("google").source == "environment"
        assert "from environment variables" in reg.registration("google").describe()
    finally:
        close_db()


@pytest.mark.parametrize(("args", "message"), [
    (["--google-client-id", "x.apps.googleusercontent.com"],
     "--google-client-id and --google-client-secret go together"),
    (["--google-client-id", "has space", "--google-client-secret", "s"],
     "is not a valid Google client ID"),
    (["--ms-client-id", "not-a-guid"], "is not a Microsoft application (client) ID"),
    (["--ms-client-id", GUID, "--ms-authority", "http://login.example/common"],
     "must be an https:// address"),
    (["--ms-client-id", GUID, "--ms-authority", "https://login.microsoftonline.com"],
     "needs a tenant in its path"),
    (["--ms-authority", "https://login.microsoftonline.com/common"],
     "--ms-authority needs --ms-client-id"),
    ([], "say what to set up"),
])
def test_bad_input_is_one_line_and_changes_nothing(cli: Cli, data_dir: Path, args: list[str],
                                                   message: str) -> None:
    code, out, err = cli("oauth", "setup", *args)
    assert code == EXIT_USAGE and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
    open_db(data_dir / DB_FILENAME)
    try:
        assert get_setting("google_client_id") is None and get_setting("ms_client_id") is None
    finally:
        close_db()


def test_a_web_client_file_or_garbage_is_refused(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("oauth", "setup", "--google-client-json",
                       str(client_file(tmp_path, kind="web")))
    assert code == EXIT_USAGE and "“Web application” client" in err and "Desktop app" in err
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    code, _, err = cli("oauth", "setup", "--google-client-json", str(garbage))
    assert code == EXIT_USAGE and "not a Google client file" in err
    code, _, err = cli("oauth", "setup", "--google-client-json", str(tmp_path / "missing.json"))
    assert code == EXIT_USAGE and "cannot read" in err
    assert get_secret(reg.GOOGLE_SECRET_OWNER, reg.GOOGLE_SECRET_KIND) is None


def test_without_a_keyring_nothing_is_stored(cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    from keyring.backends.fail import Keyring as FailKeyring

    keyring.set_keyring(FailKeyring())
    code, out, err = cli("oauth", "setup", "--google-client-json", str(client_file(tmp_path)))
    assert code == EXIT_FAILED and out == "" and len(err.strip().splitlines()) == 1
    open_db(data_dir / DB_FILENAME)
    try:
        assert get_setting("google_client_id") is None
    finally:
        close_db()


def test_clear_forgets_the_stored_registration(cli: Cli, tmp_path: Path) -> None:
    assert cli("oauth", "setup", "--google-client-json", str(client_file(tmp_path)),
               "--ms-client-id", GUID)[0] == EXIT_OK
    code, out, _ = cli("oauth", "setup", "--clear", "google")
    assert code == EXIT_OK and "Google: not set up" in out and f"client ID {GUID}" in out
    assert get_secret(reg.GOOGLE_SECRET_OWNER, reg.GOOGLE_SECRET_KIND) is None
