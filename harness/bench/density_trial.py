"""One `bench density` trial: a node with N cameras for a short measured window."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from edge.config import DecoderKind, NodeConfig, SkipFrames, parse_config
from edge.factory import build_node
from edge.infer.session import OnnxDetector
from edge.ingest import PyAvSource
from edge.node import EdgeNode
from gridwatch.stats import percentile
from harness.bench.density_search import SustainBar
from harness.bench.events import EventLatencyCollector
from harness.bench.heap import release_freed_memory
from harness.bench.report import rounded
from harness.demo_rules import DEMO_CLIP_RULES

# The demo's zones and rules of the clip the streams are made from.
DEMO_CLIP = "one-by-one-person-detection"
_CONNECT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class TrialPlan:
    """What every trial shares.

    Attributes:
        camera_urls: (main stream, detection stream or None) per camera, at
            least as many as the largest trial.
        analysis_fps: Analysed frames per second per camera.
        decoder: The cameras' decoder.
        skip_frames: The cameras' skip mode.
        warmup_s: Ignored start once every camera delivers frames.
        seconds: Measured window.
        bar: What counts as sustained.
        model: The node config's `model` section (the detectors' model).
        models_dir: The node config's `models_dir`.
        motion_gating: Whether the cameras gate the detector on motion.
        clip: The clip the streams are made from (its demo rules apply).
    """

    camera_urls: Sequence[tuple[str, str | None]]
    analysis_fps: float
    decoder: DecoderKind
    skip_frames: SkipFrames
    warmup_s: float
    seconds: float
    bar: SustainBar
    model: dict[str, Any]
    models_dir: str | None = None
    motion_gating: bool = False
    clip: str = DEMO_CLIP


@dataclass(frozen=True, slots=True)
class TrialResult:
    """What one trial measured (fps are totals over all cameras).

    `analysed_share` counts a due frame that motion gating kept from the
    detector (nothing moved) as handled; `gated_fps` says how many were.
    """

    streams: int
    sustained: bool
    analysed_share: float
    analysed_fps: float
    gated_fps: float
    due_fps: float
    decoded_fps: float
    skipped_fps: float
    frame_latency_ms_p95: float | None
    event_latency_ms_p95: float | None
    events: int
    cpu_percent: float
    sim_cpu_percent: float | None
    system_cpu_percent: float
    rss_mb: float

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Counts:
    at: float
    decoded: int
    skipped: int
    gated: int
    analysed: int

    @classmethod
    def read(cls, node: EdgeNode) -> _Counts:
        sources = node.sources.values()
        return cls(
            at=time.monotonic(),
            decoded=sum(s.frames_decoded for s in sources),
            skipped=sum(s.frames_skipped for s in sources if isinstance(s, PyAvSource)),
            gated=sum(s.frames_gated for s in sources),
            analysed=sum(node.analysis.frames_analysed(c) for c in node.sources),
        )


class TrialRunner:
    """Runs trials of the same plan on a broker and a running simulator."""

    def __init__(
        self,
        *,
        plan: TrialPlan,
        broker: dict[str, object],
        detectors: Sequence[OnnxDetector],
        collector: EventLatencyCollector,
        workdir: Path,
        sim_pid: int | None,
    ) -> None:
        self._plan = plan
        self._broker = broker
        self._detectors = list(detectors)
        self._collector = collector
        self._workdir = workdir
        self._sim = psutil.Process(sim_pid) if sim_pid else None

    def run(self, streams: int) -> TrialResult:
        """Start a node with `streams` cameras, measure, stop it.

        Raises:
            ValueError: more streams than the plan has camera URLs.
        """
        if not 1 <= streams <= len(self._plan.camera_urls):
            raise ValueError(
                f"streams must be in 1..{len(self._plan.camera_urls)}, got {streams}"
            )
        node = build_node(self._config(streams), detectors=self._detectors)
        node.start()
        try:
            _wait_for_frames(node)
            time.sleep(self._plan.warmup_s)
            return self._measure(node, streams)
        finally:
            node.stop()
            del node
            release_freed_memory()

    def _measure(self, node: EdgeNode, streams: int) -> TrialResult:
        me = psutil.Process()
        me.cpu_percent()
        psutil.cpu_percent()
        if self._sim is not None:
            self._sim.cpu_percent()
        events_before = self._collector.count
        node.analysis.latencies_ms.clear()
        node.analysis.keep_latencies = True
        before = _Counts.read(node)
        time.sleep(self._plan.seconds)
        after = _Counts.read(node)
        node.analysis.keep_latencies = False
        elapsed = after.at - before.at
        analysed_fps = (after.analysed - before.analysed) / elapsed
        gated_fps = (after.gated - before.gated) / elapsed
        due_fps = streams * self._plan.analysis_fps
        event_ms = self._collector.collected_ms()[events_before:]
        frame_p95 = percentile(node.analysis.latencies_ms, 0.95)
        event_p95 = percentile(event_ms, 0.95)
        share = (analysed_fps + gated_fps) / due_fps
        return TrialResult(
            streams=streams,
            sustained=self._plan.bar.is_met(
                analysed_share=share,
                frame_latency_ms_p95=frame_p95,
                event_latency_ms_p95=event_p95,
            ),
            analysed_share=round(share, 3),
            analysed_fps=round(analysed_fps, 2),
            gated_fps=round(gated_fps, 2),
            due_fps=round(due_fps, 2),
            decoded_fps=round((after.decoded - before.decoded) / elapsed, 2),
            # counters read while the readers run: keep a rounding race >= 0
            skipped_fps=round(max(0, after.skipped - before.skipped) / elapsed, 2),
            frame_latency_ms_p95=rounded(frame_p95),
            event_latency_ms_p95=rounded(event_p95),
            events=len(event_ms),
            cpu_percent=round(me.cpu_percent(), 1),
            sim_cpu_percent=round(self._sim.cpu_percent(), 1) if self._sim else None,
            # the whole machine (100 = all cores): others' load shows here
            system_cpu_percent=round(psutil.cpu_percent(), 1),
            rss_mb=round(me.memory_info().rss / 2**20, 1),
        )

    def _config(self, streams: int) -> NodeConfig:
        plan = self._plan
        trial_dir = self._workdir / f"trial-{streams}-{time.monotonic_ns()}"
        cameras = [
            {
                "id": f"cam{i}",
                "url": main,
                **({"detect_url": detect} if detect else {}),
                "decoder": plan.decoder.value,
                "skip_frames": plan.skip_frames.value,
                "location": {"lat": 23.13, "lon": 113.26},
                "analysis_fps": plan.analysis_fps,
                "motion": {"enabled": plan.motion_gating},
                "zones": DEMO_CLIP_RULES.get(plan.clip, DEMO_CLIP_RULES[DEMO_CLIP]),
            }
            for i, (main, detect) in enumerate(plan.camera_urls[:streams])
        ]
        return parse_config(
            {
                "node_id": "density",
                "broker": self._broker,
                "model": plan.model,
                "models_dir": plan.models_dir,
                "http": {"port": 0},
                "outbox": {"path": str(trial_dir / "outbox.sqlite")},
                "cameras": cameras,
            },
            source="bench density",
        )


def _wait_for_frames(node: EdgeNode) -> None:
    """Until every camera has delivered a frame (opening N streams takes time),
    at most `_CONNECT_TIMEOUT_S`: a camera still silent then is measured as it
    is (its due frames count as not analysed), since an overloaded node is what
    the search looks for."""
    deadline = time.monotonic() + _CONNECT_TIMEOUT_S
    while time.monotonic() < deadline:
        if all(s.last_frame_at is not None for s in node.sources.values()):
            return
        time.sleep(0.1)
