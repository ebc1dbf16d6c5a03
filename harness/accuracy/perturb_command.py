"""`gridwatch eval --perturb` and `--sampling`: the scenarios under conditions."""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edge.config import ModelConfig
from edge.infer.session import OnnxDetector
from edge.pose.movenet import PoseModels
from harness.accuracy.match import merge_tallies, total
from harness.accuracy.perturb import Perturbation, parse_perturbations, read_clip
from harness.accuracy.perturb_run import (
    ConditionOutcome,
    SceneOutcome,
    format_table,
    outcome_of_summary,
    perturbed_load,
    replay_frames,
    run_in_process,
    skip_frames,
    temp_folder,
)
from harness.accuracy.results import EvalSummary
from harness.accuracy.scenario import LoadedScenario, ScenarioLoad

# `command.run_scenarios`, passed in (this module is imported by `command`).
StackRunner = Callable[..., EvalSummary]


def run_conditions(
    load: ScenarioLoad,
    args: argparse.Namespace,
    *,
    node_config: dict[str, Any] | None,
    run_stack: StackRunner,
) -> int:
    """Run `--perturb` or `--sampling`; print JSON or tables.

    Returns:
        0, 1 when an F1 gate failed or a scenario did not load, 2 on bad names.
    """
    try:
        perturbations = parse_perturbations(args.perturb) if args.perturb else []
        rates = _rates(args.sampling) if args.sampling else []
    except ValueError as error:
        sys.stderr.write(f"eval: {error}\n")
        return 2
    if rates:
        detector, poses = _models(args, node_config)
        study = sampling_study(
            load.scenarios, rates, detector=detector, pose_models=poses
        )
        _print(args, {"sampling": study}, _sampling_table(study))
        return 1 if load.errors else 0
    if args.in_process:
        detector, poses = _models(args, node_config)
        outcomes = [
            run_in_process(load.scenarios, p, detector=detector, pose_models=poses)
            for p in perturbations
        ]
    else:
        outcomes = _stack_outcomes(load, perturbations, args, node_config, run_stack)
    data = {
        "mode": "in_process" if args.in_process else "stack",
        "perturbations": [o.to_dict() for o in outcomes],
    }
    _print(args, data, format_table(outcomes))
    below = _f1_below(outcomes, args.fail_under_f1)
    if below:
        sys.stderr.write(f"eval: F1 below {args.fail_under_f1}: {', '.join(below)}\n")
    return 1 if below or load.errors else 0


def _stack_outcomes(
    load: ScenarioLoad,
    perturbations: Sequence[Perturbation],
    args: argparse.Namespace,
    node_config: dict[str, Any] | None,
    run_stack: StackRunner,
) -> list[ConditionOutcome]:
    outcomes = []
    with temp_folder() as folder:
        for perturbation in perturbations:
            sys.stderr.write(f"eval: condition {perturbation.name}: writing clips\n")
            clips = perturbed_load(load, perturbation, Path(folder) / perturbation.name)
            summary = run_stack(
                clips,
                speed=args.speed,
                models_dir=args.models_dir,
                node_config=node_config,
                rtsp_cache_dir=args.rtsp_cache_dir,
            )
            outcomes.append(outcome_of_summary(perturbation, summary))
    return outcomes


def _models(
    args: argparse.Namespace, node_config: dict[str, Any] | None
) -> tuple[OnnxDetector, PoseModels]:
    model = ModelConfig.model_validate((node_config or {}).get("model", {}))
    return (
        OnnxDetector.from_config(model, args.models_dir),
        PoseModels(models_dir=args.models_dir),
    )


def _rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"--sampling wants rates like 5,10,15, got {text!r}") from None
    if any(not 0 < r <= 60 for r in rates):
        raise ValueError(f"--sampling rates must be in (0, 60], got {text!r}")
    return rates


def _f1_below(outcomes: Sequence[ConditionOutcome], floor: float | None) -> list[str]:
    if floor is None:
        return []
    return [
        f"{o.perturbation.name}/{kind}"
        for o in outcomes
        for kind, item in o.by_type.items()
        if item.f1 is not None and item.f1 < floor
    ]


def source_fps(path: Path) -> float:
    """A clip's frame rate from its frames' times (median gap)."""
    times = [item.t_s for item in read_clip(path)]
    gaps = [b - a for a, b in itertools.pairwise(times) if b > a]
    return 1.0 / statistics.median(gaps) if gaps else 1.0


def sampling_study(
    scenarios: Sequence[LoadedScenario],
    rates: Sequence[float],
    *,
    detector: OnnxDetector,
    pose_models: PoseModels,
) -> list[dict[str, Any]]:
    """Per analysis rate: each scenario from every start frame offset.

    At `r` fps on a clip of `f` fps the sampler takes about every `f/r`-th
    frame, so `round(f/r)` offsets (skipping the clip's first 0, 1, ...
    frames) cover every set of frames the node could get.
    """
    study = []
    for rate in rates:
        began = time.monotonic()
        scenes: list[SceneOutcome] = []
        runs = 0
        for scenario in scenarios:
            stride = max(1, round(source_fps(scenario.clip_path) / rate))
            for offset in range(stride):
                scene = replay_frames(
                    scenario,
                    skip_frames(read_clip(scenario.clip_path), offset),
                    detector=detector,
                    pose_models=pose_models,
                    analysis_fps=rate,
                )
                runs += 1
                problems = tuple(f"offset {offset}: {p}" for p in scene.problems)
                scenes.append(
                    SceneOutcome(scene.name, scene.by_type, scene.counts, problems)
                )
                _say(f"[{rate:g} fps] {scenario.name} offset {offset}: {problems}")
        by_type = merge_tallies(s.by_type for s in scenes)
        study.append(
            {
                "analysis_fps": rate,
                "runs": runs,
                "by_type": {k: v.to_dict() for k, v in by_type.items()},
                "overall": total(by_type).to_dict(),
                "problems": [f"{s.name}: {p}" for s in scenes for p in s.problems],
                "seconds": round(time.monotonic() - began, 1),
            }
        )
    return study


def _sampling_table(study: Sequence[dict[str, Any]]) -> str:
    kinds = sorted({k for row in study for k in row["by_type"]})
    lines = [
        "| analysis fps | runs | " + " | ".join(kinds) + " |",
        "|" + "---|" * (len(kinds) + 2),
    ]
    for row in study:
        cells = [f"{row['analysis_fps']:g}", str(row["runs"])]
        for kind in kinds:
            item = row["by_type"].get(kind)
            cells.append("–" if item is None else _tally_cell(item))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _tally_cell(item: dict[str, Any]) -> str:
    return f"TP {item['tp']} FP {item['fp']} FN {item['fn']} (F1 {item['f1']})"


def _print(args: argparse.Namespace, data: dict[str, Any], table: str) -> None:
    if args.json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(table)
        for row in data.get("perturbations", data.get("sampling", [])):
            for problem in row["problems"]:
                label = row.get("name", f"{row.get('analysis_fps', '')} fps")
                sys.stdout.write(f"  {label}: {problem}\n")


def _say(line: str) -> None:
    sys.stderr.write(f"eval: {line}\n")
    sys.stderr.flush()
