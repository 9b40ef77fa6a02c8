"""Small reusable widgets: labels in the stylesheet's roles, a row of dialog buttons, banners, a
status chip, a latency sparkline, a progress delegate and a non-blocking confirmation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from mailmonitor.services.common import bounds
from mailmonitor.services.common.reasons import Status
from mailmonitor.ui.icons import status_icon
from mailmonitor.ui.models import Role
from mailmonitor.ui.palette import look, status_color

SEVERITY_STATUS = {"error": Status.DISCONNECTED.value, "critical": Status.DISCONNECTED.value,
                   "warning": Status.WARNING.value, "info": Status.CHECKING.value,
                   "ok": Status.CONNECTED.value, "muted": Status.STOPPED.value}


def label(text: str = "", role: str = "muted", wrap: bool = True) -> QLabel:
    """A label in one of the stylesheet's roles (muted, heading, subheading, error)."""
    widget = QLabel(text)
    widget.setObjectName(role)
    widget.setWordWrap(wrap)
    return widget


def muted(text: str = "", wrap: bool = True) -> QLabel:
    return label(text, "muted", wrap)


def heading(text: str = "") -> QLabel:
    return label(text, "heading")


class ButtonRow(QHBoxLayout):
    """A dialog's row of buttons; the primary one is the default (Enter presses it)."""

    def __init__(self) -> None:
        super().__init__()
        self.setSpacing(8)

    def button(self, text: str, primary: bool = False) -> QPushButton:
        button = QPushButton(text)
        button.setProperty("primary", primary)
        if primary:
            button.setDefault(True)
        self.addWidget(button)
        return button


def bounded_spin(key: str, suffix: str = "", off: str = "", scale: int = 1) -> QSpinBox:
    """A spin box over the range of `key` in the one table of bounds (common.bounds), shown in
    units of `scale` (60: seconds shown as minutes). With `off`, 0 below the range means off
    (its text)."""
    limits = bounds.NUMBERS[key]
    box = QSpinBox()
    box.setRange(0 if off else -(-limits.low // scale), limits.high // scale)
    box.setSuffix(suffix)
    if off:
        box.setSpecialValueText(off)
    return box


def discard(widget: QWidget) -> None:
    """Take a widget out of its layout and off the screen now; Qt deletes it later. (Only
    `deleteLater()` leaves it drawn, overlapping its replacement, until the next event loop
    turn.)"""
    parent = widget.parentWidget()
    layout = parent.layout() if parent is not None else None
    if layout is not None:
        layout.removeWidget(widget)
    widget.hide()
    widget.deleteLater()


def repolish(widget: QWidget) -> None:
    """Apply the stylesheet again after a dynamic property changed."""
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    widget.update()


class Banner(QFrame):
    """A coloured strip with an icon, a message and action buttons (severity: error, warning,
    info, ok — the stylesheet colours it through the `severity` property).

    Signals:
        linkActivated(str): a link in the message ("Learn more"), for the window to open.
    """

    linkActivated = Signal(str)

    def __init__(self, severity: str = "error", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.icon = QLabel()
        self.icon.setFixedSize(22, 22)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.text.linkActivated.connect(self.linkActivated)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.setSpacing(10)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.text, 1)
        self._buttons: list[QPushButton] = []
        self.set_severity(severity)

    def set_severity(self, severity: str) -> None:
        self.setProperty("severity", severity)
        self.icon.setPixmap(status_icon(SEVERITY_STATUS.get(severity, "checking")).pixmap(20, 20))
        repolish(self)

    def set_message(self, html: str) -> None:
        self.text.setText(html)

    def add_action(self, text: str, callback: Callable[[], Any], primary: bool = False
                   ) -> QPushButton:
        button = QPushButton(text)
        button.setProperty("primary", primary)
        button.clicked.connect(lambda _checked=False: callback())
        layout = self.layout()
        assert isinstance(layout, QHBoxLayout)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignVCenter)
        self._buttons.append(button)
        return button

    def buttons(self) -> list[QPushButton]:
        return list(self._buttons)

    def clear_actions(self) -> None:
        for button in self._buttons:
            discard(button)
        self._buttons.clear()


class StatusChip(QWidget):
    """Icon + label for a status, coloured; readable without colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.icon = QLabel()
        self.label = QLabel()
        self.label.setObjectName("statusLabel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.icon)
        layout.addWidget(self.label)
        layout.addStretch(1)

    def set_status(self, status: str, text: str | None = None) -> None:
        self.icon.setPixmap(status_icon(status).pixmap(18, 18))
        self.label.setText(text or look(status).label)
        self.label.setProperty("status", status)
        self.label.setStyleSheet(f"color: {status_color(status).name()}; font-weight: 600;")


class Sparkline(QWidget):
    """Latency of the last checks, oldest left; failed checks are marked in red."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[tuple[int | None, bool]] = []  # (latency ms, ok)
        self.setMinimumHeight(56)

    def sizeHint(self) -> QSize:
        return QSize(320, 64)

    def set_points(self, points: Sequence[tuple[int | None, bool]]) -> None:
        self.points = list(points)
        self.setToolTip(self._summary())
        self.update()

    def _summary(self) -> str:
        values = [v for v, ok in self.points if ok and v is not None]
        if not values:
            return "No successful checks yet"
        return (f"Last {len(self.points)} checks: fastest {min(values)} ms, slowest "
                f"{max(values)} ms, failed {sum(1 for _, ok in self.points if not ok)}")

    def paintEvent(self, _event: Any) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.rect().adjusted(6, 8, -6, -14)
        palette = self.palette()
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(QPen(muted, 1, Qt.PenStyle.DotLine))
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        if not self.points:
            painter.setPen(muted)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No checks yet")
            return
        values: list[int] = [v or 0 for v, _ in self.points]
        top = max(max(values), 1)
        n = len(self.points)
        step = rect.width() / max(n - 1, 1)

        def at(i: int, value: int) -> QPointF:
            return QPointF(rect.left() + i * step, rect.bottom() - rect.height() * value / top)

        line = QPainterPath()
        for i, value in enumerate(values):
            point = at(i, value)
            if i == 0:
                line.moveTo(point)
            else:
                line.lineTo(point)
        painter.setPen(QPen(status_color(Status.CHECKING.value), 2))
        painter.drawPath(line)
        for i, (value, (_latency, ok)) in enumerate(zip(values, self.points, strict=True)):
            color = status_color(Status.CONNECTED.value if ok else Status.DISCONNECTED.value)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            radius = 2.5 if ok else 4.0
            painter.drawEllipse(at(i, value), radius, radius)
        painter.setPen(muted)
        painter.drawText(QRect(rect.left(), rect.bottom() + 2, rect.width(), 12),
                         Qt.AlignmentFlag.AlignRight, f"max {top} ms")


class ProgressDelegate(QStyledItemDelegate):
    """Draws Role.PROGRESS (0–1) as a progress bar."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        value = index.data(Role.PROGRESS)
        if value is None:
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(4, 5, -4, -5)
        bar.minimum, bar.maximum = 0, 100
        bar.progress = round(float(value) * 100)
        bar.text = f"{bar.progress} %"
        bar.textVisible = True
        bar.state = option.state
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


def ask(parent: QWidget, title: str, text: str, accept_text: str,
        on_accept: Callable[[], Any], informative: str = "", cancel_text: str = "",
        name: str = "confirm") -> QMessageBox:
    """A confirmation opened with `open()` (never `exec()`: safe inside coroutines). Enter and
    Esc answer the safe way: Cancel (or `cancel_text`)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.NoButton,
                      parent)
    box.setObjectName(name)
    if informative:
        box.setInformativeText(informative)
    accept = box.addButton(accept_text, QMessageBox.ButtonRole.DestructiveRole)
    cancel = box.addButton(cancel_text, QMessageBox.ButtonRole.RejectRole) if cancel_text \
        else box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def finished(_result: int) -> None:
        if box.clickedButton() is accept:
            on_accept()

    box.finished.connect(finished)
    box.open()
    return box



# The smallest screen the window is made for: a 1366×768 laptop whose taskbar takes 40 px, and
# the title bar a window manager puts on every dialog (tests/ui/test_fits_screen.py).
SCREEN = QSize(1366, 728)
TITLE_BAR = 32


def usable_height(window: QWidget) -> int:
    """How tall a dialog may be: its screen's free height (at most the smallest screen's, so it
    fits there too), less its title bar."""
    screen = window.screen()
    available = screen.availableGeometry().height() if screen is not None else SCREEN.height()
    return min(available, SCREEN.height()) - TITLE_BAR


def fit_height(window: QWidget) -> None:
    """Grow a dialog to show all of its wrapped text (a longer failure help, a progress line):
    Qt does not enlarge a window whose content only got taller through word wrap. It never
    grows past the usable height: beyond that its `ScrollBody` scrolls."""
    layout = window.layout()
    if layout is None:
        return
    layout.activate()
    width = window.width()
    needed = (layout.totalHeightForWidth(width) if layout.hasHeightForWidth()
              else layout.totalSizeHint().height())
    for body in window.findChildren(ScrollBody):
        if body.isVisibleTo(window) and body.window() is window:
            needed += body.hidden_height()
    limit = usable_height(window)
    # Word-wrapped text just shown is laid out on the next turn: measure again then.
    QTimer.singleShot(0, window, lambda: _grow_to(window, limit))
    if needed > window.height():
        window.resize(width, min(needed, max(limit, window.height())))
    if window.height() > limit:
        window.resize(width, limit)
    keep_on_screen(window)


def _grow_to(window: QWidget, limit: int) -> None:
    """The second look of `fit_height`, once the new text is laid out: grow by what the
    scrolling body still hides, up to the limit."""
    hidden = sum(b.hidden_height() for b in window.findChildren(ScrollBody)
                 if b.isVisibleTo(window) and b.window() is window)
    if hidden and window.height() < limit:
        window.resize(window.width(), min(limit, window.height() + hidden))
        keep_on_screen(window)


def keep_on_screen(window: QWidget) -> None:
    """A dialog that grew downwards moves up until its bottom (its buttons) is on screen."""
    screen = window.screen()
    if screen is None or not window.isVisible():
        return
    free = screen.availableGeometry()
    frame = window.frameGeometry()
    title = TITLE_BAR if frame == window.geometry() else 0  # no window manager (tests)
    overflow = frame.bottom() - free.bottom()
    if overflow > 0:
        window.move(frame.left(), max(free.top() + title, frame.top() - overflow))


class ScrollBody(QScrollArea):
    """A dialog's body that scrolls when it does not fit the screen (its buttons stay below it,
    on screen). It asks for its content's full height, up to the usable height."""

    def __init__(self, content: QWidget | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scrollBody")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(content if content is not None else QWidget())
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    @classmethod
    def lay_out(cls, owner: QWidget, parts: Sequence[QWidget | QLayout | int],
                buttons: QLayout) -> ScrollBody:
        """`owner`'s layout: `parts` (widgets, layouts, or a number: spacing) top to bottom in
        a body that scrolls when it does not fit the screen, and `buttons` below it, always on
        screen."""
        scroll = cls()
        body = QVBoxLayout(scroll.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(10)
        for part in parts:
            if isinstance(part, int):
                body.addSpacing(part)
            elif isinstance(part, QLayout):
                body.addLayout(part)
            else:
                body.addWidget(part)
        body.addStretch(1)
        layout = QVBoxLayout(owner)
        layout.setSpacing(10)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        return scroll

    @property
    def body(self) -> QWidget:
        widget = self.widget()
        assert widget is not None
        return widget

    def content_height(self) -> int:
        body = self.body
        layout = body.layout()
        width = self.viewport().width() or body.width()
        if layout is not None and layout.hasHeightForWidth():
            return int(layout.totalHeightForWidth(width))
        return int(body.sizeHint().height())

    def hidden_height(self) -> int:
        """How much of the content is scrolled out of sight now."""
        return max(0, self.content_height() - self.viewport().height())

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(hint.width(), min(self.content_height(), usable_height(self) - 120))

    def minimumSizeHint(self) -> QSize:
        return QSize(super().minimumSizeHint().width(), 80)
