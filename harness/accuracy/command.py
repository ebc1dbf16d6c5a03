"""`gridwatch eval`: replay scenario clips through the real pipeline and score it.

Each scenario file names a clip, the camera section (zones and rules) that
watches it and the events and counts a person saw in it. The clips play once
through the RTSP simulator into a real edge node and Mosquitto; what the node
publishes is matched against the truth: per event type TP, FP, FN, precision,
recall, F1 and latency, and the mean absolute error of the counts.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from harness.accuracy.perturb_command import run_conditions
from harness.accuracy.privacy import SnapshotFaceCheck
from harness.accuracy.replay import (
    ReplayError,
    ReplaySettings,
    ReplayStack,
    default_workdir,
)
from harness.accuracy.report import format_text, write_report
from harness.accuracy.results import EvalSummary, ScenarioResult, evaluate, failed
from harness.accuracy.scenario import (
    LoadedScenario,
    ScenarioLoad,
    load_scenario_sets,
    unconfigured_types,
)
from models.manifest import search_dirs

logger = logging.getLogger(__name__)

# The node logs every reconnect; at the end of each played-once clip that is
# expected, so its INFO and WARNING lines stay out of the progress lines.
_QUIET_LOGGERS = ("edge", "harness.services", "simulators")


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _unit_float(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within 0..1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "scenarios",
        type=Path,
        nargs="+",
        help="scenario folders (read recursively) or files; several run as one",
    )
    parser.add_argument(
        "--media",
        type=Path,
        default=None,
        help="folder the scenarios' clips are relative to "
        "(default: the shared videos folder)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="write a report with images: Markdown, or HTML when FILE ends in .html",
    )
    parser.add_argument(
        "--speed",
        type=_positive_float,
        default=1.0,
        help="replay rate (default 1); rule durations and the analysis rate are "
        "scaled to match, so use it only where the node keeps up",
    )
    parser.add_argument(
        "--only", default=None, metavar="GLOB", help="run the scenarios matching GLOB"
    )
    parser.add_argument(
        "--fail-under-f1",
        type=_unit_float,
        default=None,
        metavar="X",
        help="exit 1 when any event type's F1 is below X (CI gate)",
    )
    parser.add_argument("--models-dir", type=Path, default=None, help="model folder")
    parser.add_argument(
        "--node-config",
        type=Path,
        default=None,
        help="base node config YAML (model, batch, ...); cameras, broker, http and "
        "outbox are replaced",
    )
    parser.add_argument(
        "--rtsp-cache-dir", type=Path, default=None, help="simulator transcode cache"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="keep the node's and simulator's logs"
    )
    parser.add_argument(
        "--perturb",
        default=None,
        metavar="NAMES",
        help="replay every scenario under each camera condition (comma-separated, "
        "or all: none, h264, half_res, low_light, uneven_fps, shake, drop_burst) "
        "and report P/R/F1 per event type under each",
    )
    parser.add_argument(
        "--sampling",
        default=None,
        metavar="FPS",
        help="in process: replay every scenario at each analysis rate "
        "(comma-separated, e.g. 5,10,15) from every start frame offset",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="with --perturb: feed frames straight into the node's detector, "
        "tracker and rules (no RTSP, broker or real-time pacing)",
    )


def run_cli(args: argparse.Namespace) -> int:
    """Returns 0 when every scenario ran (misses included), 1 on errors or a
    failed F1 gate, 2 on bad arguments."""
    media_dir = args.media or _default_media_dir()
    if not media_dir.is_dir():
        sys.stderr.write(f"eval: media folder not found: {media_dir}\n")
        return 2
    try:
        base_config = _read_node_config(args.node_config)
        load = load_scenario_sets(args.scenarios, media_dir=media_dir, only=args.only)
    except (FileNotFoundError, ValueError) as error:
        sys.stderr.write(f"eval: {error}\n")
        return 2
    if not load.scenarios and not load.errors:
        sys.stderr.write(
            f"eval: no scenario in {' '.join(map(str, args.scenarios))} "
            f"(--only {args.only})\n"
        )
        return 2
    if args.perturb is not None or args.sampling is not None:
        with _quiet_pipeline(args.verbose):
            return run_conditions(
                load, args, node_config=base_config, run_stack=run_scenarios
            )
    with _quiet_pipeline(args.verbose):
        summary = run_scenarios(
            load,
            speed=args.speed,
            models_dir=args.models_dir,
            node_config=base_config,
            rtsp_cache_dir=args.rtsp_cache_dir,
        )
    return _finish(summary, load, args)


def _finish(summary: EvalSummary, load: ScenarioLoad, args: argparse.Namespace) -> int:
    images: dict[str, str] = {}
    if args.report is not None:
        images = write_report(
            summary,
            args.report,
            scenarios={s.name: s for s in load.scenarios},
            models_dir=args.models_dir,
        )
        sys.stderr.write(f"eval: report written to {args.report}\n")
    if args.json:
        sys.stdout.write(json.dumps(summary.to_dict(images), ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(format_text(summary))
    status = 1 if summary.errors else 0
    privacy = summary.privacy
    if privacy is not None and privacy.faces:
        sys.stderr.write(
            f"eval: {privacy.faces} faces found in published snapshots "
            f"(events {', '.join(privacy.with_faces)}): faces must be blurred\n"
        )
        status = 1
    if args.fail_under_f1 is not None:
        below = summary.f1_below(args.fail_under_f1)
        if below:
            sys.stderr.write(
                f"eval: F1 below {args.fail_under_f1} for {', '.join(below)}\n"
            )
            status = 1
    return status


def _default_media_dir() -> Path:
    for folder in search_dirs("videos"):
        if folder.is_dir():
            return folder
    return Path("videos")


def _read_node_config(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read node config {path}: {error}") from None
    if not isinstance(document, dict):
        raise ValueError(f"node config {path} must be a mapping")
    return document


@contextmanager
def _quiet_pipeline(verbose: bool) -> Iterator[None]:
    if verbose:
        yield
        return
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def run_scenarios(
    load: ScenarioLoad,
    *,
    speed: float = 1.0,
    models_dir: Path | None = None,
    node_config: dict[str, Any] | None = None,
    rtsp_cache_dir: Path | None = None,
) -> EvalSummary:
    """Replay every loaded scenario, one after the other; errors become rows.

    Every published snapshot is searched for faces when the face model is
    found. Progress goes to stderr, one line per scenario.
    """
    began = time.monotonic()
    results = [failed(name, error.path, str(error)) for name, error in load.errors]
    for result in results:
        _progress(f"{result.name}: error: {result.error}")
    startup_s = 0.0
    if load.scenarios:
        with default_workdir() as workdir:
            settings = ReplaySettings(
                workdir=Path(workdir),
                speed=speed,
                models_dir=models_dir,
                node_config=node_config,
                rtsp_cache_dir=rtsp_cache_dir,
            )
            clips = {s.scenario.clip: s.clip_path for s in load.scenarios}
            try:
                face_check = SnapshotFaceCheck.load(models_dir)
                if face_check is None:
                    _progress("warning: no face model, snapshots are not checked")
                with ReplayStack(settings, clips) as stack:
                    startup_s = stack.startup_s
                    _progress(
                        f"started broker, RTSP simulator and model in {startup_s:.1f} s"
                    )
                    results += _run_all(stack, load.scenarios, face_check)
            except RuntimeError as error:  # the shared stack could not start
                results += [
                    failed(s.name, s.path, f"stack did not start: {error}", s)
                    for s in load.scenarios
                ]
    return EvalSummary(
        results=tuple(results),
        speed=speed,
        seconds=time.monotonic() - began,
        startup_s=startup_s,
    )


def _run_all(
    stack: ReplayStack,
    scenarios: tuple[LoadedScenario, ...],
    face_check: SnapshotFaceCheck | None = None,
) -> list[ScenarioResult]:
    results = []
    for index, scenario in enumerate(scenarios, start=1):
        for kind in unconfigured_types(scenario):
            _progress(
                f"{scenario.name}: warning: expects {kind} events but no zone has a "
                f"{kind} rule"
            )
        result = run_one(stack, scenario, index=index, face_check=face_check)
        results.append(result)
        _progress(f"[{index}/{len(scenarios)}] {progress_line(result)}")
    return results


def run_one(
    stack: ReplayStack,
    scenario: LoadedScenario,
    *,
    index: int,
    face_check: SnapshotFaceCheck | None = None,
) -> ScenarioResult:
    """Replay and score one scenario; a failure becomes an error row."""
    try:
        run = stack.run(scenario, node_id=f"eval-{index:03d}")
    except (ReplayError, RuntimeError, ValueError, OSError) as error:
        logger.debug("scenario %s failed", scenario.name, exc_info=True)
        return failed(scenario.name, scenario.path, str(error), scenario)
    return evaluate(scenario, run, face_check)


def progress_line(result: ScenarioResult) -> str:
    """``name: N events, M/K matched, F false alarms, S s (R× real time)``."""
    if not result.is_ok or result.run is None:
        return f"{result.name}: error: {result.error}"
    timing = result.run.timing
    factor = timing.realtime_factor
    return (
        f"{result.name}: {len(result.run.events)} events, "
        f"{len(result.matching.matches)}/{result.expected_events} matched, "
        f"{len(result.matching.false_alarms)} false alarms, "
        f"{timing.seconds:.1f} s"
        + (f" ({factor:.2f}x real time)" if factor is not None else "")
    )


def _progress(line: str) -> None:
    sys.stderr.write(f"eval: {line}\n")
    sys.stderr.flush()
