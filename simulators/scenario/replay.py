"""`gridwatch sim scenario check`: replay built scenes in process and score them.

Each clip is decoded from its file and fed at the camera's analysis rate through
the real detector, tracker and zone rules (no RTSP, no broker), so a scene set
is scored in seconds; `gridwatch eval` scores the same scenario files through
the whole stack. Matching and metrics are the harness's own
(`gridwatch.eval.match`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.infer.session import OnnxDetector
from edge.rules.engine import CameraRules
from edge.track.bytetrack import ObjectTracker
from edge.types import Frame
from gridwatch.contract import EventPhase
from gridwatch.eval.match import (
    CountCheck,
    EventMatching,
    ObservedEvent,
    OccupancySample,
    TypeTally,
    check_counts,
    match_events,
    merge_tallies,
    tally,
    total,
)
from gridwatch.eval.scenario import LoadedScenario

T0 = 1_700_000_000.0  # clip second 0 on the rules' clock
_COUNT_GAP_S = 1.0


@dataclass(frozen=True, slots=True)
class SceneScore:
    """How one scenario went.

    Attributes:
        name: Scenario name.
        events: Start events raised, clip time.
        matching: Expected vs raised.
        counts: Count checks.
        frames: Frames analysed.
        seconds: Wall-clock time of the replay.
    """

    name: str
    events: tuple[ObservedEvent, ...]
    matching: EventMatching
    counts: tuple[CountCheck, ...]
    frames: int
    seconds: float

    @property
    def tallies(self) -> dict[str, TypeTally]:
        return tally(self.matching)


def replay(scenario: LoadedScenario, detector: OnnxDetector) -> SceneScore:
    """Feed the scenario's clip through detector, tracker and rules; score it.

    Raises:
        ValueError: The clip cannot be read.
    """
    started = time.perf_counter()
    camera = scenario.camera
    tracker = ObjectTracker.from_camera(camera)
    rules = CameraRules.from_config(camera)
    labels = tuple(detector.labels)
    events: list[ObservedEvent] = []
    samples: list[OccupancySample] = []
    capture = cv2.VideoCapture(str(scenario.clip_path))
    if not capture.isOpened():
        raise ValueError(f"cannot open {scenario.clip_path}")
    fps = float(capture.get(cv2.CAP_PROP_FPS)) or 10.0
    index, analysed, next_slot = 0, 0, 0
    try:
        while True:
            ok, read = capture.read()
            if not ok:
                break
            image = np.asarray(read, dtype=np.uint8)
            t = index / fps
            index += 1
            # Analyse the first frame of each 1/analysis_fps slot, as the
            # node's per-camera rate limiter does.
            slot = math.floor(t * camera.analysis_fps + 1e-6)
            if slot < next_slot:
                continue
            next_slot = slot + 1
            analysed += 1
            frame = Frame(
                camera_id=camera.id, index=index - 1, captured_at=T0 + t, image=image
            )
            tracked = tracker.update(detector.detect(image), timestamp=T0 + t)
            result = rules.update(frame, tracked, labels)
            events += [
                ObservedEvent(
                    event_id=s.event_id,
                    type=s.event_type.value,
                    t_s=round(s.timestamp - T0, 3),
                    image_box=s.box_norm,
                    zone_id=s.zone_id,
                    confidence=s.confidence,
                )
                for s in result.signals
                if s.phase is EventPhase.START
            ]
            if result.occupancy:
                samples.append(OccupancySample(t_s=t, zones=result.occupancy))
    finally:
        capture.release()
    if index == 0:
        raise ValueError(f"no frames in {scenario.clip_path}")
    expected = scenario.scenario.expected
    return SceneScore(
        name=scenario.name,
        events=tuple(events),
        matching=match_events(expected.events, events),
        counts=tuple(check_counts(expected.counts, samples, max_gap_s=_COUNT_GAP_S)),
        frames=analysed,
        seconds=time.perf_counter() - started,
    )


def summary(scores: list[SceneScore]) -> dict[str, TypeTally]:
    """Per event type tallies over all scenes, plus `all`."""
    merged = merge_tallies(score.tallies for score in scores)
    merged["all"] = total(merged)
    return merged


def score_line(score: SceneScore) -> str:
    """``name: 1/1 matched, 0 false alarms, counts 3/3, 3.2 s``."""
    wanted = len(score.matching.matches) + len(score.matching.misses)
    raised = ", ".join(f"{e.type}@{e.t_s:.1f}" for e in score.events) or "none"
    line = (
        f"{score.name}: {len(score.matching.matches)}/{wanted} matched, "
        f"{len(score.matching.false_alarms)} false alarms (raised: {raised})"
    )
    if score.counts:
        ok = sum(c.is_within_tolerance for c in score.counts)
        got = [c.observed for c in score.counts]
        line += f", counts {ok}/{len(score.counts)} {got}"
    for miss in score.matching.misses:
        line += f"; missed {miss.expected.type.value}: {miss.reason}"
    return line + f", {score.seconds:.1f} s"


def find_clip(media_dir: Path, clip: str) -> Path:
    """The clip of a scenario under the media folder.

    Raises:
        FileNotFoundError: It is not there.
    """
    path = media_dir / clip
    if not path.is_file():
        raise FileNotFoundError(f"clip not found: {path} (build the scenes first)")
    return path
