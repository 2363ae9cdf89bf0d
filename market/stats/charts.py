"""Server-rendered SVG charts: no JavaScript, nothing fetched from elsewhere. Colours and text come
from CSS classes (``.chart …``), so the same chart suits the pages and the dark big screen.

Amounts stay Decimal everywhere else; here they become floats only to place shapes.
"""

import math
from decimal import Decimal

from markupsafe import Markup, escape

PALETTE = (
    "#0b4f9c",
    "#c8102e",
    "#1e7b4a",
    "#d08a1c",
    "#6b3fa0",
    "#2a9db5",
    "#d0621b",
    "#5b8c2a",
    "#8a8f98",
    "#b23a7a",
    "#264653",
    "#9c6644",
)


def _num(value) -> float:
    return float(value) if isinstance(value, Decimal) else float(value or 0)


def nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at least ``value`` (an axis end)."""
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _tick(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:,.1f}"


def _svg(width: int, height: int, body: list[str], label: str, cls: str = "") -> Markup:
    return Markup(
        f'<svg class="chart {cls}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>'
    )


def columns(
    labels: list[str],
    values: list,
    *,
    unit: str = "万元",
    overlay: list | None = None,
    overlay_label: str = "",
    width: int = 720,
    height: int = 260,
    show_values: bool = True,
    label: str = "柱状图",
) -> Markup:
    """Vertical bars (one series), optionally a line for a second series (e.g. last year)."""
    vals = [_num(v) for v in values]
    extra = [_num(v) for v in overlay] if overlay else []
    top = nice_max(max(vals + extra + [0]))
    left, right, head, foot = 56, 12, 24, 30
    plot_w, plot_h = width - left - right, height - head - foot
    n = max(len(vals), 1)
    slot = plot_w / n
    bar = min(slot * 0.62, 46)
    body = [f'<text class="unit" x="{left - 8}" y="14" text-anchor="end">{escape(unit)}</text>']
    for i in range(5):
        v = top * i / 4
        y = head + plot_h - plot_h * i / 4
        body.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        body.append(f'<text class="tick" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{_tick(v)}</text>')
    every = 1 if n <= 16 else 2
    for i, (name, v) in enumerate(zip(labels, vals)):
        x = left + slot * i + (slot - bar) / 2
        h = plot_h * v / top
        y = head + plot_h - h
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{max(h, 0):.1f}" rx="2">'
            f"<title>{escape(name)}：{_tick(v)} {escape(unit)}</title></rect>"
        )
        if show_values and v > 0 and n <= 16:
            body.append(
                f'<text class="value" x="{x + bar / 2:.1f}" y="{y - 5:.1f}" text-anchor="middle">{_tick(v)}</text>'
            )
        if i % every == 0:
            body.append(
                f'<text class="tick" x="{x + bar / 2:.1f}" y="{height - 10}" text-anchor="middle">{escape(name)}</text>'
            )
    if extra:
        points = " ".join(
            f"{left + slot * i + slot / 2:.1f},{head + plot_h - plot_h * v / top:.1f}" for i, v in enumerate(extra)
        )
        body.append(f'<polyline class="line" points="{points}" fill="none"/>')
        body += [
            f'<circle class="dot" cx="{left + slot * i + slot / 2:.1f}" cy="{head + plot_h - plot_h * v / top:.1f}" r="3"/>'
            for i, v in enumerate(extra)
        ]
        if overlay_label:
            body.append(
                f'<line class="line" x1="{width - right - 120}" x2="{width - right - 100}" y1="12" y2="12"/>'
                f'<text class="legend" x="{width - right - 94}" y="16">{escape(overlay_label)}</text>'
            )
    return _svg(width, height, body, label, "columns")


def hbars(
    items: list[tuple[str, object, str]],
    *,
    width: int = 520,
    row: int = 30,
    label_width: int = 150,
    label: str = "条形图",
) -> Markup:
    """Horizontal bars: (label, value, text shown at the bar's end), largest first as given."""
    if not items:
        return Markup('<p class="muted chart-empty">暂无数据</p>')
    top = max(_num(v) for _, v, _ in items) or 1.0
    value_w = max(70, 9 * max(len(t) for _, _, t in items))
    plot_w = width - label_width - value_w
    height = row * len(items) + 4
    body = []
    for i, (name, v, text) in enumerate(items):
        y = i * row + 4
        w = plot_w * _num(v) / top
        short = name if len(name) <= 11 else name[:10] + "…"
        body.append(
            f'<text class="tick name" x="{label_width - 8}" y="{y + row / 2 + 1:.1f}" text-anchor="end">'
            f"{escape(short)}<title>{escape(name)}</title></text>"
        )
        body.append(
            f'<rect class="bar bar-{i % len(PALETTE)}" x="{label_width}" y="{y + 5:.1f}" '
            f'width="{max(w, 1.5):.1f}" height="{row - 12}" rx="3"/>'
        )
        body.append(
            f'<text class="value" x="{label_width + max(w, 1.5) + 6:.1f}" y="{y + row / 2 + 1:.1f}">{escape(text)}</text>'
        )
    return _svg(width, height, body, label, "hbars")


def donut(
    items: list[tuple[str, object, str]],
    *,
    size: int = 180,
    width: int = 440,
    center: str = "",
    center_sub: str = "",
    label: str = "环形图",
) -> Markup:
    """Shares of a whole: (label, value, text in the legend)."""
    total = sum(_num(v) for _, v, _ in items)
    r, stroke = size / 2 - 16, 26
    cx = cy = size / 2
    circ = 2 * math.pi * r
    body = [f'<circle class="track" cx="{cx}" cy="{cy}" r="{r}" stroke-width="{stroke}" fill="none"/>']
    offset = 0.0
    for i, (name, v, _) in enumerate(items):
        part = _num(v) / total if total else 0
        if part <= 0:
            continue
        length = circ * part
        body.append(
            f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{PALETTE[i % len(PALETTE)]}" '
            f'stroke-width="{stroke}" stroke-dasharray="{length:.2f} {circ - length:.2f}" '
            f'stroke-dashoffset="{-offset:.2f}" transform="rotate(-90 {cx} {cy})">'
            f"<title>{escape(name)}：{part:.1%}</title></circle>"
        )
        offset += length
    if center:
        body.append(f'<text class="center" x="{cx}" y="{cy + 2}" text-anchor="middle">{escape(center)}</text>')
    if center_sub:
        body.append(f'<text class="tick" x="{cx}" y="{cy + 22}" text-anchor="middle">{escape(center_sub)}</text>')
    line = 24
    top = max((size - line * len(items)) / 2, 4)
    for i, (name, v, text) in enumerate(items):
        y = top + i * line
        part = _num(v) / total if total else 0
        body.append(
            f'<rect x="{size + 16}" y="{y + 4}" width="12" height="12" rx="2" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text class="legend" x="{size + 34}" y="{y + 15}">{escape(name)}</text>'
            f'<text class="legend value" x="{width - 4}" y="{y + 15}" text-anchor="end">{escape(text)}　{part:.1%}</text>'
        )
    return _svg(width, max(size, top * 2 + line * len(items)), body, label, "donut")


def ring(ratio, *, size: int = 220, text: str = "", sub: str = "", marker=None, label: str = "进度") -> Markup:
    """A progress ring; ``marker`` (0–1) draws a tick, e.g. the part of the year gone by."""
    part = max(0.0, min(_num(ratio), 1.0))
    r, stroke = size / 2 - 18, 18
    c = size / 2
    circ = 2 * math.pi * r
    body = [
        f'<circle class="track" cx="{c}" cy="{c}" r="{r}" stroke-width="{stroke}" fill="none"/>',
        f'<circle class="progress" cx="{c}" cy="{c}" r="{r}" stroke-width="{stroke}" fill="none" '
        f'stroke-linecap="round" stroke-dasharray="{max(circ * part, 0.01):.2f} {circ:.2f}" transform="rotate(-90 {c} {c})"/>',
    ]
    if marker is not None:
        angle = 2 * math.pi * max(0.0, min(_num(marker), 1.0)) - math.pi / 2
        x1, y1 = c + (r - stroke) * math.cos(angle), c + (r - stroke) * math.sin(angle)
        x2, y2 = c + (r + stroke) * math.cos(angle), c + (r + stroke) * math.sin(angle)
        body.append(
            f'<line class="marker" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"><title>时间进度</title></line>'
        )
    body.append(f'<text class="center" x="{c}" y="{c + 6}" text-anchor="middle">{escape(text)}</text>')
    if sub:
        body.append(f'<text class="tick" x="{c}" y="{c + 30}" text-anchor="middle">{escape(sub)}</text>')
    return _svg(size, size, body, label, "ring")
