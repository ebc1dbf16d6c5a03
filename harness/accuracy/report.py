"""The eval's outputs for people: a text table, and a Markdown or HTML report
with an image for every miss and false alarm."""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edge.events.snapshot import Snapshotter
from edge.factory import find_face_blur
from harness.accuracy.match import (
    Miss,
    ObservedEvent,
    TypeTally,
    count_bias,
    count_bias_by_label,
    count_mae,
    count_mae_by_label,
    total,
)
from harness.accuracy.plots import timeline_svg
from harness.accuracy.results import (
    EvalSummary,
    ScenarioResult,
    false_alarm_key,
    miss_key,
)
from harness.accuracy.scenario import LoadedScenario
from simulators.transcode import ClipError, probe_clip

logger = logging.getLogger(__name__)

DASH = "–"


def _num(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return DASH
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _latency(item: TypeTally) -> str:
    stats = item.to_dict()
    values = [stats[k] for k in ("latency_s_mean", "latency_s_p50", "latency_s_max")]
    return " / ".join(_num(v, 1) for v in values)


# -- the text table ------------------------------------------------------------


def type_rows(summary: EvalSummary) -> list[list[str]]:
    """One row per event type, then `all`."""
    by_type = summary.by_type
    rows = []
    for kind, item in [*by_type.items(), ("all", total(by_type))]:
        rows.append(
            [
                kind,
                str(item.tp),
                str(item.fp),
                str(item.fn),
                _num(item.precision),
                _num(item.recall),
                _num(item.f1),
                _latency(item),
            ]
        )
    return rows


TYPE_HEADER = ["type", "TP", "FP", "FN", "precision", "recall", "F1", "latency s"]
SCENARIO_HEADER = [
    "scenario", "status", "expected", "events", "matched", "FP", "FN",
    "count MAE", "clip s", "wall s", "RT factor",
]  # fmt: skip


def scenario_rows(results: Sequence[ScenarioResult]) -> list[list[str]]:
    rows = []
    for r in results:
        if not r.is_ok:
            rows.append([r.name, "error", *[DASH] * 9])
            continue
        timing = r.run.timing if r.run is not None else None
        rows.append(
            [
                r.name,
                "ok",
                str(r.expected_events),
                str(len(r.run.events)) if r.run is not None else DASH,
                str(len(r.matching.matches)),
                str(len(r.matching.false_alarms)),
                str(len(r.matching.misses)),
                _num(count_mae(r.counts)),
                _num(timing.clip_s if timing else None, 1),
                _num(timing.seconds if timing else None, 1),
                _num(timing.realtime_factor if timing else None),
            ]
        )
    return rows


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [list(header), *rows]
    ]
    return "\n".join(lines)


def format_text(summary: EvalSummary) -> str:
    """The human summary `gridwatch eval` prints without --json."""
    parts = [
        text_table(SCENARIO_HEADER, scenario_rows(summary.results)),
        "",
        text_table(TYPE_HEADER, type_rows(summary)),
        "",
        _counts_line(summary),
        _privacy_line(summary),
    ]
    if misses := summary.misses():
        parts += ["", "misses:"]
        parts += [
            f"  {name}: {_miss_title(miss)}: {miss.reason}" for name, miss in misses
        ]
    if alarms := summary.false_alarms():
        parts += ["", "false alarms:"]
        parts += [f"  {name}: {_alarm_title(event)}" for name, event in alarms]
    if errors := summary.errors:
        parts += ["", "errors:"]
        parts += [f"  {r.name}: {r.error}" for r in errors]
    parts += [
        "",
        f"{len(summary.results)} scenarios in {summary.seconds:.1f} s "
        f"(start-up {summary.startup_s:.1f} s, speed {summary.speed:g})",
    ]
    return "\n".join(parts) + "\n"


def _counts_line(summary: EvalSummary) -> str:
    checks = summary.count_checks
    measured = [c for c in checks if c.observed is not None]
    ok = sum(c.is_within_tolerance for c in checks)
    bias = count_bias_by_label(checks)
    by_label = ", ".join(
        f"{label} {_num(mae)} (bias {_signed(bias[label])})"
        for label, mae in count_mae_by_label(checks).items()
    )
    return (
        f"count MAE: {_num(count_mae(checks))}, bias {_signed(count_bias(checks))} "
        f"over {len(measured)} checks "
        f"({ok} within tolerance, {len(checks) - len(measured)} unmeasured)"
        + (f"; by label: {by_label}" if by_label else "")
    )


def _signed(value: float | None) -> str:
    """A bias with its sign (+0.25, -1.00), or the dash when unmeasured."""
    return DASH if value is None else f"{value:+.2f}"


def _privacy_line(summary: EvalSummary) -> str:
    privacy = summary.privacy
    if privacy is None:
        return "privacy: snapshots not checked (no face model)"
    line = f"privacy: {privacy.faces} faces in {privacy.snapshots} published snapshots"
    if privacy.with_faces:
        line += f" (events {', '.join(privacy.with_faces)})"
    if privacy.unreadable:
        line += f", {privacy.unreadable} unreadable"
    return line


def _miss_title(miss: Miss) -> str:
    start, end = miss.expected.window
    return f"{miss.expected.type} expected in [{start:g}, {end:g}] s"


def _alarm_title(event: ObservedEvent) -> str:
    return (
        f"{event.type} at {event.t_s:.1f} s (zone {event.zone_id}, "
        f"confidence {event.confidence:.2f})"
    )


# -- the report document -----------------------------------------------------------


@dataclass(slots=True)
class Section:
    """A report section: paragraphs, at most one table, then image items."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    items: list[tuple[str, str, str | None]] = field(default_factory=list)


def build_sections(summary: EvalSummary, images: Mapping[str, str]) -> list[Section]:
    """The report's content, independent of Markdown or HTML."""
    results = summary.results
    sections = [
        Section("By event type", header=TYPE_HEADER, rows=type_rows(summary)),
        _counts_section(summary),
        Section("Privacy", paragraphs=[_privacy_line(summary)]),
        Section("Scenarios", header=SCENARIO_HEADER, rows=scenario_rows(results)),
        _misses_section(summary, images),
        _alarms_section(summary, images),
        _timelines_section(summary, images),
    ]
    if summary.errors:
        sections.append(
            Section(
                "Errors",
                header=["scenario", "error"],
                rows=[[r.name, r.error or ""] for r in summary.errors],
            )
        )
    composited = [f"{r.name}: {r.composited}" for r in results if r.composited]
    if composited:
        sections.append(Section("Composited scenes", paragraphs=composited))
    return sections


def _counts_section(summary: EvalSummary) -> Section:
    section = Section("Counts", paragraphs=[_counts_line(summary)])
    section.header = ["scenario", "t s", "zone", "label", "expected", "observed", "ok"]
    section.rows = [
        [
            r.name, f"{c.expected.t:g}", c.expected.zone, c.expected.label,
            str(c.expected.count), _num(c.observed),
            "yes" if c.is_within_tolerance else "no",
        ]
        for r in summary.results
        for c in r.counts
    ]  # fmt: skip
    return section


def _misses_section(summary: EvalSummary, images: Mapping[str, str]) -> Section:
    section = Section("Misses", paragraphs=[] if summary.misses() else ["None."])
    for name, miss in summary.misses():
        expected = miss.expected
        note = f" ({expected.note})" if expected.note else ""
        region = f"; region {list(expected.region)}" if expected.region else ""
        section.items.append(
            (
                f"{name}: {_miss_title(miss)}",
                f"{miss.reason}{region}{note}. Image: the clip at the middle of the "
                "window, expected region drawn.",
                images.get(miss_key(name, miss)),
            )
        )
    return section


def _alarms_section(summary: EvalSummary, images: Mapping[str, str]) -> Section:
    alarms = summary.false_alarms()
    section = Section("False alarms", paragraphs=[] if alarms else ["None."])
    for name, event in alarms:
        box = [round(v, 2) for v in event.image_box] if event.image_box else None
        section.items.append(
            (
                f"{name}: {_alarm_title(event)}",
                f"event {event.event_id}, image box {box}. "
                "Image: the event's snapshot.",
                images.get(false_alarm_key(name, event)),
            )
        )
    return section


def timeline_key(scenario: str) -> str:
    return f"{scenario}#timeline"


def _timelines_section(summary: EvalSummary, images: Mapping[str, str]) -> Section:
    section = Section(
        "Timelines",
        paragraphs=[
            "Per scenario, in clip seconds: expected windows (green: found, red: "
            "missed) and raised events (green: matched, red: false alarm) per "
            "event type; below, each counted label's reported count (blue) and "
            "the expected counts (diamonds, red outside their tolerance)."
        ],
    )
    for result in summary.results:
        image = images.get(timeline_key(result.name))
        if image:
            section.items.append((result.name, "", image))
    return section


def _intro(summary: EvalSummary) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{stamp}: {len(summary.results)} scenarios ({len(summary.errors)} errors), "
        f"replay speed {summary.speed:g}, {summary.seconds:.0f} s. Latency is "
        "raised time minus the expected window's start (clip seconds): mean / "
        "p50 / max."
    )


def render_markdown(summary: EvalSummary, sections: Sequence[Section]) -> str:
    lines = ["# gridwatch eval", "", _intro(summary), ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            lines += [paragraph, ""]
        if section.header:
            lines.append("| " + " | ".join(section.header) + " |")
            lines.append("|" + "---|" * len(section.header))
            lines += [
                "| " + " | ".join(_md_cell(c) for c in row) + " |"
                for row in section.rows
            ]
            lines.append("")
        for title, text, image in section.items:
            lines += [f"### {title}", "", text, ""]
            if image:
                lines += [f"![{title}]({image})", ""]
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_html(summary: EvalSummary, sections: Sequence[Section]) -> str:
    esc = html.escape
    body = [f"<h1>gridwatch eval</h1>\n<p>{esc(_intro(summary))}</p>"]
    for section in sections:
        body.append(f"<h2>{esc(section.title)}</h2>")
        body += [f"<p>{esc(p)}</p>" for p in section.paragraphs]
        if section.header:
            head = "".join(f"<th>{esc(h)}</th>" for h in section.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                for row in section.rows
            )
            body.append(
                f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
            )
        for title, text, image in section.items:
            body.append(f"<h3>{esc(title)}</h3><p>{esc(text)}</p>")
            if image:
                body.append(f'<img src="{esc(image)}" alt="{esc(title)}" width="480">')
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>gridwatch eval</title><style>{style}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


# -- images ------------------------------------------------------------------------


def write_report(
    summary: EvalSummary,
    path: Path,
    *,
    scenarios: Mapping[str, LoadedScenario],
    models_dir: Path | None,
) -> dict[str, str]:
    """Write the report (HTML when `path` ends in .html, else Markdown) and its images.

    Images go to ``<report stem>_files/`` beside the report: each false alarm's
    own snapshot, for each miss the clip frame at the middle of its window
    with the expected region drawn and faces blurred, and an SVG timeline per
    scenario.

    Returns:
        Item key -> image path relative to the report's folder.
    """
    folder = path.parent / f"{path.stem}_files"
    images = write_images(summary, folder, scenarios=scenarios, models_dir=models_dir)
    images |= write_timelines(summary, folder)
    relative = {key: f"{folder.name}/{name}" for key, name in images.items()}
    sections = build_sections(summary, relative)
    if path.suffix.lower() in {".html", ".htm"}:
        text = render_html(summary, sections)
    else:
        text = render_markdown(summary, sections)
    path.write_text(text, encoding="utf-8")
    return relative


def write_images(
    summary: EvalSummary,
    folder: Path,
    *,
    scenarios: Mapping[str, LoadedScenario],
    models_dir: Path | None,
) -> dict[str, str]:
    """Write the JPEGs of misses and false alarms; item key -> file name."""
    written: dict[str, str] = {}
    folder.mkdir(parents=True, exist_ok=True)
    for number, (name, event) in enumerate(summary.false_alarms(), start=1):
        if event.snapshot_jpeg:
            file_name = f"false-alarm-{number:03d}.jpg"
            (folder / file_name).write_bytes(event.snapshot_jpeg)
            written[false_alarm_key(name, event)] = file_name
    snapshotter = Snapshotter(
        camera_id="eval", face_blur=find_face_blur(models_dir, label="eval images")
    )
    for number, (name, miss) in enumerate(summary.misses(), start=1):
        scenario = scenarios.get(name)
        jpeg = miss_image(scenario, miss, snapshotter) if scenario else None
        if jpeg:
            file_name = f"miss-{number:03d}.jpg"
            (folder / file_name).write_bytes(jpeg)
            written[miss_key(name, miss)] = file_name
    return written


def write_timelines(summary: EvalSummary, folder: Path) -> dict[str, str]:
    """Write one SVG timeline per scenario that ran; item key -> file name."""
    written: dict[str, str] = {}
    folder.mkdir(parents=True, exist_ok=True)
    for number, result in enumerate(summary.results, start=1):
        svg = timeline_svg(result)
        if svg is not None:
            file_name = f"timeline-{number:03d}.svg"
            (folder / file_name).write_text(svg, encoding="utf-8")
            written[timeline_key(result.name)] = file_name
    return written


def miss_image(
    scenario: LoadedScenario, miss: Miss, snapshotter: Snapshotter
) -> bytes | None:
    """The clip frame mid-window with zones and region drawn, faces blurred."""
    start, end = miss.expected.window
    frame = read_frame_at(scenario.clip_path, (start + end) / 2)
    if frame is None:
        return None
    h, w = frame.shape[:2]
    for zone in scenario.camera.zones:
        points = np.array(
            [[x * w, y * h] for x, y in zone.polygon_norm], dtype=np.int32
        )
        cv2.polylines(frame, [points], isClosed=True, color=(0, 200, 255), thickness=2)
    boxes = np.zeros((0, 4), dtype=np.float32)
    if miss.expected.region is not None:
        boxes = np.array([miss.expected.region], dtype=np.float32) * [w, h, w, h]
    snapshot = snapshotter.render(
        frame, boxes_xyxy=boxes, texts=(f"expected {miss.expected.type}",)
    )
    return snapshot.jpeg


def read_frame_at(path: Path, t_s: float) -> npt.NDArray[np.uint8] | None:
    """The frame shown at clip time `t_s` (the last frame past the end)."""
    try:
        fps = float(probe_clip(path).fps)
    except (ClipError, RuntimeError) as error:
        logger.warning("eval report: cannot probe %s: %s", path, error)
        return None
    wanted = max(0, round(t_s * fps))
    capture = cv2.VideoCapture(str(path))
    frame: npt.NDArray[np.uint8] | None = None
    try:
        for _ in range(wanted + 1):
            ok, image = capture.read()
            if not ok:
                break
            frame = np.asarray(image, dtype=np.uint8)
    finally:
        capture.release()
    return frame
