"""Is this computer online? Only the operating system's answer counts (spec §2): Qt's
QNetworkInformation (on Linux its NetworkManager backend talks to NetworkManager over D-Bus), in
the window and in `run --headless` alike — QtNetwork needs only a QCoreApplication, no window.
With no backend, or an unknown answer, the computer counts as online.

Offline never stops the checks of mailboxes on this computer or the local network
(`is_local_account`): loopback and LAN servers are reachable without an internet connection.

QtCore/QtNetwork only (no widgets), imported lazily so the rest of the services never load Qt.
"""

from __future__ import annotations

import logging
from typing import Any

from mailmonitor.services.common.validation import local_address

log = logging.getLogger(__name__)

LOCAL_SUFFIXES = (".localhost", ".local", ".lan", ".home.arpa", ".internal", ".localdomain")


def reachable_offline(host: str) -> bool:
    """Loopback, private, link-local and unique-local addresses, `localhost`, mDNS/LAN names
    (`.local`, `.lan`, `.home.arpa`, …) and single-label names (resolved on the local network).
    Lenient on purpose: it only decides what is still checked while the computer is offline
    (the plaintext rule uses the strict `common.validation.is_local_host`)."""
    name = (host or "").strip().strip("[]").rstrip(".").lower()
    if not name:
        return False
    address = local_address(name)
    if address is None:
        return name == "localhost" or "." not in name or name.endswith(LOCAL_SUFFIXES)
    return address


def is_local_account(account: Any) -> bool:
    """Both of the mailbox's servers are on this computer or the local network."""
    return reachable_offline(account.imap_host) and reachable_offline(account.smtp_host)


class NetworkWatch:
    """The OS's network state. In a process without a Qt application (`run --headless`) it
    makes a QCoreApplication and lets Qt deliver the backend's updates on each question."""

    def __init__(self) -> None:
        self.info: Any = None
        self._own_app: Any = None
        try:
            from PySide6.QtCore import QCoreApplication
            from PySide6.QtNetwork import QNetworkInformation

            if QCoreApplication.instance() is None:
                self._own_app = QCoreApplication(["mailmonitor"])
            if QNetworkInformation.loadBackendByFeatures(
                    QNetworkInformation.Feature.Reachability):
                self.info = QNetworkInformation.instance()
        except Exception:  # no Qt, or no plugin on this system
            log.info("no network information backend: treating the computer as online")
            self.info = None
        if self.info is not None:
            log.info("network information backend: %s", self.info.backendName())

    def is_online(self) -> bool:
        if self.info is None:
            return True
        from PySide6.QtNetwork import QNetworkInformation

        if self._own_app is not None:
            # No Qt event loop runs here: deliver the backend's pending D-Bus updates now.
            self._own_app.processEvents()
        return bool(self.info.reachability() != QNetworkInformation.Reachability.Disconnected)
