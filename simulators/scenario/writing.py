"""Writing a scene: the H.264 clip (through ffmpeg) and its scenario YAML."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from simulators.scenario.assets import person_source
from simulators.scenario.compositing import BoxPx, ObjectTruth, SceneTruth
from simulators.scenario.scenes import SceneSpec

WINDOW_BEFORE_S = 1.0  # an event may come this much before it is due ...
WINDOW_AFTER_S = 6.0  # ... and this much after (detection and tracking lag)
_REGION_PAD = 0.03
_FFMPEG_TIMEOUT_S = 300


class Mp4Writer:
    """Encodes BGR frames to an MP4 (H.264, yuv420p, no B-frames) with ffmpeg.

    The stream has a key frame every second and bit-exact flags, so the same
    frames give the same file, and the RTSP simulator can serve it as it is.
    """

    def __init__(self, path: Path, *, resolution_wh: tuple[int, int], fps: float):
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise RuntimeError("ffmpeg not found on PATH; install ffmpeg")
        width, height = resolution_wh
        if width % 2 or height % 2:
            raise ValueError(f"H.264 4:2:0 needs an even size, got {width}x{height}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._size = (height, width, 3)
        gop = str(max(1, round(fps)))
        command = [
            ffmpeg, "-nostdin", "-v", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
            "-r", f"{fps:g}", "-i", "-",
            "-c:v", "libx264", "-preset", "faster", "-crf", "18",
            "-pix_fmt", "yuv420p", "-bf", "0", "-g", gop, "-keyint_min", gop,
            "-sc_threshold", "0", "-threads", "1",
            "-fflags", "+bitexact", "-flags:v", "+bitexact",
            "-map_metadata", "-1", "-movflags", "+faststart",
            str(path),
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stderr=subprocess.PIPE
        )

    def write(self, frame: npt.NDArray[np.uint8]) -> None:
        """Append one BGR frame.

        Raises:
            ValueError: The frame has another size.
        """
        if frame.shape != self._size:
            raise ValueError(f"frame must have shape {self._size}, got {frame.shape}")
        assert self._process.stdin is not None
        self._process.stdin.write(np.ascontiguousarray(frame).tobytes())

    def close(self) -> None:
        """Finish the file.

        Raises:
            RuntimeError: ffmpeg failed (its last error line in the message).
        """
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            code = self._process.wait(timeout=_FFMPEG_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            raise RuntimeError(f"ffmpeg timed out writing {self.path}") from None
        errors = self._process.stderr.read().decode() if self._process.stderr else ""
        if code != 0:
            last = errors.strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"ffmpeg failed writing {self.path}: {last[0]}")

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
            return
        self._process.kill()
        self._process.wait()


def expected_section(spec: SceneSpec, truth: SceneTruth) -> dict[str, Any]:
    """The `expected` block: the events due and, for crowds, the counts."""
    events = [
        event
        for obj in truth.objects
        if (event := _expected_event(spec, truth, obj)) is not None
    ]
    counts = _expected_counts(spec, truth) if spec.crowd else []
    events += _crowd_events(spec) if spec.crowd else []
    section: dict[str, Any] = {"events": events}
    if counts:
        section["counts"] = counts
    return section


def _expected_event(
    spec: SceneSpec, truth: SceneTruth, obj: ObjectTruth
) -> dict[str, Any] | None:
    if obj.expect is None:
        return None
    if obj.ground_box is None or obj.drop_s is None or obj.owner_away_from_s is None:
        raise ValueError(
            f"scene {spec.name}: {obj.asset} should raise {obj.expect} but its "
            "owner never went away from it"
        )
    rule = _rule_of(spec, obj.expect.value)
    static_s = float(rule.get("static_s", 5.0))
    away_s = float(rule.get("owner_away_s", 10.0))
    due = max(obj.drop_s + static_s, obj.owner_away_from_s + away_s)
    window = [round(due - WINDOW_BEFORE_S, 1), round(due + WINDOW_AFTER_S, 1)]
    return {
        "type": obj.expect.value,
        "window": window,
        "region": _region(obj.ground_box, truth.resolution_wh),
        "note": (
            f"{obj.asset} put down at {obj.drop_s:.1f} s; owner away (farther "
            f"than owner_away_frac, or out of view) from "
            f"{obj.owner_away_from_s:.1f} s; due at {due:.1f} s"
        ),
    }


def _expected_counts(spec: SceneSpec, truth: SceneTruth) -> list[dict[str, Any]]:
    tolerance = 1 if len(spec.crowd) <= 6 else 2
    counts = []
    step = 3.0
    t = step
    while t < truth.frame_count / truth.fps - 0.5:
        real = truth.real_people_at(t)
        counts.append(
            {
                "t": t,
                "zone": "floor",
                "label": "person",
                "count": len(spec.crowd) + real,
                "tolerance": tolerance,
            }
        )
        t += step
    return counts


def _crowd_events(spec: SceneSpec) -> list[dict[str, Any]]:
    rule = _rule_of(spec, "crowding")
    dwell = float(rule.get("dwell_s", 10.0))
    return [
        {
            "type": "crowding",
            "window": [round(dwell, 1), round(dwell + WINDOW_AFTER_S, 1)],
            "note": f"{len(spec.crowd)} people pasted from the first frame",
        }
    ]


def _rule_of(spec: SceneSpec, rule_type: str) -> dict[str, Any]:
    for rule in spec.rules:
        if rule.get("type") == rule_type:
            return rule
    raise ValueError(f"scene {spec.name}: expects {rule_type} but has no such rule")


def _region(box: BoxPx, resolution_wh: tuple[int, int]) -> list[float]:
    width, height = resolution_wh
    x1, y1, x2, y2 = box
    return [
        round(max(0.0, x1 / width - _REGION_PAD), 3),
        round(max(0.0, y1 / height - _REGION_PAD), 3),
        round(min(1.0, x2 / width + _REGION_PAD), 3),
        round(min(1.0, y2 / height + _REGION_PAD), 3),
    ]


def composited_note(spec: SceneSpec, truth: SceneTruth) -> str:
    """What is composited into the footage, for the scenario's `composited`."""
    parts = []
    for obj in truth.objects:
        where = ""
        if obj.ground_box is not None:
            x1, y1, x2, y2 = (round(v) for v in obj.ground_box)
            where = f" on the ground at ({x1},{y1})-({x2},{y2})"
        placed = obj.drop_s == 0.0 and obj.expect is None
        when = (
            "from the first frame"
            if placed
            else f"carried, put down at {obj.drop_s:.1f} s"
            if obj.drop_s is not None
            else "carried throughout"
        )
        taken = "taken away" if placed else "picked up"
        pick = f", {taken} at {obj.pick_s:.1f} s" if obj.pick_s is not None else ""
        parts.append(f"{obj.asset} ({obj.origin}){where}, {when}{pick}")
    if spec.crowd:
        sources = [
            person_source(name) for name in sorted({m.person for m in spec.crowd})
        ]
        cut = ", ".join(
            f"{s.clip} {s.standing[0]:g}-{s.standing[1]:g} s" for s in sources
        )
        parts.append(
            f"{len(spec.crowd)} people standing, cut out of the footage by their "
            f"difference to its empty frames ({cut}; some mirrored)"
        )
    for walker in spec.walkers:
        source = person_source(walker.person)
        start, end = walker.path[0][0], walker.path[-1][0]
        crouch = (
            f", crouched {walker.crouch[0]:g}-{walker.crouch[1]:g} s"
            if walker.crouch is not None
            else ""
        )
        parts.append(
            f"a person ({source.clip} {source.standing[0]:g}-"
            f"{source.standing[1]:g} s, cut out by difference to its empty frames"
            f"{', mirrored' if walker.flip else ''}) moved along "
            f"{len(walker.path)} keyframes from {start:g} to {end:g} s{crouch}"
        )
    for mover in spec.movers:
        start, end = mover.path[0][0], mover.path[-1][0]
        parts.append(
            f"{mover.asset} moved along {len(mover.path)} keyframes from "
            f"{start:g} to {end:g} s"
        )
    for light in spec.lighting:
        where = (
            "the whole picture"
            if light.region is None
            else f"region {list(light.region)}"
        )
        back = f", back from {light.end_s:g} s" if light.end_s is not None else ""
        parts.append(
            f"light x{light.gain:g} over {where} from {light.start_s:g} s "
            f"(ramp {light.ramp_s:g} s){back}"
        )
    segments = ", ".join(f"{a:g}-{b:g} s" for a, b in spec.background.segments[:3])
    more = " (then back and forth)" if len(spec.background.segments) > 3 else ""
    background = f"background {spec.background.clip} {segments}{more}"
    if not spec.background.segments and spec.background.plate is not None:
        a, b = spec.background.plate
        background = (
            f"background the empty plate of {spec.background.clip} (median of "
            f"{a:g}-{b:g} s without its people) with sensor noise"
        )
    return "; ".join([*parts, background]) if parts else f"nothing pasted; {background}"


def scenario_document(spec: SceneSpec, truth: SceneTruth, *, clip: str) -> str:
    """The scenario file's text: a header comment and the YAML document."""
    document = {
        "clip": clip,
        "description": spec.description,
        "composited": composited_note(spec, truth),
        "camera": spec.camera(),
        "expected": expected_section(spec, truth),
    }
    header = (
        f"# {spec.name} ({spec.kind}), {truth.frame_count / truth.fps:.1f} s at "
        f"{truth.fps:g} fps.\n"
        "# Written by `gridwatch sim scenario build`; edit the scene in "
        "simulators/scenario/scenes.py and rebuild.\n"
    )
    body = yaml.safe_dump(
        document, sort_keys=False, default_flow_style=None, width=88, allow_unicode=True
    )
    return header + body
