"""The status timeline of one mailbox (account detail): its last 7 days as coloured bands drawn
with QPainter — connected, retrying, disconnected, offline, stopped, and hatched where nothing
is known (mailmonitor was not running) — with day marks and the uptime over 24 h / 7 d / 30 d.
Colour is never the only carrier: the bands' tooltips and the uptime line say it in words.
The segments and figures come from `services.monitoring.uptime`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QHelpEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import QToolTip, QWidget

from mailmonitor.models import Account
from mailmonitor.services.common.reasons import STATUS_LABELS, Status
from mailmonitor.services.monitoring.uptime import Segment, timeline, uptimes
from mailmonitor.ui.palette import status_color

SPAN = timedelta(days=7)


def uptime_words(shares: dict[str, float | None]) -> str:
    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.1f} %"

    return (f"Connected: 24 h {pct(shares.get('uptime_24h'))} · 7 days "
            f"{pct(shares.get('uptime_7d'))} · 30 days {pct(shares.get('uptime_30d'))}")


class StatusTimeline(QWidget):
    def __init__(self, account_id: int, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusTimeline")
        self.account_id = account_id
        self.ctx = ctx
        self.segments: list[Segment] = []
        self.shares: dict[str, float | None] = {}
        self.until = ctx.clock.now()
        self.setMinimumHeight(78)
        self.setMouseTracking(True)
        ctx.bridge.accountChanged.connect(self._changed)
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
            self.segments, self.shares = [], {}
        else:
            self.segments = timeline(account, self.until, SPAN)
            self.shares = uptimes([account], self.until)[account.id]
        self.setToolTip(uptime_words(self.shares))
        self.update()

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
                         uptime_words(self.shares))
        painter.setPen(muted)
        painter.drawText(QRectF(8, 2, self.width() - 16, 18),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         "hatched: not observed (mailmonitor not running)")
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

    def event(self, event: Any) -> bool:
        if isinstance(event, QHelpEvent):
            seg = self.segment_at(event.position().x() if hasattr(event, "position")
                                  else event.pos().x())
            if seg is not None:
                words = "Not known (mailmonitor was not running)" if seg.status == "unknown" \
                    else STATUS_LABELS.get(Status(seg.status), seg.status)
                start = seg.start.replace(tzinfo=UTC).astimezone()
                end = seg.end.replace(tzinfo=UTC).astimezone()
                QToolTip.showText(event.globalPos(), f"{words}: {start:%a %H:%M} – "
                                  f"{end:%a %H:%M}\n{uptime_words(self.shares)}", self)
                return True
        return super().event(event)
