"""SVG icons from the package's resources, tinted per status and theme, cached."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from mailmonitor.ui.palette import CAMPAIGN_LOOKS, is_dark, look

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
ICON_SIZES = (16, 20, 24, 32, 48, 64)


def resource_path(*parts: str) -> Path:
    return RESOURCES.joinpath(*parts)


@cache
def _svg(name: str) -> str:
    return resource_path("icons", f"{name}.svg").read_text(encoding="utf-8")


def render_svg(name: str, color: QColor | str, size: int) -> QPixmap:
    """The icon `name` at `size` px, with `currentColor` painted in `color`."""
    text = _svg(name).replace("currentColor", QColor(color).name())
    renderer = QSvgRenderer(QByteArray(text.encode()))
    ratio = 2.0
    pixmap = QPixmap(int(size * ratio), int(size * ratio))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size * ratio, size * ratio))
    painter.end()
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


@cache
def tinted_icon(name: str, color: str) -> QIcon:
    icon = QIcon()
    for size in ICON_SIZES:
        icon.addPixmap(render_svg(name, color, size))
    return icon


def status_icon(status: str, dark: bool | None = None) -> QIcon:
    item = look(status)
    return tinted_icon(item.icon, item.color(dark).name())


def campaign_look_key(status: str, pause_reason: str | None = None) -> str:
    """Paused by the rep looks calm; paused by mailmonitor (no mailbox can send) warns."""
    return "paused_user" if status == "paused" and pause_reason == "user" else status


def campaign_icon(status: str, dark: bool | None = None, pause_reason: str | None = None
                  ) -> QIcon:
    item = CAMPAIGN_LOOKS.get(campaign_look_key(status, pause_reason), CAMPAIGN_LOOKS["draft"])
    return tinted_icon(item.icon, item.color(dark).name())


def action_icon(name: str) -> QIcon:
    """Toolbar icons in the theme's text colour."""
    text = QGuiApplication.palette().color(QPalette.ColorRole.WindowText)
    if is_dark() and text.lightness() < 128:
        text = QColor("#e6e6e6")
    return tinted_icon(f"action-{name}", text.name())


@cache
def app_icon() -> QIcon:
    icon = QIcon()
    for size in ICON_SIZES:
        icon.addPixmap(render_svg("app", "#2f6fbf", size))
    return icon


def badge_icon(base: QIcon, count: int) -> QIcon:
    """The bell with a red count in its corner (no badge at zero)."""
    if count <= 0:
        return base
    size = 48
    pixmap = base.pixmap(size, size)
    pixmap = QPixmap(pixmap)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    ratio = pixmap.devicePixelRatio()
    width = pixmap.width() / ratio
    diameter = width * 0.58
    rect = QRectF(width - diameter, 0, diameter, diameter)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#d32f2f"))
    painter.drawEllipse(rect)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(diameter * (0.62 if count < 10 else 0.48)))
    painter.setFont(font)
    painter.setPen(QColor("#ffffff"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(count) if count < 100 else "99+")
    painter.end()
    return QIcon(pixmap)
