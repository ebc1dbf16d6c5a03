"""Replays scenario clips through the real pipeline: RTSP simulator → edge node →
Mosquitto → collector, one node per scenario on one shared broker and simulator."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from edge.config import CameraConfig, NodeConfig, parse_config
from edge.factory import build_node, load_detectors
from edge.infer.base import BatchDetector
from edge.node import EdgeNode
from gridwatch.contract import CameraHealth, EventPhase, SnapshotRef, Topics
from harness.accuracy.collector import EvalCollector, NodeMessages
from harness.accuracy.match import (
    COUNT_MAX_GAP_S,
    ObservedEvent,
    OccupancySample,
    check_counts,
)
from harness.accuracy.scenario import (
    DEFAULT_LOCATION,
    PLACEHOLDER_URL,
    ExpectedCount,
    LoadedScenario,
)
from harness.services import MosquittoBroker, RtspSimulatorProcess
from simulators.clips import link_clips

logger = logging.getLogger(__name__)

CAMERA_ID = "eval-cam"
MAX_ANALYSIS_FPS = 60.0
_POLL_S = 0.1
_PLAY_START_TIMEOUT_S = 30.0
_END_SLACK_S = 30.0
_DRAIN_TIMEOUT_S = 15.0
_STEADY_S = 0.6
_SIM_START_TIMEOUT_S = 600.0
_NO_RECONNECT_S = 60.0
# A replay in which some expected count had no occupancy message near it (the
# node's RTSP probe or broker login was slow on a loaded machine, so it looked
# at the clip late) could not check that count: the clip is played once more.
_REPLAYS_ON_UNOBSERVED_COUNT = 1


class ReplayError(RuntimeError):
    """A scenario could not be replayed (the message says which step failed)."""


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    """How the stack runs every scenario.

    Attributes:
        workdir: Folder for the broker, outboxes and the clip links.
        speed: Replay rate of the simulator; rule durations and the analysis
            rate are scaled so that they keep their meaning in clip time.
        models_dir: Model folder for the node (None: the manifest's search).
        node_config: Base node config (model, batch, ...); its cameras,
            broker, http and outbox are replaced.
        occupancy_interval_s: How often the node publishes occupancy.
        rtsp_cache_dir: Transcode cache of the simulator (None: its default).
    """

    workdir: Path
    speed: float = 1.0
    models_dir: Path | None = None
    node_config: Mapping[str, Any] | None = None
    occupancy_interval_s: float = 0.25
    rtsp_cache_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class ReplayTiming:
    """Wall-clock cost of one scenario.

    Attributes:
        seconds: Node build to node stopped, messages collected.
        clip_s: Clip seconds played (server play time times speed).
        start_s: Node build to the clip's first frame leaving the server.
        drain_s: End of the clip to the node stopped and its messages in.
    """

    seconds: float
    clip_s: float | None
    start_s: float | None
    drain_s: float | None = None

    @property
    def realtime_factor(self) -> float | None:
        """Clip seconds per wall second (above 1: faster than real time)."""
        if self.clip_s is None or self.seconds <= 0:
            return None
        return self.clip_s / self.seconds


@dataclass(frozen=True, slots=True)
class ScenarioRun:
    """What the pipeline published for one scenario, in clip time.

    Attributes:
        events: Start events (one per raised incident), in time order.
        occupancy: Occupancy messages.
        messages: Event messages of every phase.
        timing: Wall-clock cost.
        fps_analysed: Mean analysed frames per second (wall clock) the
            camera reported while online, None without a status.
        problems: Invalid messages and other things worth a look.
        snapshots: ("<event id> <phase>", JPEG) of every event message that
            carried a snapshot (starts, updates and ends), for the face check.
    """

    events: tuple[ObservedEvent, ...]
    occupancy: tuple[OccupancySample, ...]
    messages: int
    timing: ReplayTiming
    fps_analysed: float | None
    problems: tuple[str, ...] = ()
    snapshots: tuple[tuple[str, bytes], ...] = ()
    replays: int = 0

    @property
    def first_look_s(self) -> float | None:
        """Clip time of the earliest occupancy message; None without one."""
        return min((s.t_s for s in self.occupancy), default=None)

    def unobserved(self, counts: Sequence[ExpectedCount]) -> list[float]:
        """Times of the expected counts no occupancy message can answer."""
        checks = check_counts(counts, self.occupancy, max_gap_s=COUNT_MAX_GAP_S)
        return [c.expected.t for c in checks if c.observed is None]


def scale_camera(camera: CameraConfig, speed: float) -> dict[str, Any]:
    """The camera section for a replay at `speed`, as a config mapping.

    Rule durations (every `*_s` field of a rule) are divided by `speed` and the
    analysis rate multiplied (up to 60 fps), so that a rule sees the same clip
    seconds and frames per clip second as at speed 1.
    """
    data = camera.model_dump(mode="json")
    if speed == 1.0:
        return data
    data["analysis_fps"] = min(MAX_ANALYSIS_FPS, camera.analysis_fps * speed)
    for zone in data.get("zones", []):
        zone["rules"] = [
            {
                key: value / speed
                if key.endswith("_s") and isinstance(value, int | float)
                else value
                for key, value in rule.items()
            }
            for rule in zone.get("rules", [])
        ]
    return data


def clip_duration_hint_s(path: Path) -> float | None:
    """Approximate clip length from its container (frames / rate), for time-outs."""
    capture = cv2.VideoCapture(str(path))
    try:
        frames = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        fps = capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    if not frames or not fps or frames <= 0 or fps <= 0:
        return None
    return float(frames / fps)


class ReplayStack:
    """One broker, one play-once RTSP simulator, one collector and the loaded
    detector, shared by all scenarios; a fresh edge node per scenario.

    A fresh node per scenario keeps tracks, episodes and cool-downs of one
    scenario out of the next; loading the model once keeps its start short.

    Args:
        settings: Stack settings.
        clips: Every clip a scenario of the run needs: name -> file.
    """

    def __init__(self, settings: ReplaySettings, clips: Mapping[str, Path]) -> None:
        self.settings = settings
        self._clips = dict(clips)
        self._stack = ExitStack()
        self._mounts: dict[str, str] = {}
        self._broker: MosquittoBroker | None = None
        self._sim: RtspSimulatorProcess | None = None
        self._collector: EvalCollector | None = None
        self._detectors: list[BatchDetector] = []
        self.topics = Topics()
        self.startup_s = 0.0

    def start(self) -> ReplayStack:
        """Start broker, simulator and collector; load the model.

        Raises:
            RuntimeError: a part could not start (the message says which).
        """
        began = time.monotonic()
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        self.startup_s = time.monotonic() - began
        return self

    def _start(self) -> None:
        workdir = self.settings.workdir
        self._mounts = link_clips(self._clips, workdir / "clips")
        self._broker = self._stack.enter_context(MosquittoBroker(workdir / "broker"))
        sim = RtspSimulatorProcess(
            workdir / "clips",
            clips=sorted(set(self._mounts.values())),
            cache_dir=self.settings.rtsp_cache_dir,
            once=True,
            speed=self.settings.speed,
        )
        # The first start may transcode GIFs and other clips into the cache.
        self._sim = sim.start(timeout_s=_SIM_START_TIMEOUT_S)
        self._stack.callback(sim.stop)
        self._collector = EvalCollector(
            self._broker.port, self.topics, self._broker.observer()
        ).start()
        self._stack.callback(self._collector.stop)
        self._detectors = list(load_detectors(self._probe_config()))

    def _probe_config(self) -> NodeConfig:
        camera = {"id": CAMERA_ID, "url": PLACEHOLDER_URL, "location": DEFAULT_LOCATION}
        return self.node_config("eval-probe", camera)

    def node_config(self, node_id: str, camera: Mapping[str, Any]) -> NodeConfig:
        """The node config of one scenario: the base config with its camera."""
        assert self._broker is not None, "start() first"
        base = dict(self.settings.node_config or {})
        models_dir = self.settings.models_dir or base.get("models_dir")
        if "media" in NodeConfig.model_fields and "media" not in base:
            # Event clips cost an x264 encode per event and score nothing here.
            base["media"] = {"clips": False}
        outbox = self.settings.workdir / "nodes" / node_id / "outbox.sqlite"
        outbox.parent.mkdir(parents=True, exist_ok=True)
        data = {
            **base,
            "node_id": node_id,
            "broker": self._broker.node_config(node_id),
            "http": {"port": 0},
            "outbox": {"path": str(outbox)},
            "models_dir": str(models_dir) if models_dir else None,
            "status_interval_s": 1.0,
            "occupancy_interval_s": self.settings.occupancy_interval_s,
            "cameras": [camera],
        }
        return parse_config(data, source=f"eval node {node_id}")

    def stop(self) -> None:
        self._stack.close()

    def __enter__(self) -> ReplayStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one scenario ----------------------------------------------------------

    def run(self, scenario: LoadedScenario, *, node_id: str) -> ScenarioRun:
        """Replay one scenario's clip through a fresh node.

        A replay that left an expected count without an occupancy message
        near it is played once more through another fresh node; the run says
        how often (`replays`) and why (`problems`).

        Raises:
            ReplayError: the clip was not served, the node did not start or
                the clip did not play to its end in time.
        """
        counts = scenario.scenario.expected.counts
        run = self._run_once(scenario, node_id=node_id)
        notes: list[str] = []
        while (missed := run.unobserved(counts)) and (
            len(notes) < _REPLAYS_ON_UNOBSERVED_COUNT
        ):
            notes.append(_unobserved_note(missed, run.first_look_s))
            logger.warning("scenario %s: %s; replaying", scenario.name, notes[-1])
            run = self._run_once(scenario, node_id=f"{node_id}-r{len(notes)}")
        if not notes:
            return run
        return dataclasses.replace(
            run, replays=len(notes), problems=(*notes, *run.problems)
        )

    def _run_once(self, scenario: LoadedScenario, *, node_id: str) -> ScenarioRun:
        """Replay one scenario's clip once through a fresh node.

        Raises:
            ReplayError: the clip was not served, the node did not start or
                the clip did not play to its end in time.
        """
        assert self._sim is not None and self._collector is not None, "start() first"
        mount = self._mounts.get(scenario.scenario.clip)
        if mount is None or mount not in self._sim.mounts():
            raise ReplayError(f"clip {scenario.scenario.clip} is not served")
        self._sim.start_mount(mount)  # arm a play (no-op when armed already)
        camera = scale_camera(scenario.camera, self.settings.speed)
        camera.update(id=CAMERA_ID, url=self._sim.url(mount), kind="rtsp")
        # The mount refuses clients once the clip ended: no reconnect attempt
        # (and no FFmpeg "404" line) before the node is stopped.
        camera.update(reconnect_min_s=_NO_RECONNECT_S, reconnect_max_s=_NO_RECONNECT_S)
        plays = int(self._sim.mount_info(mount)["plays"])
        began, began_wall = time.monotonic(), time.time()
        node = build_node(self.node_config(node_id, camera), detectors=self._detectors)
        node.start()
        try:
            started_at = self._wait_for_play(
                mount, "started_at", plays, _PLAY_START_TIMEOUT_S
            )
            finished_at = self._wait_for_play(
                mount, "finished_at", plays, self._play_timeout_s(scenario)
            )
            self._wait_drained(node)
        finally:
            node.stop()
        self._wait_quiet(node_id)
        timing = ReplayTiming(
            seconds=time.monotonic() - began,
            clip_s=(finished_at - started_at) * self.settings.speed,
            start_s=started_at - began_wall,
            drain_s=time.time() - finished_at,
        )
        return to_run(
            self._collector.messages(node_id),
            started_at=started_at,
            speed=self.settings.speed,
            timing=timing,
        )

    def _play_timeout_s(self, scenario: LoadedScenario) -> float:
        hint = clip_duration_hint_s(scenario.clip_path) or 600.0
        return 1.5 * hint / self.settings.speed + _END_SLACK_S

    def _wait_for_play(
        self, mount: str, key: str, plays_before: int, timeout_s: float
    ) -> float:
        """`started_at` or `finished_at` of the play after `plays_before` plays."""
        assert self._sim is not None
        sim = self._sim

        def probe() -> Any:
            info = sim.mount_info(mount)
            return info.get(key) if info["plays"] > plays_before else None

        value = _wait_for(probe, timeout_s=timeout_s)
        if value is None:
            what = "start playing" if key == "started_at" else "play to its end"
            raise ReplayError(f"clip {mount} did not {what} within {timeout_s:.0f} s")
        return float(value)

    def _wait_drained(self, node: EdgeNode) -> None:
        """Until the node saw the end of the stream and analysed every frame."""
        source = node.sources[CAMERA_ID]
        _wait_for(
            lambda: source.state().health is CameraHealth.OFFLINE or None,
            timeout_s=_DRAIN_TIMEOUT_S,
        )
        last = (-1, time.monotonic())

        def is_steady() -> bool | None:
            nonlocal last
            count = node.analysis.frames_analysed(CAMERA_ID)
            now = time.monotonic()
            if count != last[0]:
                last = (count, now)
                return None
            depth = node.health()[1].get("outbox_depth", 0)
            return (now - last[1] >= _STEADY_S and not depth) or None

        _wait_for(is_steady, timeout_s=_DRAIN_TIMEOUT_S)

    def _wait_quiet(self, node_id: str) -> None:
        assert self._collector is not None
        collector = self._collector
        _wait_for(
            lambda: collector.quiet_for_s(node_id) >= _STEADY_S or None,
            timeout_s=_DRAIN_TIMEOUT_S,
        )


def _unobserved_note(missed: Sequence[float], first_look_s: float | None) -> str:
    times = ", ".join(f"{t:g}" for t in missed)
    first = (
        "no occupancy message at all"
        if first_look_s is None
        else f"the first occupancy message at {first_look_s:.2f} s"
    )
    return (
        f"the counts at t={times} s were unobserved ({first}; a count "
        f"needs one within {COUNT_MAX_GAP_S} s)"
    )


def _wait_for(probe: Callable[[], Any], *, timeout_s: float) -> Any:
    """Poll until `probe` returns something other than None; None on time-out."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value is not None or time.monotonic() >= deadline:
            return value
        time.sleep(_POLL_S)


def to_run(
    messages: NodeMessages, *, started_at: float, speed: float, timing: ReplayTiming
) -> ScenarioRun:
    """Map one node's messages to clip time (seconds since the first frame).

    Args:
        messages: What the node published.
        started_at: UNIX time the clip's first frame left the server.
        speed: Replay rate (clip seconds per wall second).
        timing: Wall-clock cost of the scenario.
    """

    def clip_s(unix_s: float) -> float:
        return (unix_s - started_at) * speed

    # Each snapshot is decoded once: the face check reads every phase's, the
    # matching (and the report) the starts'.
    decoded = [(m, _snapshot_bytes(m.media.snapshot)) for m in messages.events]
    events = sorted(
        (
            ObservedEvent(
                event_id=m.event_id,
                type=str(m.type),
                t_s=clip_s(m.detected_at.timestamp()),
                image_box=m.image_box,
                zone_id=m.zone_id,
                confidence=m.confidence,
                snapshot_jpeg=jpeg,
            )
            for m, jpeg in decoded
            if m.phase is EventPhase.START
        ),
        key=lambda e: e.t_s,
    )
    occupancy = tuple(
        OccupancySample(t_s=clip_s(m.at.timestamp()), zones=m.zones)
        for m in messages.occupancy
    )
    rates = [
        s.fps_analysed
        for s in messages.camera_status
        if s.health is CameraHealth.ONLINE and s.fps_analysed > 0
    ]
    problems = tuple(f"invalid message on {t}: {why}" for t, why in messages.invalid)
    return ScenarioRun(
        events=tuple(events),
        occupancy=occupancy,
        messages=len(messages.events),
        timing=timing,
        fps_analysed=statistics.fmean(rates) if rates else None,
        problems=problems,
        snapshots=tuple(
            (f"{m.event_id} {m.phase.value}", jpeg)
            for m, jpeg in decoded
            if jpeg is not None
        ),
    )


def _snapshot_bytes(snapshot: SnapshotRef | None) -> bytes | None:
    if snapshot is None or not snapshot.bytes_b64:
        return None
    try:
        return base64.b64decode(snapshot.bytes_b64, validate=True)
    except (binascii.Error, ValueError):
        return None


def default_workdir() -> tempfile.TemporaryDirectory[str]:
    """A temporary folder for one run (broker, outboxes, clip links)."""
    return tempfile.TemporaryDirectory(prefix="gw-eval-")
