"""The peer in `bench density`: ultralytics' multi-stream predict on the same streams.

ultralytics (AGPL-3.0, optional) runs in its own interpreter (the bench venv)
through `harness.bench.ultralytics_multistream`; this module only starts it and
reads its JSON. A trial gives it N of the simulator's detection streams and its
`vid_stride` set so that it analyses `analysis_fps` of each (25 fps sources, stride
5: 5 fps). Its reader threads keep only the latest frame of each stream and every
batch takes one from each, so it never falls behind: when it cannot keep up it
analyses fewer frames. A trial is sustained when it analysed at least the bar's
share of the due frames. ultralytics does not say when a frame was captured, so its
latency is not judged: the peer's bar is the lenient one.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.bench.density_search import SustainBar
from harness.bench.ultralytics_multistream import REPOSITORY_ROOT, tool_command


def add_ultralytics_arguments(parser: argparse.ArgumentParser, purpose: str) -> None:
    """`--ultralytics-python` and `--ultralytics-model`, for a bench whose peer
    run does `purpose`."""
    parser.add_argument(
        "--ultralytics-python",
        type=Path,
        default=None,
        help=f"python with ultralytics (e.g. .venv-bench/bin/python) to {purpose}",
    )
    parser.add_argument(
        "--ultralytics-model", type=Path, default=None, help="ONNX for ultralytics"
    )


@dataclass(frozen=True, slots=True)
class PeerPlan:
    """What every peer trial shares.

    Attributes:
        python: Interpreter with ultralytics installed.
        model: ONNX file ultralytics loads.
        stream_urls: Detection stream URLs; a trial takes the first N.
        source_fps: Frame rate of those streams.
        analysis_fps: Frames to analyse per stream and second.
        imgsz: Model input side (the longer side with `rect`).
        rect: ultralytics' own fitted letterbox (416x256 for 16:9 frames), as
            the node's `model.fit_input`; else the imgsz square.
        warmup_s: Seconds after the first batch that are not measured.
        seconds: Measured seconds.
        bar: When a trial counts as sustained (its analysed share only).
        timeout_s: Longest a trial may take, startup included.
    """

    python: Path
    model: Path
    stream_urls: list[str]
    source_fps: float
    analysis_fps: float
    imgsz: int = 416
    rect: bool = True
    warmup_s: float = 3.0
    seconds: float = 8.0
    bar: SustainBar = field(default_factory=SustainBar)
    timeout_s: float = 300.0

    @property
    def vid_stride(self) -> int:
        """The stride that analyses at most `analysis_fps` of each stream."""
        return max(1, math.ceil(self.source_fps / self.analysis_fps - 1e-9))


@dataclass(frozen=True, slots=True)
class PeerTrial:
    """One peer trial.

    Attributes:
        streams: Streams given to ultralytics.
        sustained: Whether it analysed enough of the due frames.
        analysed_fps: Frames analysed per second, all streams.
        due_fps: Frames due per second, all streams.
        analysed_share: analysed_fps / due_fps.
        cpu_percent: Its process's CPU (100 = one core).
        batch_size: Images per batch it ran.
        error: Why the trial failed, when it did.
    """

    streams: int
    sustained: bool
    analysed_fps: float
    due_fps: float
    analysed_share: float
    cpu_percent: float | None
    batch_size: Any
    error: str | None = None

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


def peer_command(plan: PeerPlan, streams: int) -> list[str]:
    """The command line of one trial with `streams` streams."""
    if not 1 <= streams <= len(plan.stream_urls):
        raise ValueError(
            f"streams must be in 1..{len(plan.stream_urls)}, got {streams}"
        )
    return [
        *tool_command(plan.python),
        "--model",
        str(plan.model),
        "--duration",
        str(plan.seconds),
        "--warmup",
        str(plan.warmup_s),
        "--imgsz",
        str(plan.imgsz),
        "--rect" if plan.rect else "--no-rect",
        "--vid-stride",
        str(plan.vid_stride),
        *plan.stream_urls[:streams],
    ]


def judge_peer(plan: PeerPlan, streams: int, answer: dict[str, Any]) -> PeerTrial:
    """Read the tool's JSON answer for a trial of `streams` streams."""
    due = streams * plan.source_fps / plan.vid_stride
    analysed = float(answer.get("analysed_fps") or 0.0)
    error = answer.get("error")
    share = analysed / due if due else 0.0
    return PeerTrial(
        streams=streams,
        sustained=error is None and share >= plan.bar.min_analysed_share,
        analysed_fps=round(analysed, 2),
        due_fps=round(due, 2),
        analysed_share=round(share, 3),
        cpu_percent=answer.get("cpu_percent"),
        batch_size=answer.get("batch_size"),
        error=None if error is None else str(error),
    )


def run_peer_trial(plan: PeerPlan, streams: int) -> PeerTrial:
    """Run ultralytics on `streams` streams and judge it."""
    command = peer_command(plan, streams)
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=plan.timeout_s,
            cwd=REPOSITORY_ROOT,
        )
    except subprocess.TimeoutExpired:
        answer: dict[str, Any] = {"error": f"no answer within {plan.timeout_s:g} s"}
    else:
        answer = _answer(done)
    return judge_peer(plan, streams, answer)


def _answer(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = done.stdout.strip().splitlines()
    try:
        parsed = json.loads(done.stdout) if lines else None
    except json.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    tail = " | ".join(done.stderr.strip().splitlines()[-3:])
    return {"error": f"exit {done.returncode} without a JSON answer: {tail}"}
