"""Settings → Sign-in: where the team's admin enters the Google and Microsoft client registrations
once (or imports Google's downloaded ``client_secret….json``), with a short guide. Values are
checked and stored by ``services.auth.registration`` (the Google secret goes to the keyring);
this page only collects them. Environment variables still win, and the page says so."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.services.auth import registration as reg
from mailmonitor.services.auth.config import MS_AUTHORITY

GOOGLE_GUIDE = (
    "<b>Google</b> (once per team): in Google Cloud console → APIs &amp; Services, enable the "
    "Gmail API and set up the OAuth consent screen (publish it “In production”, or sign-ins end "
    "after 7 days); then Credentials → Create credentials → OAuth client ID → <b>Desktop "
    "app</b>, and download its JSON file. Import it here.")
MICROSOFT_GUIDE = (
    "<b>Microsoft</b> (once per team): in Entra admin center → App registrations → New "
    "registration, add the platform “Mobile and desktop applications” with the redirect URI "
    "<tt>http://localhost</tt>, the delegated permissions IMAP.AccessAsUser.All, SMTP.Send and "
    "offline_access, and allow public client flows. Paste its Application (client) ID here.")


def _muted(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("muted")
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


@dataclass(frozen=True)
class SignInChanges:
    google: tuple[str, str, str | None, str | None] | None  # id, secret, auth_uri, token_uri
    microsoft: tuple[str, str | None] | None  # id, authority
    clear: tuple[str, ...] = ()  # providers whose stored registration the admin emptied

    @property
    def any(self) -> bool:
        return bool(self.google or self.microsoft or self.clear)


class OAuthSettingsPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("oauthSettings")
        self.google_status = _muted("")
        self.google_status.setObjectName("googleStatus")
        self.google_id = QLineEdit()
        self.google_id.setObjectName("googleClientId")
        self.google_id.setPlaceholderText("1234-abc.apps.googleusercontent.com")
        self.google_secret = QLineEdit()
        self.google_secret.setObjectName("googleClientSecret")
        self.google_secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.google_secret.setPlaceholderText("GOCSPX-…  (kept in the system keyring)")
        self.import_button = QPushButton("Import client_secret.json…")
        self.import_button.setObjectName("importGoogleJson")
        self._google_endpoints: tuple[str | None, str | None] = (None, None)
        google = QGroupBox("Google (Gmail, Google Workspace)")
        google_form = QFormLayout(google)
        google_form.addRow(_muted(GOOGLE_GUIDE))
        google_form.addRow(self.google_status)
        google_form.addRow("Client ID", self.google_id)
        google_form.addRow("Client secret", self.google_secret)
        import_row = QHBoxLayout()
        import_row.addWidget(self.import_button)
        import_row.addStretch(1)
        google_form.addRow("", import_row)

        self.ms_status = _muted("")
        self.ms_status.setObjectName("msStatus")
        self.ms_id = QLineEdit()
        self.ms_id.setObjectName("msClientId")
        self.ms_id.setPlaceholderText("12345678-1234-1234-1234-123456789abc")
        self.ms_authority = QLineEdit()
        self.ms_authority.setObjectName("msAuthority")
        self.ms_authority.setPlaceholderText(f"{MS_AUTHORITY}  (default)")
        microsoft = QGroupBox("Microsoft (Microsoft 365, Outlook)")
        ms_form = QFormLayout(microsoft)
        ms_form.addRow(_muted(MICROSOFT_GUIDE))
        ms_form.addRow(self.ms_status)
        ms_form.addRow("Application (client) ID", self.ms_id)
        ms_form.addRow("Authority", self.ms_authority)

        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(_muted("Reps sign in with their own Google or Microsoft account; these "
                                "identify this copy of mailmonitor to the provider. Enter them "
                                "once for the team."))
        layout.addWidget(google)
        layout.addWidget(microsoft)
        layout.addWidget(self.error)
        layout.addStretch(1)
        self.import_button.clicked.connect(lambda _c=False: self.choose_google_json())
        self.load()

    def load(self) -> None:
        google, ms = reg.registration("google"), reg.registration("microsoft")
        self.google_status.setText(self._status(google))
        self.ms_status.setText(self._status(ms))
        self.google_id.setText(google.client_id or "" if google.source == "settings" else "")
        self.ms_id.setText(ms.client_id or "" if ms.source == "settings" else "")
        self.ms_authority.setText(ms.endpoints.get("authority", "")
                                  if ms.source == "settings" else "")
        self.google_secret.clear()
        if google.source == "settings":
            self.google_secret.setPlaceholderText("Stored in the system keyring: leave empty to "
                                                  "keep it")
        self._stored_google = google.client_id if google.source == "settings" else None
        self._stored_ms = (ms.client_id, ms.endpoints.get("authority")) \
            if ms.source == "settings" else None

    @staticmethod
    def _status(r: reg.Registration) -> str:
        if not r.configured:
            return f"<b>Not set up:</b> {r.name} sign-in is off until a client ID is entered."
        if r.source == "environment":
            return (f"<b>Set up by environment variables</b> (client ID {r.client_id}); they "
                    "override what is entered here.")
        return f"<b>Set up</b> (client ID {r.client_id})."

    def choose_google_json(self) -> None:
        dialog = QFileDialog(self, "Google client file", "", "JSON files (*.json)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self.import_google_json)
        dialog.open()

    def import_google_json(self, path: str) -> bool:
        try:
            values = reg.parse_google_client_json(path)
        except reg.RegistrationError as exc:
            self.show_error(str(exc)[:1].upper() + str(exc)[1:] + ".")
            return False
        self.google_id.setText(values["client_id"])
        self.google_secret.setText(values["client_secret"])
        self._google_endpoints = (values.get("auth_uri"), values.get("token_uri"))
        self.show_error("")
        return True

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def changes(self) -> SignInChanges:
        """What Save should store, checked (RegistrationError with a message otherwise)."""
        google = None
        client_id, secret = self.google_id.text().strip(), self.google_secret.text().strip()
        if client_id and (client_id != self._stored_google or secret):
            if not secret:
                raise reg.RegistrationError("enter the Google client secret too (or import "
                                            "the client_secret.json file)")
            google = reg.check_google(client_id, secret, *self._google_endpoints)
        microsoft = None
        ms_id, authority = self.ms_id.text().strip(), self.ms_authority.text().strip() or None
        if ms_id and (ms_id, authority) != self._stored_ms:
            microsoft = reg.check_microsoft(ms_id, authority)
        clear = tuple(p for p, emptied in (("google", not client_id and self._stored_google),
                                           ("microsoft", not ms_id and self._stored_ms))
                      if emptied)
        return SignInChanges(google, microsoft, clear)

    @staticmethod
    def store(changes: SignInChanges) -> None:
        """Blocking (the keyring): run it in a worker."""
        if changes.google is not None:
            reg.save_google(*changes.google)
        if changes.microsoft is not None:
            reg.save_microsoft(*changes.microsoft)
        for provider in changes.clear:
            reg.clear(provider)
