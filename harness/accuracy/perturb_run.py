"""Scoring scenarios under camera conditions (`gridwatch eval --perturb`).

Two ways to replay: through the whole stack (each perturbed clip written to an
MP4 that the RTSP simulator serves, real time), or in process (`--in-process`:
the frames go straight through the node's detector, tracker, pose stage and
rules, sampled at `analysis_fps` by the node's own `FrameSampler`, as fast as
the CPU allows). Both score with the harness's matching.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.infer.base import BatchDetector
from edge.ingest.sampler import FrameSampler
from edge.pipeline.camera import CameraAnalysis
from edge.pose.movenet import PoseModels
from edge.types import Frame
from gridwatch.contract import EventPhase
from harness.accuracy.match import (
    COUNT_MAX_GAP_S,
    CountCheck,
    ObservedEvent,
    OccupancySample,
    TypeTally,
    check_counts,
    count_bias,
    count_bias_by_label,
    count_mae,
    count_mae_by_label,
    match_events,
    merge_tallies,
    tally,
    total,
)
from harness.accuracy.perturb import Perturbation, TimedFrame, perturbed, write_clip
from harness.accuracy.results import EvalSummary
from harness.accuracy.scenario import LoadedScenario, ScenarioLoad

T0 = 1_700_000_000.0  # clip second 0 on the rules' clock


@dataclass(frozen=True, slots=True)
class SceneOutcome:
    """One scenario under one condition: tallies, count checks, what went wrong."""

    name: str
    by_type: dict[str, TypeTally]
    counts: tuple[CountCheck, ...]
    problems: tuple[str, ...]
    frames: int = 0


@dataclass(frozen=True, slots=True)
class ConditionOutcome:
    """Every scenario under one condition.

    Attributes:
        perturbation: The condition.
        scenes: Per scenario outcome.
        seconds: Wall-clock time of the condition's replays.
    """

    perturbation: Perturbation
    scenes: tuple[SceneOutcome, ...]
    seconds: float

    @property
    def by_type(self) -> dict[str, TypeTally]:
        return merge_tallies(s.by_type for s in self.scenes)

    @property
    def counts(self) -> list[CountCheck]:
        return [c for s in self.scenes for c in s.counts]

    def to_dict(self) -> dict[str, Any]:
        by_type = self.by_type
        mae, bias = count_mae(self.counts), count_bias(self.counts)
        return {
            "name": self.perturbation.name,
            "description": self.perturbation.description,
            "by_type": {k: v.to_dict() for k, v in by_type.items()},
            "overall": total(by_type).to_dict(),
            "count_mae": None if mae is None else round(mae, 3),
            "count_bias": None if bias is None else round(bias, 3),
            "count_mae_by_label": _rounded(count_mae_by_label(self.counts)),
            "count_bias_by_label": _rounded(count_bias_by_label(self.counts)),
            "counts_checked": sum(c.observed is not None for c in self.counts),
            "problems": [f"{s.name}: {p}" for s in self.scenes for p in s.problems],
            "seconds": round(self.seconds, 1),
        }


def _rounded(values: dict[str, float | None]) -> dict[str, float | None]:
    return {k: None if v is None else round(v, 3) for k, v in values.items()}


def skip_frames(frames: Iterator[TimedFrame], count: int) -> Iterator[TimedFrame]:
    """The stream without its first `count` frames (another sampling phase)."""
    for index, item in enumerate(frames):
        if index >= count:
            yield item


def replay_frames(
    scenario: LoadedScenario,
    frames: Iterable[TimedFrame],
    *,
    detector: BatchDetector,
    pose_models: PoseModels,
    analysis_fps: float | None = None,
) -> SceneOutcome:
    """Feed timed frames through the node's per-camera path and score them.

    Frames are picked at the camera's `analysis_fps` (or the one given) by the
    node's `FrameSampler` on the frames' own times.
    """
    camera = scenario.camera
    if analysis_fps is not None:
        camera = camera.model_copy(update={"analysis_fps": analysis_fps})
    analysis = CameraAnalysis.from_camera(
        camera, labels=detector.labels, pose_models=pose_models
    )
    sampler = FrameSampler(camera.analysis_fps)
    events: list[ObservedEvent] = []
    samples: list[OccupancySample] = []
    analysed = 0
    for index, item in enumerate(frames):
        if not sampler.is_due(item.t_s):
            continue
        sampler.take(item.t_s)
        analysed += 1
        frame = Frame(
            camera_id=camera.id,
            index=index,
            captured_at=T0 + item.t_s,
            image=item.image,
        )
        result = analysis.step(frame, detector.detect_batch([item.image])[0]).rules
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
            samples.append(OccupancySample(t_s=item.t_s, zones=result.occupancy))
    expected = scenario.scenario.expected
    matching = match_events(expected.events, events)
    counts = tuple(check_counts(expected.counts, samples, max_gap_s=COUNT_MAX_GAP_S))
    problems = [f"missed {m.expected.type}: {m.reason}" for m in matching.misses]
    problems += [f"false {e.type} at {e.t_s:.1f} s" for e in matching.false_alarms]
    problems += [
        f"count {c.expected.label}@{c.expected.t:g}s: {c.observed} for "
        f"{c.expected.count}"
        for c in counts
        if not c.is_within_tolerance
    ]
    return SceneOutcome(
        name=scenario.name,
        by_type=tally(matching),
        counts=counts,
        problems=tuple(problems),
        frames=analysed,
    )


def run_in_process(
    scenarios: Sequence[LoadedScenario],
    perturbation: Perturbation,
    *,
    detector: BatchDetector,
    pose_models: PoseModels,
) -> ConditionOutcome:
    """Every scenario under `perturbation`, in process."""
    began = time.monotonic()
    scenes = []
    for scenario in scenarios:
        scene = replay_frames(
            scenario,
            perturbed(scenario.clip_path, perturbation),
            detector=detector,
            pose_models=pose_models,
        )
        _progress(perturbation, scene)
        scenes.append(scene)
    return ConditionOutcome(perturbation, tuple(scenes), time.monotonic() - began)


def perturbed_load(
    load: ScenarioLoad, perturbation: Perturbation, folder: Path
) -> ScenarioLoad:
    """The scenarios with their clips replaced by perturbed MP4s in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[Path, Path] = {}
    scenarios = []
    for scenario in load.scenarios:
        target = written.get(scenario.clip_path)
        if target is None:
            stem = scenario.scenario.clip.replace("/", "__").rsplit(".", 1)[0]
            target = folder / f"{stem}.{perturbation.name}.mp4"
            write_clip(perturbed(scenario.clip_path, perturbation), target)
            written[scenario.clip_path] = target
        document = scenario.scenario.model_copy(update={"clip": target.name})
        scenarios.append(
            dataclasses.replace(scenario, scenario=document, clip_path=target)
        )
    return ScenarioLoad(scenarios=tuple(scenarios), errors=load.errors)


def outcome_of_summary(
    perturbation: Perturbation, summary: EvalSummary
) -> ConditionOutcome:
    """A stack run's summary in the perturbation report's form."""
    scenes = []
    for result in summary.results:
        if not result.is_ok:
            scenes.append(
                SceneOutcome(result.name, {}, (), (f"error: {result.error}",))
            )
            continue
        problems = [
            f"missed {m.expected.type}: {m.reason}" for m in result.matching.misses
        ]
        problems += [
            f"false {e.type} at {e.t_s:.1f} s" for e in result.matching.false_alarms
        ]
        scenes.append(
            SceneOutcome(result.name, result.tallies, result.counts, tuple(problems))
        )
    return ConditionOutcome(perturbation, tuple(scenes), summary.seconds)


def temp_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="gridwatch-perturb-")


def format_table(outcomes: Sequence[ConditionOutcome]) -> str:
    """One row per condition, a `P / R / F1` column per event type, counts last."""
    kinds = sorted({k for o in outcomes for k in o.by_type})
    header = ["condition", *kinds, "count MAE / bias"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for outcome in outcomes:
        cells = [outcome.perturbation.name]
        for kind in kinds:
            item = outcome.by_type.get(kind)
            cells.append("–" if item is None else _prf(item))
        mae, bias = count_mae(outcome.counts), count_bias(outcome.counts)
        cells.append("–" if mae is None or bias is None else f"{mae:.2f} / {bias:+.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _prf(item: TypeTally) -> str:
    def num(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    return (
        f"{num(item.precision)} / {num(item.recall)} / {num(item.f1)} "
        f"({item.tp}/{item.fp}/{item.fn})"
    )


def _progress(perturbation: Perturbation, scene: SceneOutcome) -> None:
    kinds = ", ".join(
        f"{kind} {t.tp}/{t.fp}/{t.fn}" for kind, t in scene.by_type.items()
    )
    line = (
        f"eval: [{perturbation.name}] {scene.name}: {kinds or 'no events'} "
        f"(tp/fp/fn), {scene.frames} frames"
        + (f"; {'; '.join(scene.problems)}" if scene.problems else "")
    )
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
