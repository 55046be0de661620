"""Charts drawn on the server as inline SVG: no JavaScript library, readable by screen readers.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>``, axes with tick labels, a
legend, and a ``<title>`` on every bar or point giving its exact value. Every piece of text is
escaped, so a shop called ``<script>`` shows as text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Distinguishable in light and dark mode, and for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")

WIDTH = 760
HEIGHT = 300
MARGIN_LEFT = 56
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 56
LEGEND_ROW = 18
MAX_X_LABELS = 12
CHAR_WIDTH = 6.5  # about how wide a character of the 11px labels is


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above ``value`` (an axis maximum that reads well)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value - 1e-9:
            return float(candidate)
    return float(10 ** (exponent + 1))


def _number(value: float) -> str:
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.1f}"


def _label_step(count: int) -> int:
    return max(1, math.ceil(count / MAX_X_LABELS))


class _Frame:
    """The plot area of a chart and its axes."""

    def __init__(self, *, labels: Sequence[str], y_max: float, series_count: int):
        self.labels = list(labels)
        self.y_max = y_max
        legend_rows = math.ceil(series_count / 4) if series_count > 1 else 0
        self.height = HEIGHT + legend_rows * LEGEND_ROW
        self.left = MARGIN_LEFT
        self.right = WIDTH - MARGIN_RIGHT
        self.top = MARGIN_TOP
        self.bottom = HEIGHT - MARGIN_BOTTOM
        self.slot = (self.right - self.left) / max(1, len(self.labels))

    def y(self, value: float) -> float:
        return self.bottom - (value / self.y_max) * (self.bottom - self.top)

    def x_center(self, index: int) -> float:
        return self.left + self.slot * (index + 0.5)

    def axes(self, *, y_label: str, format_value: Callable[[float], str]) -> list[str]:
        parts = [
            f'<line class="axis" x1="{self.left}" y1="{self.bottom}" x2="{self.right}" y2="{self.bottom}" '
            'stroke="currentColor"/>',
            f'<line class="axis" x1="{self.left}" y1="{self.top}" x2="{self.left}" y2="{self.bottom}" '
            'stroke="currentColor"/>',
        ]
        for i in range(5):
            value = self.y_max * i / 4
            y = self.y(value)
            parts.append(
                f'<line x1="{self.left}" y1="{y:.1f}" x2="{self.right}" y2="{y:.1f}" stroke="currentColor" '
                'stroke-opacity="0.15"/>'
                f'<text x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="currentColor">'
                f"{escape(format_value(value))}</text>"
            )
        step = _label_step(len(self.labels))
        # Long labels (a shop's name) are shortened to their room; bars carry the full one.
        room = max(3, int(self.slot * step / CHAR_WIDTH))
        for i, label in enumerate(self.labels):
            if i % step:
                continue
            label = label if len(label) <= room else label[: room - 1] + "…"
            x = self.x_center(i)
            parts.append(
                f'<text x="{x:.1f}" y="{self.bottom + 16}" text-anchor="middle" font-size="11" '
                f'fill="currentColor">{escape(label)}</text>'
            )
        if y_label:
            mid = (self.top + self.bottom) / 2
            parts.append(
                f'<text x="12" y="{mid:.1f}" transform="rotate(-90 12 {mid:.1f})" text-anchor="middle" '
                f'font-size="11" fill="currentColor">{escape(y_label)}</text>'
            )
        return parts

    def legend(self, names: Sequence[str]) -> list[str]:
        if len(names) < 2:
            return []
        parts = []
        column_width = (self.right - self.left) / 4
        for i, name in enumerate(names):
            x = self.left + (i % 4) * column_width
            y = self.bottom + 34 + (i // 4) * LEGEND_ROW
            parts.append(
                f'<rect x="{x:.1f}" y="{y - 9}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
                f'<text x="{x + 14:.1f}" y="{y}" font-size="11" fill="currentColor">{escape(name)}</text>'
            )
        return parts


def _svg(*, chart_id: str, title: str, description: str, frame: _Frame, body: list[str]) -> SafeString:
    chart_id = escape(chart_id)
    return mark_safe(  # noqa: S308  (every piece of text above went through escape())
        f'<svg class="chart" id="{chart_id}" role="img" viewBox="0 0 {WIDTH} {frame.height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def bar_chart(
    *,
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    y_label: str = "",
    description: str = "",
    stacked: bool = True,
    format_value: Callable[[float], str] = _number,
) -> SafeString:
    """Bars per label: one bar stacked from the series (``stacked``) or one bar per series side by
    side. ``None`` values draw nothing."""
    if stacked:
        peak = max(
            (sum(s.values[i] or 0 for s in series) for i in range(len(labels))),
            default=0,
        )
    else:
        peak = max((v or 0 for s in series for v in s.values), default=0)
    frame = _Frame(labels=labels, y_max=nice_ceiling(peak), series_count=len(series))
    body = frame.axes(y_label=y_label, format_value=format_value)
    gap = frame.slot * 0.15
    for i, label in enumerate(labels):
        base = 0.0
        for s_index, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            if stacked:
                width = frame.slot - 2 * gap
                x = frame.left + frame.slot * i + gap
                y_top, y_bottom = frame.y(base + value), frame.y(base)
                base += value
            else:
                width = (frame.slot - 2 * gap) / max(1, len(series))
                x = frame.left + frame.slot * i + gap + width * s_index
                y_top, y_bottom = frame.y(value), frame.y(0)
            if value <= 0:
                continue
            name = f"{label} · {s.name}" if len(series) > 1 else label
            tooltip = f"{name}: {format_value(value)}"
            body.append(
                f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{max(width, 1):.1f}" height="{y_bottom - y_top:.1f}" '
                f'fill="{PALETTE[s_index % len(PALETTE)]}"><title>{escape(tooltip)}</title></rect>'
            )
    body += frame.legend([s.name for s in series])
    return _svg(chart_id=chart_id, title=title, description=description, frame=frame, body=body)


def line_chart(
    *,
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    y_label: str = "",
    description: str = "",
    y_max: float | None = None,
    format_value: Callable[[float], str] = _number,
) -> SafeString:
    """A line per series through its values; ``None`` breaks the line (no data that day)."""
    peak = max((v or 0 for s in series for v in s.values), default=0)
    frame = _Frame(labels=labels, y_max=y_max or nice_ceiling(peak), series_count=len(series))
    body = frame.axes(y_label=y_label, format_value=format_value)
    points_drawn: list[str] = []
    for s_index, s in enumerate(series):
        colour = PALETTE[s_index % len(PALETTE)]
        segments: list[list[str]] = [[]]
        for i, value in enumerate(s.values):
            if value is None:
                segments.append([])
                continue
            x, y = frame.x_center(i), frame.y(value)
            segments[-1].append(f"{x:.1f},{y:.1f}")
            name = f"{labels[i]} · {s.name}" if len(series) > 1 else labels[i]
            points_drawn.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(f'{name}: {format_value(value)}')}</title></circle>"
            )
        body += [
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(points)}"/>'
            for points in segments
            if len(points) > 1
        ]
    body += points_drawn
    body += frame.legend([s.name for s in series])
    return _svg(chart_id=chart_id, title=title, description=description, frame=frame, body=body)
