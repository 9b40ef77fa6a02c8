"""One table for how statuses look: colour (light and dark themes), label and icon shape.

Colour is never the only carrier (spec §2): every status also has a label and an icon of its own
shape, so colour-blind reps and dark themes read the same thing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtGui import QColor, QGuiApplication, QPalette

from mailmonitor.services.common.reasons import STATUS_LABELS, Status
from mailmonitor.services.common.vocabulary import CAMPAIGN_WORDS, LEAD_WORDS


@dataclass(frozen=True)
class Look:
    label: str
    icon: str  # file in resources/icons without ".svg"
    light: str  # colour on a light theme
    dark: str  # colour on a dark theme

    def color(self, dark: bool | None = None) -> QColor:
        return QColor(self.dark if (is_dark() if dark is None else dark) else self.light)


STATUS_LOOKS: dict[str, Look] = {
    Status.CONNECTED: Look(STATUS_LABELS[Status.CONNECTED], "status-connected", "#1e8a3c",
                           "#5fd283"),
    Status.CHECKING: Look(STATUS_LABELS[Status.CHECKING], "status-checking", "#1d63c4",
                          "#74acff"),
    Status.WARNING: Look(STATUS_LABELS[Status.WARNING], "status-warning", "#b36200", "#f4b73f"),
    Status.DISCONNECTED: Look(STATUS_LABELS[Status.DISCONNECTED], "status-disconnected",
                              "#c62828", "#ff7070"),
    Status.OFFLINE: Look(STATUS_LABELS[Status.OFFLINE], "status-offline", "#6b7280", "#9aa4b1"),
    Status.STOPPED: Look(STATUS_LABELS[Status.STOPPED], "status-stopped", "#3d434c", "#c4cbd4"),
}

# Campaign statuses reuse the status shapes: active reads like connected, paused like retrying.
CAMPAIGN_LOOKS: dict[str, Look] = {
    "active": Look(CAMPAIGN_WORDS["active"], "status-connected", "#1e8a3c", "#5fd283"),
    "paused": Look(CAMPAIGN_WORDS["paused"], "status-warning", "#b36200", "#f4b73f"),
    # Paused by the rep: a choice, not a problem — a pause sign, no warning triangle.
    "paused_user": Look(CAMPAIGN_WORDS["paused"], "campaign-paused", "#5b6472", "#aab3bf"),
    "draft": Look(CAMPAIGN_WORDS["draft"], "status-stopped", "#6b7280", "#9aa4b1"),
    "completed": Look(CAMPAIGN_WORDS["completed"], "status-checking", "#1d63c4", "#74acff"),
}

LEAD_STATE_LABELS = LEAD_WORDS  # the one vocabulary (services/common/vocabulary.py)

LEAD_STATE_COLORS = {  # (light, dark); states without an entry use the normal text colour
    "halted": ("#b36200", "#f4b73f"),
    "unassigned": ("#b36200", "#f4b73f"),
    "replied": ("#1e8a3c", "#5fd283"),
    "bounced": ("#c62828", "#ff7070"),
    "campaign_stopped": ("#c62828", "#ff7070"),
}

# How loudly a status should show in the tray and the window's summary (stopped is the rep's
# own choice, so it never makes the tray red).
ATTENTION: dict[str, int] = {
    Status.CONNECTED: 0, Status.STOPPED: 0, Status.CHECKING: 1, Status.OFFLINE: 2,
    Status.WARNING: 3, Status.DISCONNECTED: 4,
}


def look(status: str) -> Look:
    return STATUS_LOOKS.get(status, STATUS_LOOKS[Status.OFFLINE])


def is_dark(palette: QPalette | None = None) -> bool:
    if palette is None:
        palette = QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def status_color(status: str, dark: bool | None = None) -> QColor:
    return look(status).color(dark)


def lead_state_color(state: str, dark: bool | None = None) -> QColor | None:
    pair = LEAD_STATE_COLORS.get(state)
    if pair is None:
        return None
    return QColor(pair[1] if (is_dark() if dark is None else dark) else pair[0])


def muted_color() -> QColor:
    """Text that says "nothing here" (an empty cell's "—"): the theme's placeholder colour."""
    return QGuiApplication.palette().color(QPalette.ColorRole.PlaceholderText)


def worst_status(statuses: Iterable[str]) -> str:
    """The status the tray shows: the one that needs the rep most."""
    worst = Status.CONNECTED.value
    for status in statuses:
        if ATTENTION.get(status, 0) > ATTENTION.get(worst, 0):
            worst = status
    return worst
