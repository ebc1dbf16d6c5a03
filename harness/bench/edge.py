"""`gridwatch bench edge`: N RTSP streams from the simulator through a full edge node.

Prints figures (JSON with --json): decoded and analysed fps, the raw onnxruntime
ceiling of the same model and batch measured in the same run, their ratio, the
limit (what the cores could analyse if they only decoded the streams and ran the
detector, both measured in the same run) and the ratio to it, latencies and CPU
use. Optionally runs ultralytics' multi-stream predict on the same streams (a
separate interpreter with ultralytics installed; AGPL, optional).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from edge.config import DecoderKind, NodeConfig, SkipFrames, parse_config
from edge.factory import build_node, load_detectors
from edge.node import EdgeNode
from gridwatch.stats import percentile
from harness.bench.ceiling import Ceiling, measure_ceiling_cost
from harness.bench.decode_cost import measure_decode_cost
from harness.bench.density_peer import add_ultralytics_arguments
from harness.bench.events import EventLatencyCollector
from harness.bench.limit import limit_fps, usable_cores, useful_cpu_share
from harness.bench.report import rounded, write_figures
from harness.bench.ultralytics_multistream import REPOSITORY_ROOT, tool_command
from harness.services import MosquittoBroker, RtspSimulatorProcess
from models.family import ModelFamily
from models.manifest import resolve_video
from simulators.clips import discover_clips
from simulators.transcode import PreparedClip, default_cache_dir, prepare_clip

logger = logging.getLogger(__name__)

DEFAULT_CLIP = "one-by-one-person-detection"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--streams", type=int, default=8, help="RTSP streams (cameras)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window")
    parser.add_argument("--warmup-s", type=float, default=5.0, help="ignored start")
    parser.add_argument(
        "--clip", default=DEFAULT_CLIP, help="clip replayed by every stream"
    )
    parser.add_argument("--media-dir", type=Path, default=None, help="clip folder")
    parser.add_argument("--models-dir", type=Path, default=None, help="model folder")
    parser.add_argument("--model", default="yolox_nano", help="manifest model name")
    parser.add_argument(
        "--model-path", type=Path, default=None, help="explicit ONNX file"
    )
    parser.add_argument(
        "--family", choices=[f.value for f in ModelFamily], default="yolox"
    )
    parser.add_argument("--max-batch", type=int, default=1)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="inference threads with own sessions; 0 = auto (one per core on CPU)",
    )
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument(
        "--analysis-fps", type=float, default=10.0, help="per camera (clip fps = all)"
    )
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op")
    parser.add_argument(
        "--no-spinning",
        dest="spinning",
        action="store_false",
        help="onnxruntime threads sleep between runs instead of busy-waiting",
    )
    parser.add_argument("--ceiling-s", type=float, default=5.0)
    parser.add_argument(
        "--decode-s",
        type=float,
        default=2.0,
        help="CPU seconds spent measuring what decoding one stream costs",
    )
    parser.add_argument(
        "--decoder",
        choices=[d.value for d in DecoderKind],
        default=DecoderKind.OPENCV.value,
        help="the cameras' decoder (pyav skips undecodable-for-analysis frames)",
    )
    add_ultralytics_arguments(
        parser, "run its multi-stream predict on the same streams"
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")


@dataclass(frozen=True, slots=True)
class Counters:
    at: float
    decoded: int
    analysed: int

    @classmethod
    def read(cls, node: EdgeNode) -> Counters:
        return cls(
            at=time.monotonic(),
            decoded=sum(s.frames_decoded for s in node.sources.values()),
            analysed=sum(node.analysis.frames_analysed(c) for c in node.sources),
        )


def node_config(
    args: argparse.Namespace,
    urls: list[str],
    workdir: Path,
    broker: dict[str, object],
) -> NodeConfig:
    """A node with one camera per URL; crowding at 1 person so events happen."""
    rules = [
        {"type": "occupancy", "labels": ["person"]},
        {
            "type": "crowding",
            "label": "person",
            "threshold": 1,
            "dwell_s": 0,
            "clear_s": 2,
            "cooldown_s": 2,
            "update_interval_s": 2,
        },
    ]
    model: dict[str, Any] = {
        "name": args.model,
        "family": args.family,
        "intra_op_threads": args.threads,
        "intra_op_spinning": args.spinning,
    }
    if args.model_path is not None:
        model["path"] = str(args.model_path)
    return parse_config(
        {
            "node_id": "bench",
            "broker": broker,
            "model": model,
            "batch": {
                "max_batch": args.max_batch,
                "max_wait_ms": args.max_wait_ms,
                "workers": args.workers,
            },
            "http": {"port": 0},
            "outbox": {"path": str(workdir / "outbox.sqlite")},
            "models_dir": str(args.models_dir) if args.models_dir else None,
            "cameras": [
                {
                    "id": f"cam{i}",
                    "url": url,
                    "location": {"lat": 23.13, "lon": 113.26},
                    "analysis_fps": args.analysis_fps,
                    "decoder": args.decoder,
                    "zones": [{"id": "all", "rules": rules}],
                }
                for i, url in enumerate(urls)
            ],
        },
        source="bench",
    )


def _measure_node(
    node: EdgeNode, args: argparse.Namespace, sim_pid: int | None
) -> dict[str, Any]:
    me = psutil.Process()
    sim = psutil.Process(sim_pid) if sim_pid else None
    time.sleep(args.warmup_s)
    node.analysis.keep_latencies = True
    before = Counters.read(node)
    busy_before = sum(r.busy_s for r in node.runners)
    batches_before = sum(r.batches for r in node.runners)
    frames_before = sum(r.frames for r in node.runners)
    me.cpu_percent()
    if sim:
        sim.cpu_percent()
    psutil.cpu_percent()
    time.sleep(args.seconds)
    after = Counters.read(node)
    elapsed = after.at - before.at
    batches = sum(r.batches for r in node.runners) - batches_before
    frames = sum(r.frames for r in node.runners) - frames_before
    busy_s = sum(r.busy_s for r in node.runners) - busy_before
    return {
        "decoded_fps": round((after.decoded - before.decoded) / elapsed, 2),
        "analysed_fps": round((after.analysed - before.analysed) / elapsed, 2),
        "mean_batch": round(frames / batches, 2) if batches else None,
        "detector_busy_fraction": round(busy_s / elapsed / len(node.runners), 3),
        "frame_latency_ms_p50": rounded(percentile(node.analysis.latencies_ms, 0.5)),
        "frame_latency_ms_p95": rounded(percentile(node.analysis.latencies_ms, 0.95)),
        "cpu_percent": round(me.cpu_percent(), 1),
        "sim_cpu_percent": round(sim.cpu_percent(), 1) if sim else None,
        "system_cpu_percent": round(psutil.cpu_percent(), 1),
    }


def _run_ultralytics(args: argparse.Namespace, urls: list[str]) -> dict[str, Any]:
    command = [
        *tool_command(args.ultralytics_python),
        "--model",
        str(args.ultralytics_model),
        "--duration",
        str(args.seconds),
        "--warmup",
        str(args.warmup_s),
        # Square 416 input, as the node feeds the model (ultralytics would pad
        # 768x432 frames only to 416x256, a smaller and cheaper input).
        "--imgsz",
        "416",
        "--no-rect",
        *urls,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=REPOSITORY_ROOT
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-5:]}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    media_dir: Path = args.media_dir or resolve_video(args.clip + ".mp4").parent
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp:
        workdir = Path(tmp)
        with (
            MosquittoBroker(workdir) as broker,
            RtspSimulatorProcess(
                media_dir, clips=[args.clip], replicate=args.streams
            ) as sim,
        ):
            urls = [sim.url(m) for m in sim.mounts()][: args.streams]
            config = node_config(args, urls, workdir, broker.node_config("bench"))
            detectors = load_detectors(config)
            detector = detectors[0]
            served = _served_clip(args, media_dir)
            ceiling_cost = measure_ceiling_cost(
                detectors,
                batch=args.max_batch,
                seconds=args.ceiling_s,
                frame_wh=served.resolution_wh,
            )
            ceiling = ceiling_cost.fps
            limit = _measure_limit(args, served, ceiling_cost, streams=len(urls))
            collector = EventLatencyCollector(
                broker.port, config.broker.topic_prefix, broker.observer()
            )
            node = build_node(config, detectors=detectors)
            with collector:
                node.start()
                try:
                    measured = _measure_node(node, args, sim.pid)
                finally:
                    node.stop()
            figures: dict[str, Any] = {
                "streams": len(urls),
                "model": detector.name,
                "providers": detector.providers,
                "batch_size": args.max_batch,
                "workers": len(detectors),
                "intra_op_threads": detectors[0]
                .session.get_session_options()
                .intra_op_num_threads,
                "dynamic_batch": detector.input_batch_is_dynamic,
                **measured,
                "ceiling_fps": ceiling,
                "ratio": round(measured["analysed_fps"] / ceiling, 3)
                if ceiling
                else None,
                **limit,
                "ratio_to_limit": round(
                    measured["analysed_fps"] / limit["limit_fps"], 3
                )
                if limit["limit_fps"]
                else None,
                "cpu_ratio_to_limit": _rounded_share(
                    useful_cpu_share(
                        analysed_fps=measured["analysed_fps"],
                        infer_cpu_ms_per_image=ceiling_cost.cpu_ms_per_image,
                        decode_cpu_ms_per_s=limit["decode_cpu_ms_per_s"],
                        node_cpu_percent=measured["cpu_percent"],
                    )
                ),
                "latency_ms_p50": rounded(percentile(collector.collected_ms(), 0.5)),
                "latency_ms_p95": rounded(percentile(collector.collected_ms(), 0.95)),
                "events": collector.count,
                "machine": machine_summary(),
            }
            if args.ultralytics_python is not None:
                figures["ultralytics"] = _run_ultralytics(args, urls)
            return figures


def _rounded_share(share: float | None) -> float | None:
    return None if share is None else round(share, 3)


def _served_clip(args: argparse.Namespace, media_dir: Path) -> PreparedClip:
    """The clip as the simulator serves it (transcoded and cached once)."""
    return prepare_clip(
        discover_clips(media_dir, clips=[args.clip])[0], cache_dir=default_cache_dir()
    )


def _measure_limit(
    args: argparse.Namespace, clip: PreparedClip, ceiling: Ceiling, *, streams: int
) -> dict[str, Any]:
    """Decode cost of the served clip, and the limit it leaves the detector."""
    decoder = DecoderKind(args.decoder)
    cost = measure_decode_cost(
        clip.h264_path,
        decoder=decoder,
        skip_frames=SkipFrames.AUTO,
        analysis_fps=args.analysis_fps,
        seconds=args.decode_s,
    )
    cores = usable_cores()
    decode_ms_per_s = streams * cost.cpu_ms_per_stream_s
    limit = (
        limit_fps(
            cores=cores,
            infer_cpu_ms_per_image=ceiling.cpu_ms_per_image,
            decode_cpu_ms_per_s=decode_ms_per_s,
        )
        if ceiling.cpu_ms_per_image > 0
        else 0.0
    )
    return {
        "cores": cores,
        "decoder": decoder.value,
        "infer_cpu_ms_per_image": ceiling.cpu_ms_per_image,
        "decode_cpu_ms_per_stream_s": cost.cpu_ms_per_stream_s,
        "decode_cpu_ms_per_s": round(decode_ms_per_s, 1),
        "limit_fps": round(limit, 2),
    }


def machine_summary() -> str:
    return (
        f"{psutil.cpu_count(logical=True)} cpu "
        f"{platform.processor() or platform.machine()}, "
        f"{round(psutil.virtual_memory().total / 2**30)} GiB, {platform.system()}"
    )


def run_cli(args: argparse.Namespace) -> int:
    if args.streams < 1:
        sys.stderr.write("--streams must be at least 1\n")
        return 2
    if args.ultralytics_python is not None and args.ultralytics_model is None:
        sys.stderr.write("--ultralytics-python needs --ultralytics-model\n")
        return 2
    write_figures(run_bench(args), as_json=args.json)
    return 0
