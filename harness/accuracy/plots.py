"""Timeline plots of one scenario as standalone SVG (no plotting library).

Top: one lane per event type, expected windows as bands (green when found,
red when missed) and raised events as ticks (green when they matched, red when
false alarms). Below: per counted zone and label, the reported count over clip
time as a step line with the expected counts as diamonds (red outside their
tolerance).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape

from harness.accuracy.match import CountCheck, OccupancySample
from harness.accuracy.results import ScenarioResult

WIDTH = 900
LEFT = 150
RIGHT = 20
LANE_H = 26
COUNT_H = 90
GAP = 14
AXIS_H = 28
GOOD = "#2e7d32"
BAD = "#c62828"
GOOD_FILL = "#c8e6c9"
BAD_FILL = "#ffcdd2"
INK = "#333"
FONT = 'font-family="sans-serif" font-size="12"'


def _nice_step(span: float) -> float:
    """A tick step (1, 2 or 5 × 10^k) giving about eight ticks over `span`."""
    raw = max(span, 1e-6) / 8
    power = 10 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


class _Scale:
    def __init__(self, end_s: float) -> None:
        self.end_s = max(end_s, 1e-6)

    def x(self, t_s: float) -> float:
        inner = WIDTH - LEFT - RIGHT
        return LEFT + inner * min(max(t_s, 0.0), self.end_s) / self.end_s


def _text(x: float, y: float, text: str, anchor: str = "end", fill: str = INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" '
        f"{FONT}>{escape(text)}</text>"
    )


def _clip_end(result: ScenarioResult) -> float:
    run = result.run
    times = [0.0]
    if run is not None:
        times.append(run.timing.clip_s or 0.0)
        times += [e.t_s for e in run.events]
    times += [m.expected.window[1] for m in result.matching.matches]
    times += [m.expected.window[1] for m in result.matching.misses]
    times += [c.expected.t for c in result.counts]
    return max(times)


def _event_lanes(result: ScenarioResult, scale: _Scale, top: float) -> list[str]:
    matching = result.matching
    kinds = sorted(
        {m.expected.type for m in matching.matches}
        | {m.expected.type for m in matching.misses}
        | {e.type for e in matching.false_alarms}
    )
    parts: list[str] = []
    for lane, kind in enumerate(kinds):
        y = top + lane * LANE_H
        parts.append(_text(LEFT - 8, y + LANE_H / 2 + 4, kind))
        parts.append(
            f'<line x1="{LEFT}" y1="{y + LANE_H / 2:.1f}" x2="{WIDTH - RIGHT}" '
            f'y2="{y + LANE_H / 2:.1f}" stroke="#ddd"/>'
        )
        windows = [(m.expected.window, GOOD_FILL, GOOD) for m in matching.matches]
        windows += [(m.expected.window, BAD_FILL, BAD) for m in matching.misses]
        kinds_of = [m.expected.type for m in matching.matches]
        kinds_of += [m.expected.type for m in matching.misses]
        for (window, fill, stroke), of in zip(windows, kinds_of, strict=True):
            if of != kind:
                continue
            x1, x2 = scale.x(window[0]), scale.x(window[1])
            parts.append(
                f'<rect x="{x1:.1f}" y="{y + 4:.1f}" width="{max(x2 - x1, 1):.1f}" '
                f'height="{LANE_H - 8}" fill="{fill}" stroke="{stroke}"/>'
            )
        ticks = [(m.event.t_s, GOOD) for m in matching.matches if m.event.type == kind]
        ticks += [(e.t_s, BAD) for e in matching.false_alarms if e.type == kind]
        for t_s, colour in ticks:
            x = scale.x(t_s)
            parts.append(
                f'<line x1="{x:.1f}" y1="{y + 2:.1f}" x2="{x:.1f}" '
                f'y2="{y + LANE_H - 2:.1f}" stroke="{colour}" stroke-width="3"/>'
            )
    return parts


def _count_series(
    samples: Iterable[OccupancySample], zone: str, label: str
) -> list[tuple[float, int]]:
    series = []
    for sample in samples:
        if zone == "all":
            value = sum(counts.get(label, 0) for counts in sample.zones.values())
        elif zone in sample.zones:
            value = sample.zones[zone].get(label, 0)
        else:
            continue
        series.append((sample.t_s, value))
    return series


def _count_panel(
    checks: Sequence[CountCheck],
    samples: Sequence[OccupancySample],
    scale: _Scale,
    top: float,
) -> list[str]:
    zone, label = checks[0].expected.zone, checks[0].expected.label
    series = _count_series(samples, zone, label)
    peak = max([1, *(v for _, v in series), *(c.expected.count for c in checks)])

    def y(value: float) -> float:
        return top + COUNT_H - 6 - (COUNT_H - 12) * value / peak

    parts = [
        _text(LEFT - 8, top + COUNT_H / 2, f"{label} in {zone}"),
        _text(LEFT - 8, top + COUNT_H / 2 + 14, f"0-{peak}", fill="#777"),
        f'<rect x="{LEFT}" y="{top:.1f}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{COUNT_H}" fill="none" stroke="#ddd"/>',
    ]
    if series:
        points: list[str] = []
        previous: int | None = None
        for t_s, value in series:
            if previous is not None:
                points.append(f"{scale.x(t_s):.1f},{y(previous):.1f}")
            points.append(f"{scale.x(t_s):.1f},{y(value):.1f}")
            previous = value
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" '
            f'stroke="#1565c0" stroke-width="1.5"/>'
        )
    for check in checks:
        x, cy = scale.x(check.expected.t), y(check.expected.count)
        colour = GOOD if check.is_within_tolerance else BAD
        parts.append(
            f'<path d="M{x:.1f} {cy - 6:.1f} L{x + 6:.1f} {cy:.1f} L{x:.1f} '
            f'{cy + 6:.1f} L{x - 6:.1f} {cy:.1f} Z" fill="white" stroke="{colour}" '
            'stroke-width="2"/>'
        )
    return parts


def _axis(scale: _Scale, top: float) -> list[str]:
    step = _nice_step(scale.end_s)
    parts = [
        f'<line x1="{LEFT}" y1="{top:.1f}" x2="{WIDTH - RIGHT}" y2="{top:.1f}" '
        f'stroke="{INK}"/>'
    ]
    for index in range(int(scale.end_s / step + 1e-9) + 1):
        t_s = index * step
        x = scale.x(t_s)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{top + 5:.1f}" '
            f'stroke="{INK}"/>'
        )
        parts.append(_text(x, top + 18, f"{t_s:g}", anchor="middle"))
    parts.append(_text(WIDTH - RIGHT, top + 18 + 10, "clip seconds", fill="#777"))
    return parts


def timeline_svg(result: ScenarioResult) -> str | None:
    """The scenario's timeline as an SVG document; None for an error row or a
    scenario with neither events nor counts."""
    if not result.is_ok or result.run is None:
        return None
    matching = result.matching
    if not (matching.matches or matching.misses or matching.false_alarms) and not (
        result.counts
    ):
        return None
    scale = _Scale(_clip_end(result))
    parts = _event_lanes(result, scale, GAP)
    lanes = len(
        {m.expected.type for m in matching.matches}
        | {m.expected.type for m in matching.misses}
        | {e.type for e in matching.false_alarms}
    )
    top = GAP + lanes * LANE_H + (GAP if lanes else 0)
    groups: dict[tuple[str, str], list[CountCheck]] = {}
    for check in result.counts:
        groups.setdefault((check.expected.zone, check.expected.label), []).append(check)
    for checks in groups.values():
        parts += _count_panel(checks, result.run.occupancy, scale, top)
        top += COUNT_H + GAP
    parts += _axis(scale, top)
    height = top + AXIS_H + 8
    title = escape(f"{result.name}: expected and raised events, counts")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{WIDTH}" height="{height:.0f}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" role="img" aria-label="{title}">'
        f'<title>{title}</title><rect width="100%" height="100%" fill="white"/>'
        + "".join(parts)
        + "</svg>\n"
    )
