"""`gridwatch bench density`: the most camera streams one edge node sustains.

Camera-like streams (H.264 main stream and 640x360 sub-stream, 25 fps, made
from a shared clip) are served by the RTSP simulator; the node runs the demo's
rules on them at `--analysis-fps` each. Trials of a few seconds double the
stream count while the node keeps up (at least 95 % of the due frames analysed,
frame → event p95 at most 1 s), then bisect. Prints JSON with --json; progress
goes to stderr. The limit beside it is what the cores could analyse if they
did nothing but decode the streams and run the detector, both measured here.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from edge.config import DecoderKind, SkipFrames, parse_config
from edge.factory import load_detectors
from gridwatch.contract import DEFAULT_TOPIC_PREFIX
from harness.bench.ceiling import Ceiling, measure_ceiling_cost
from harness.bench.decode_cost import DecodeCost, measure_decode_cost
from harness.bench.density_peer import (
    PeerPlan,
    PeerTrial,
    add_ultralytics_arguments,
    run_peer_trial,
)
from harness.bench.density_search import SustainBar, next_streams, sustained_streams
from harness.bench.density_sources import (
    STREAM_FPS,
    SUB_RESOLUTION_WH,
    DensitySources,
    make_sources,
)
from harness.bench.density_trial import (
    DEMO_CLIP,
    TrialPlan,
    TrialResult,
    TrialRunner,
)
from harness.bench.edge import machine_summary
from harness.bench.events import EventLatencyCollector
from harness.bench.limit import limit_streams, usable_cores, useful_cpu_share
from harness.bench.report import run_unless_refused
from harness.services import MosquittoBroker, RtspSimulatorProcess
from models.family import ModelFamily
from models.manifest import resolve_video


class _Outcome(Protocol):
    @property
    def sustained(self) -> bool: ...


_Trial = TypeVar("_Trial", bound=_Outcome)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start-streams", type=int, default=4, help="first trial")
    parser.add_argument("--max-streams", type=int, default=32, help="most tried")
    parser.add_argument(
        "--resolution", type=int, default=2, help="stop bisecting this close"
    )
    parser.add_argument("--trial-s", type=float, default=8.0, help="measured window")
    parser.add_argument("--warmup-s", type=float, default=3.0, help="ignored start")
    parser.add_argument("--analysis-fps", type=float, default=5.0, help="per camera")
    parser.add_argument(
        "--main", type=int, choices=[720, 1080], default=720, help="main stream height"
    )
    parser.add_argument(
        "--detect",
        choices=["sub", "main"],
        default="sub",
        help="which stream the node decodes for analysis",
    )
    parser.add_argument(
        "--decoder", choices=[d.value for d in DecoderKind], default="pyav"
    )
    parser.add_argument(
        "--no-decode-economy",
        dest="decode_economy",
        action="store_false",
        help="decode every frame (skip_frames: off)",
    )
    parser.add_argument(
        "--motion-gating",
        action="store_true",
        help="cameras skip the detector while nothing moves (motion.enabled)",
    )
    parser.add_argument("--clip", default=DEMO_CLIP, help="shared clip to stream")
    parser.add_argument("--clip-s", type=float, default=30.0, help="stream length")
    parser.add_argument("--models-dir", type=Path, default=None, help="model folder")
    parser.add_argument("--model", default="yolox_nano", help="manifest model name")
    parser.add_argument("--model-path", type=Path, default=None, help="ONNX file")
    parser.add_argument(
        "--family", choices=[f.value for f in ModelFamily], default="yolox"
    )
    parser.add_argument(
        "--square-input",
        dest="fit_input",
        action="store_false",
        help="letterbox every frame into the model's square (model.fit_input: false)",
    )
    parser.add_argument("--ceiling-s", type=float, default=4.0)
    parser.add_argument("--decode-s", type=float, default=1.5)
    add_ultralytics_arguments(
        parser,
        "find the most streams its multi-stream predict sustains on the same streams",
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")


def _progress(text: str) -> None:
    sys.stderr.write(f"bench density: {text}\n")
    sys.stderr.flush()


def _model_section(args: argparse.Namespace) -> dict[str, Any]:
    model: dict[str, Any] = {
        "name": args.model,
        "family": args.family,
        "fit_input": args.fit_input,
    }
    if args.model_path is not None:
        model["path"] = str(args.model_path)
    return model


def _skip_frames(args: argparse.Namespace) -> SkipFrames:
    return SkipFrames.AUTO if args.decode_economy else SkipFrames.OFF


def _decode_costs(
    args: argparse.Namespace, sources: DensitySources
) -> dict[str, DecodeCost]:
    """The detection stream with and without economy, the main stream, and a
    main stream with B-frames with and without economy."""
    detect = sources.sub if args.detect == "sub" else sources.main
    decoder = DecoderKind(args.decoder)

    def cost(path: Path, skip: SkipFrames) -> DecodeCost:
        return measure_decode_cost(
            path,
            decoder=decoder,
            skip_frames=skip,
            analysis_fps=args.analysis_fps,
            seconds=args.decode_s,
        )

    return {
        "detect_economy": cost(detect, SkipFrames.AUTO),
        "detect_every_frame": cost(detect, SkipFrames.OFF),
        "main_every_frame": cost(sources.main, SkipFrames.OFF),
        "main_b_frames_economy": cost(sources.main_b_frames, SkipFrames.AUTO),
        "main_b_frames_every_frame": cost(sources.main_b_frames, SkipFrames.OFF),
    }


def _search(runner: TrialRunner, args: argparse.Namespace) -> list[TrialResult]:
    def trial(streams: int) -> TrialResult:
        result = runner.run(streams)
        _progress(
            f"{streams} streams: {'sustained' if result.sustained else 'NOT sustained'}"
            f" ({result.analysed_share:.0%} of due frames, frame p95 "
            f"{result.frame_latency_ms_p95} ms, event p95 "
            f"{result.event_latency_ms_p95} ms, cpu {result.cpu_percent} %)"
        )
        return result

    return _bisect(trial, args, who="")


def _search_peer(plan: PeerPlan, args: argparse.Namespace) -> list[PeerTrial]:
    def trial(streams: int) -> PeerTrial:
        result = run_peer_trial(plan, streams)
        _progress(
            f"ultralytics, {streams} streams: "
            f"{'sustained' if result.sustained else 'NOT sustained'} "
            f"({result.analysed_share:.0%} of due frames, cpu {result.cpu_percent} %"
            f"{', ' + result.error if result.error else ''})"
        )
        return result

    return _bisect(trial, args, who="ultralytics: ")


def _bisect(
    trial: Callable[[int], _Trial], args: argparse.Namespace, *, who: str
) -> list[_Trial]:
    outcomes: dict[int, bool] = {}
    trials: list[_Trial] = []
    while (
        streams := next_streams(
            outcomes,
            start=args.start_streams,
            maximum=args.max_streams,
            resolution=args.resolution,
        )
    ) is not None:
        _progress(f"{who}trial with {streams} streams ...")
        result = trial(streams)
        outcomes[streams] = result.sustained
        trials.append(result)
    return trials


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    clip = resolve_video(args.clip + ".mp4")
    _progress(f"making the streams from {clip.name} (cached after the first run)")
    sources = make_sources(clip, main_height=args.main, seconds=args.clip_s)
    costs = _decode_costs(args, sources)
    base = parse_config(
        {
            "node_id": "density",
            "model": _model_section(args),
            "models_dir": str(args.models_dir) if args.models_dir else None,
            "cameras": [{"id": "c", "url": "x", "location": {"lat": 0, "lon": 0}}],
        },
        source="bench density",
    )
    detectors = load_detectors(base)
    _progress(f"measuring the bare detector ({len(detectors)} workers)")
    detect_wh = (
        SUB_RESOLUTION_WH if args.detect == "sub" else sources.main_resolution_wh
    )
    ceiling = measure_ceiling_cost(
        detectors, batch=1, seconds=args.ceiling_s, frame_wh=detect_wh
    )
    with tempfile.TemporaryDirectory(prefix="gw-density-") as tmp:
        workdir = Path(tmp)
        mounts = [sources.main.stem, sources.sub.stem]
        with (
            MosquittoBroker(workdir) as broker,
            RtspSimulatorProcess(
                sources.folder, clips=mounts, replicate=args.max_streams
            ) as sim,
        ):
            plan = _plan(args, sim, models_dir=args.models_dir)
            collector = EventLatencyCollector(
                broker.port, DEFAULT_TOPIC_PREFIX, broker.observer()
            )
            runner = TrialRunner(
                plan=plan,
                broker=broker.node_config("density"),
                detectors=detectors,
                collector=collector,
                workdir=workdir,
                sim_pid=sim.pid,
            )
            with collector:
                trials = _search(runner, args)
            peer = _peer_figures(args, sim) if args.ultralytics_python else None
    figures = _figures(
        args, sources=sources, costs=costs, ceiling=ceiling, trials=trials,
        workers=len(detectors), providers=detectors[0].providers,
        fitted=detectors[0].adapter.fit_input,
    )  # fmt: skip
    if peer is not None:
        figures["ultralytics"] = peer
    return figures


def _peer_figures(
    args: argparse.Namespace, sim: RtspSimulatorProcess
) -> dict[str, Any]:
    """ultralytics' multi-stream predict searched the same way on the streams the
    node analysed (the sub-streams, or the main streams with --detect main)."""
    stem = "sub360" if args.detect == "sub" else f"main{args.main}"
    plan = PeerPlan(
        python=args.ultralytics_python,
        model=args.ultralytics_model,
        stream_urls=[sim.replica_url(stem, i) for i in range(args.max_streams)],
        source_fps=STREAM_FPS,
        analysis_fps=args.analysis_fps,
        rect=args.fit_input,
        warmup_s=args.warmup_s,
        seconds=args.trial_s,
    )
    trials = _search_peer(plan, args)
    sustained = sustained_streams({t.streams: t.sustained for t in trials})
    return {
        "streams_sustained": sustained,
        "streams_per_core": round(sustained / usable_cores(), 2),
        "model": str(args.ultralytics_model),
        "vid_stride": plan.vid_stride,
        "rect": plan.rect,
        "bar": "analysed share only (ultralytics gives no capture times)",
        "trials": [t.as_row() for t in trials],
    }


def _plan(
    args: argparse.Namespace, sim: RtspSimulatorProcess, *, models_dir: Path | None
) -> TrialPlan:
    main_stem = f"main{args.main}"
    urls: list[tuple[str, str | None]] = [
        (
            sim.replica_url(main_stem, i),
            sim.replica_url("sub360", i) if args.detect == "sub" else None,
        )
        for i in range(args.max_streams)
    ]
    return TrialPlan(
        camera_urls=urls,
        analysis_fps=args.analysis_fps,
        decoder=DecoderKind(args.decoder),
        skip_frames=_skip_frames(args),
        warmup_s=args.warmup_s,
        seconds=args.trial_s,
        bar=SustainBar(),
        model=_model_section(args),
        models_dir=str(models_dir) if models_dir else None,
        motion_gating=args.motion_gating,
        clip=args.clip,
    )


def _figures(
    args: argparse.Namespace,
    *,
    sources: DensitySources,
    costs: dict[str, DecodeCost],
    ceiling: Ceiling,
    trials: list[TrialResult],
    workers: int,
    providers: list[str],
    fitted: bool,
) -> dict[str, Any]:
    cores = usable_cores()
    outcomes = {t.streams: t.sustained for t in trials}
    sustained = sustained_streams(outcomes)
    best = next((t for t in trials if t.streams == sustained), None)
    used = costs["detect_economy" if args.decode_economy else "detect_every_frame"]
    streams_limit = (
        limit_streams(
            cores=cores,
            infer_cpu_ms_per_image=ceiling.cpu_ms_per_image,
            decode_cpu_ms_per_stream_s=used.cpu_ms_per_stream_s,
            analysis_fps=args.analysis_fps,
        )
        if ceiling.cpu_ms_per_image > 0
        else 0.0
    )
    limit = streams_limit * args.analysis_fps
    cpu_share = (
        useful_cpu_share(
            analysed_fps=best.analysed_fps,
            infer_cpu_ms_per_image=ceiling.cpu_ms_per_image,
            decode_cpu_ms_per_s=best.streams * used.cpu_ms_per_stream_s,
            node_cpu_percent=best.cpu_percent,
        )
        if best
        else None
    )
    return {
        "streams_sustained": sustained,
        "streams_per_core": round(sustained / cores, 2),
        "capped_at_max_streams": sustained >= args.max_streams,
        "source": f"{args.clip}: {sources.describe()}; detection on the "
        f"{args.detect} stream",
        "analysis_fps": args.analysis_fps,
        "analysed_fps": best.analysed_fps if best else 0.0,
        "limit_fps": round(limit, 2),
        "limit_streams": round(streams_limit, 2),
        "ratio_to_limit": round(best.analysed_fps / limit, 3)
        if best and limit
        else None,
        "cpu_ratio_to_limit": round(cpu_share, 3) if cpu_share is not None else None,
        # What the node's own CPU use per stream implies for a core it has to
        # itself: on a shared, busy machine the node gets only part of the
        # cores, and `streams_sustained` says what it did with that part.
        "streams_per_core_by_cpu": round(100.0 * best.streams / best.cpu_percent, 2)
        if best and best.cpu_percent > 0
        else None,
        "cpu_percent": best.cpu_percent if best else None,
        "rss_mb": best.rss_mb if best else None,
        "decoder": args.decoder,
        "decode_economy": args.decode_economy,
        "motion_gating": args.motion_gating,
        "fit_input": fitted,
        "gated_fps": best.gated_fps if best else None,
        "decode_cpu_ms_per_stream_s": {
            name: cost.cpu_ms_per_stream_s for name, cost in costs.items()
        },
        "decoded_share": {name: cost.decoded_share for name, cost in costs.items()},
        "ceiling_fps": ceiling.fps,
        "infer_cpu_ms_per_image": ceiling.cpu_ms_per_image,
        "cores": cores,
        "workers": workers,
        "model": args.model,
        "providers": providers,
        "trials": [t.as_row() for t in trials],
        "machine": machine_summary(),
        # others' work on a shared machine: runnable tasks, averaged over 1 min
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def run_cli(args: argparse.Namespace) -> int:
    problems = []
    if not 1 <= args.start_streams <= args.max_streams:
        problems.append("need 1 <= --start-streams <= --max-streams")
    if args.resolution < 1:
        problems.append("--resolution must be at least 1")
    for name in ("trial_s", "analysis_fps", "clip_s", "ceiling_s", "decode_s"):
        if getattr(args, name) <= 0:
            problems.append(f"--{name.replace('_', '-')} must be > 0")
    if args.warmup_s < 0:
        problems.append("--warmup-s must be >= 0")
    if (args.ultralytics_python is None) != (args.ultralytics_model is None):
        problems.append("--ultralytics-python and --ultralytics-model go together")
    return run_unless_refused(problems, lambda: run_bench(args), as_json=args.json)
