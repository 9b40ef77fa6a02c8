"""The status timeline of one mailbox (account detail): its last 7 days as coloured bands drawn
with QPainter — connected, retrying, disconnected, offline, stopped, and hatched where nothing
is known (mailmonitor was not running) — with maintenance windows cross-hatched over them, day
marks and the uptime over 24 h / 7 d / 30 d (maintenance left out). Colour is never the only
carrier: the bands' tooltips and the uptime line say it in words. The segments and figures come
from `services.monitoring.uptime`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QHelpEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import QToolTip, QWidget

from mailmonitor.models import Account
from mailmonitor.services.common.reasons import STATUS_LABELS, Status
from mailmonitor.services.monitoring.uptime import (
    Segment,
    first_check_at,
    measured_shares,
    muted_spans,
    timeline,
    uptimes,
)
from mailmonitor.ui.palette import status_color

SPAN = timedelta(days=7)


WINDOW_WORDS = {"uptime_24h": "24 h", "uptime_7d": "7 days", "uptime_30d": "30 days"}
NOT_ENOUGH = "not enough history yet"


def uptime_words(shares: dict[str, float | None], first_check: datetime | None,
                 now: datetime) -> str:
    """'Connected: 24 h 99.5 % · 7 days 98.0 % · 30 days 97.2 %', only for windows that were
    measured: 'Connected: 24 h 100.0 % · since Mon 14:02: 99.1 %', or 'Uptime: not enough
    history yet' for a mailbox checked once."""
    covered, since = measured_shares(shares, first_check, now)
    parts = [f"{WINDOW_WORDS[name]} {value:.1f} %" for name, value in covered]
    if since is not None and first_check is not None:
        start = first_check.replace(tzinfo=UTC).astimezone()
        parts.append(f"since {start:%a %H:%M}: {since:.1f} %")
    if not parts:
        return f"Uptime: {NOT_ENOUGH}"
    if len(covered) < len(WINDOW_WORDS) and since is None:
        parts.append(f"longer: {NOT_ENOUGH}")
    return "Connected: " + " · ".join(parts)


class StatusTimeline(QWidget):
    def __init__(self, account_id: int, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusTimeline")
        self.account_id = account_id
        self.ctx = ctx
        self.segments: list[Segment] = []
        self.muted: list[tuple[datetime, datetime]] = []  # maintenance windows
        self.shares: dict[str, float | None] = {}
        self.first_check: datetime | None = None
        self.until = ctx.clock.now()
        self.setMinimumHeight(78)
        self.setMouseTracking(True)
        ctx.bridge.accountChanged.connect(self._changed)
        ctx.attention.changed.connect(self.reload)  # a window added or ended, time passing
        self.reload()

    def sizeHint(self) -> QSize:
        return QSize(560, 84)

    def _changed(self, account_id: int, *_args: Any) -> None:
        if account_id == self.account_id:
            self.reload()

    def reload(self) -> None:
        account = Account.get_or_none(Account.id == self.account_id)
        self.until = self.ctx.clock.now()
        if account is None:
            self.segments, self.muted, self.shares = [], [], {}
        else:
            self.segments = timeline(account, self.until, SPAN)
            self.muted = list(muted_spans(account, self.until, SPAN))
            self.shares = uptimes([account], self.until)[account.id]
            self.first_check = first_check_at(account.id)
        self.setToolTip(self.uptime_text())
        self.update()

    def uptime_text(self) -> str:
        return uptime_words(self.shares, self.first_check, self.until)

    def _bar(self) -> QRectF:
        return QRectF(8, 24, max(10, self.width() - 16), 26)

    def _x(self, when: datetime, bar: QRectF) -> float:
        start = self.until - SPAN
        return float(bar.left() + bar.width() * ((when - start) / SPAN))

    def paintEvent(self, _event: Any) -> None:
        painter = QPainter(self)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(text)
        painter.drawText(QRectF(8, 2, self.width() - 16, 18),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         self.uptime_text())
        painter.setPen(muted)
        painter.drawText(QRectF(8, 2, self.width() - 16, 18),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         "hatched: not observed · crossed: maintenance (not counted)"
                         if self.muted else "hatched: not observed (mailmonitor not running)")
        bar = self._bar()
        painter.setPen(Qt.PenStyle.NoPen)
        for seg in self.segments:
            left, right = self._x(seg.start, bar), self._x(seg.end, bar)
            rect = QRectF(left, bar.top(), max(1.0, right - left), bar.height())
            if seg.status == "unknown":
                painter.setBrush(QBrush(muted, Qt.BrushStyle.BDiagPattern))
            else:
                color = status_color(seg.status)
                painter.setBrush(QBrush(color))
            painter.drawRect(rect)
        for start, end in self.muted:  # maintenance: crossed over whatever was observed
            left, right = self._x(start, bar), self._x(end, bar)
            rect = QRectF(left, bar.top(), max(2.0, right - left), bar.height())
            painter.setBrush(palette.color(QPalette.ColorRole.Window))
            painter.drawRect(rect)
            painter.setBrush(QBrush(text, Qt.BrushStyle.DiagCrossPattern))
            painter.drawRect(rect)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(muted, 1))
        painter.drawRect(bar)
        # Day marks in the rep's time zone, labelled with the weekday.
        start = self.until - SPAN
        local_start = start.replace(tzinfo=UTC).astimezone()
        midnight = local_start.replace(hour=0, minute=0, second=0, microsecond=0) + \
            timedelta(days=1)
        painter.setPen(QPen(QColor(muted), 1, Qt.PenStyle.DotLine))
        while midnight.astimezone(UTC).replace(tzinfo=None) < self.until:
            x = self._x(midnight.astimezone(UTC).replace(tzinfo=None), bar)
            painter.drawLine(int(x), int(bar.top()), int(x), int(bar.bottom() + 4))
            if x < bar.right() - 90:  # leave room for "now"
                painter.drawText(QRectF(x + 2, bar.bottom() + 2, 60, 18),
                                 Qt.AlignmentFlag.AlignLeft, midnight.strftime("%a %d"))
            midnight += timedelta(days=1)
        painter.drawText(QRectF(bar.right() - 40, bar.bottom() + 2, 40, 18),
                         Qt.AlignmentFlag.AlignRight, "now")

    def segment_at(self, x: float) -> Segment | None:
        bar = self._bar()
        for seg in self.segments:
            if self._x(seg.start, bar) <= x <= self._x(seg.end, bar):
                return seg
        return None

    def muted_at(self, x: float) -> tuple[datetime, datetime] | None:
        bar = self._bar()
        return next(((s, e) for s, e in self.muted
                     if self._x(s, bar) - 1 <= x <= self._x(e, bar) + 1), None)

    def event(self, event: Any) -> bool:
        if isinstance(event, QHelpEvent):
            x = event.position().x() if hasattr(event, "position") else event.pos().x()
            window = self.muted_at(x)
            if window is not None:
                start = window[0].replace(tzinfo=UTC).astimezone()
                end = window[1].replace(tzinfo=UTC).astimezone()
                QToolTip.showText(event.globalPos(), f"Maintenance (muted, not counted): "
                                  f"{start:%a %H:%M} – {end:%a %H:%M}\n"
                                  f"{self.uptime_text()}", self)
                return True
            seg = self.segment_at(x)
            if seg is not None:
                words = "Not known (mailmonitor was not running)" if seg.status == "unknown" \
                    else STATUS_LABELS.get(Status(seg.status), seg.status)
                start = seg.start.replace(tzinfo=UTC).astimezone()
                end = seg.end.replace(tzinfo=UTC).astimezone()
                QToolTip.showText(event.globalPos(), f"{words}: {start:%a %H:%M} – "
                                  f"{end:%a %H:%M}\n{self.uptime_text()}", self)
                return True
        return super().event(event)
