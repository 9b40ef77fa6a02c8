"""Settings → Sign-in (issue 12 §3): the team's admin imports Google's client file and enters the
Microsoft client ID once; the secret goes to the keyring, the IDs to the settings, and the Google
and Microsoft buttons of Add mailbox come alive."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from mailmonitor.models import Setting, get_setting
from mailmonitor.services.auth import registration as reg
from mailmonitor.services.auth.secrets import get_secret
from mailmonitor.ui.main_window import MainWindow
from tests.ui.helpers import run

pytestmark = pytest.mark.ui

SECRET = "GOCSPX-from-the-console"
GUID = "0b8c7a52-3f9e-4d1a-9c55-2b7f0c1d9e44"


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAILMONITOR_GOOGLE_CLIENT_ID", "MAILMONITOR_MS_CLIENT_ID",
                 "MAILMONITOR_MS_AUTHORITY"):
        monkeypatch.delenv(name, raising=False)


def test_the_admin_sets_up_google_and_microsoft_once(
        db: Path, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        tmp_path: Path, memory_keyring: Any, qtbot: Any, qapp: QApplication) -> None:
    client = tmp_path / "client_secret_42.json"
    client.write_text(json.dumps({"installed": {
        "client_id": "42-team.apps.googleusercontent.com", "client_secret": SECRET,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token"}}))
    window = make_window()
    add = window.open_add_account()
    add.set_kind("microsoft")
    assert not add.sign_in.isEnabled()
    add.reject()
    qapp.processEvents()  # the closed dialog is deleted

    dialog = window.open_sign_in_settings()
    page = dialog.sign_in
    assert "Not set up" in page.google_status.text() and "Not set up" in page.ms_status.text()
    assert page.import_google_json(str(client))
    assert page.google_id.text() == "42-team.apps.googleusercontent.com"
    page.ms_id.setText("not a guid")
    dialog.save_button.click()
    assert dialog.isVisible() and "is not a valid Microsoft client (application) ID" in \
        page.error.text() and "Nothing was saved" in page.error.text()
    assert get_setting("google_client_id") is None  # nothing saved
    page.ms_id.setText(GUID)
    closed: list[int] = []
    dialog.finished.connect(closed.append)
    dialog.save_button.click()
    run(qloop, window)
    assert closed == [1]  # accepted (and deleted)
    assert window.statusBar().currentMessage() == "Settings saved."
    assert get_setting("google_client_id") == "42-team.apps.googleusercontent.com"
    assert get_setting("ms_client_id") == GUID
    assert get_secret(reg.GOOGLE_SECRET_OWNER, reg.GOOGLE_SECRET_KIND) == SECRET
    assert all(SECRET not in json.dumps(row.value) for row in Setting.select())

    add = window.open_add_account()
    add.set_kind("gmail")
    assert add.sign_in.isEnabled()
    add.set_kind("microsoft")
    assert add.sign_in.isEnabled()
    add.reject()
    again = window.open_sign_in_settings()
    assert "Set up" in again.sign_in.google_status.text()
    assert again.sign_in.google_secret.text() == ""  # the secret is never shown again
    again.reject()
