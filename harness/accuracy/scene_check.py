"""`gridwatch sim scenario check`: replay built scenes in process and score them.

Each clip is decoded from its file and fed at the camera's analysis rate through
the real detector, tracker and zone rules (no RTSP, no broker), so a scene set
is scored in seconds; `gridwatch eval` scores the same scenario files through
the whole stack. Matching and metrics are the harness's own
(`harness.accuracy.match`).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.config import ModelConfig
from edge.infer.session import OnnxDetector
from edge.pipeline.camera import CameraAnalysis
from edge.pose.movenet import PoseModels
from edge.types import Frame
from gridwatch.contract import EventPhase
from harness.accuracy.match import (
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
from harness.accuracy.scenario import LoadedScenario, load_scenarios

logger = logging.getLogger(__name__)

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


def replay(
    scenario: LoadedScenario, detector: OnnxDetector, pose_models: PoseModels
) -> SceneScore:
    """Feed the scenario's clip through the detector and the node's analysis path
    (tracker, pose stage for fall zones, rules); score it.

    Raises:
        ValueError: The clip cannot be read.
        LookupError, OSError: A fall zone's pose model cannot be found.
    """
    started = time.perf_counter()
    camera = scenario.camera
    analysis = CameraAnalysis.from_camera(
        camera, labels=detector.labels, pose_models=pose_models
    )
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
            result = analysis.step(frame, detector.detect(image)).rules
            events += [
                ObservedEvent(
                    event_id=s.event_id,
                    type=str(s.event_type),
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
        line += f"; missed {miss.expected.type}: {miss.reason}"
    return line + f", {score.seconds:.1f} s"


def add_check_action(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    check = actions.add_parser(
        "check",
        help="Replay built scenes in process (detector, tracker, rules) and score.",
    )
    check.add_argument(
        "--media", type=Path, required=True, help="Folder holding composited/."
    )
    check.add_argument(
        "--scenarios", type=Path, required=True, help="Scenario folder or file."
    )
    check.add_argument("--only", help="Glob on scenario names.")
    check.add_argument("--models-dir", type=Path, default=None, help="Model folder.")
    check.add_argument("--model", default="yolox_nano", help="Manifest model name.")


def check_scenes(args: argparse.Namespace) -> int:
    """Replay the scenarios in process; print a line each and the totals."""
    load = load_scenarios(args.scenarios, media_dir=args.media, only=args.only)
    for name, error in load.errors:
        _say(f"{name}: error: {error}")
    if not load.scenarios:
        logger.error("no usable scenario under %s", args.scenarios)
        return 2
    detector = OnnxDetector.from_config(ModelConfig(name=args.model), args.models_dir)
    pose_models = PoseModels(models_dir=args.models_dir)
    scores = []
    for scenario in load.scenarios:
        score = replay(scenario, detector, pose_models)
        scores.append(score)
        _say(score_line(score))
    for kind, item in summary(scores).items():
        figures = item.to_dict()
        _say(
            f"{kind}: precision {figures['precision']}, recall {figures['recall']} "
            f"(tp {item.tp}, fp {item.fp}, fn {item.fn})"
        )
    return 1 if load.errors else 0


def _say(line: str) -> None:
    sys.stderr.write(f"scenario: {line}\n")
    sys.stderr.flush()
