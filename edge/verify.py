"""Camera checks: after a worker resolved a ticket, look again and say whether
the condition the node reported is gone.

The judge is the rule that raised the event: its episode stays open while the
rule still sees the condition (the left object in the static scene, the crowd
above the threshold, the vehicle in the zone) and ends when it is gone. So the
node waits `look_s` of fresh frames after the request, then answers

- `present` when the event's episode, or a new one of the same type in the same
  zone overlapping its box, is open;
- `gone` when the episode ended while the camera was watched throughout;
- `cannot_verify` when the camera is dark, no fresh frame came, the node has no
  record of the event (it restarted since), the camera went offline since the
  event (its rules started afresh and would take the object for scenery), or a
  left object was absorbed into the scene after the rule's `max_object_s`.

Each answer carries an "after" snapshot of the latest frame with the ticket's
box drawn and faces blurred by the node's face blur, as every event snapshot.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from edge.config import NodeConfig
from edge.events.snapshot import Snapshotter
from edge.verify_state import CameraFrame, CameraFrames, EpisodeLog, EpisodeRecord
from gridwatch.contract import CameraHealth, SnapshotRef
from gridwatch.verification import VerifyRequest, VerifyResult, VerifyVerdict

logger = logging.getLogger(__name__)

# A left object this close to `max_object_s` when its episode ended was
# probably absorbed into the scene rather than taken away.
ABSORBED_MARGIN_S = 2.0
# A busy node analyses frames late: after `look_s` it waits up to this long for
# a frame read after the request before answering `cannot_verify` (central's
# time-out, 120 s after `look_s` by default, is longer).
FRESH_FRAME_GRACE_S = 30.0
RETRY_S = 0.5
BoxNorm = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class CameraSight:
    """How well the node sees a camera at the moment of judging.

    Attributes:
        health: The camera's health now.
        last_frame_at: When its latest analysed frame was read, None if never.
        offline_at: The last time it went offline, None if never since start.
    """

    health: CameraHealth
    last_frame_at: float | None
    offline_at: float | None


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: VerifyVerdict
    reason: str


def _overlaps(a: BoxNorm | None, b: BoxNorm | None) -> bool:
    if a is None or b is None:
        return True  # no box to compare: same camera, zone and type suffice
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _at(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S UTC")


def judge(
    request: VerifyRequest,
    *,
    sight: CameraSight,
    records: Iterable[EpisodeRecord],
    open_on_camera: Iterable[EpisodeRecord],
    asked_at: float,
    max_object_s: float | None,
) -> Judgement:
    """The verdict on one request (see the module docstring for the rules).

    Args:
        request: What central asked.
        sight: The camera now.
        records: What the node remembers of the request's events.
        open_on_camera: The camera's open episodes now.
        asked_at: When the request arrived (UNIX seconds, node clock).
        max_object_s: The raising rule's `max_object_s` (left objects), else None.
    """
    cannot = VerifyVerdict.CANNOT_VERIFY
    camera = request.camera_id
    if sight.health is not CameraHealth.ONLINE:
        return Judgement(cannot, f"camera {camera} is {sight.health.value}")
    if sight.last_frame_at is None or sight.last_frame_at < asked_at:
        return Judgement(
            cannot, f"no frame of camera {camera} analysed since the request"
        )
    known = list(records)
    if not known:
        return Judgement(
            cannot,
            "this node has no record of the ticket's events (it restarted since, "
            "or they are older than its memory)",
        )
    still = [r for r in known if r.is_open] or [
        r
        for r in open_on_camera
        if r.event_type == request.event_type
        and r.zone_id == request.zone_id
        and _overlaps(r.image_box, request.image_box)
    ]
    if still:
        return Judgement(
            VerifyVerdict.PRESENT,
            f"the {request.event_type} rule still sees it in zone "
            f"{request.zone_id or '-'} (open since {_at(still[0].started_at)})",
        )
    first_start = min(r.started_at for r in known)
    if sight.offline_at is not None and sight.offline_at >= first_start:
        return Judgement(
            cannot,
            f"camera {camera} went offline at {_at(sight.offline_at)} after the "
            "event; its rules started afresh",
        )
    last = max(known, key=lambda r: r.ended_at or 0.0)
    ended_at = last.ended_at or 0.0
    if max_object_s is not None:
        watched = ended_at - (last.started_at - last.static_s)
        if watched >= max_object_s - ABSORBED_MARGIN_S:
            return Judgement(
                cannot,
                f"the object stood {watched:.0f} s and became part of the scene "
                f"(max_object_s {max_object_s:.0f} s)",
            )
    return Judgement(
        VerifyVerdict.GONE,
        f"the {request.event_type} episode ended at {_at(ended_at)}; the rule "
        f"no longer sees it in zone {request.zone_id or '-'}",
    )


def max_object_s_of(config: NodeConfig, request: VerifyRequest) -> float | None:
    """The `max_object_s` of the rule that raised the request's event type."""
    for camera in config.cameras:
        if camera.id != request.camera_id:
            continue
        for zone in camera.zones:
            if request.zone_id is not None and zone.id != request.zone_id:
                continue
            for rule in zone.rules:
                value = getattr(rule, "max_object_s", None)
                if rule.type == request.event_type and isinstance(value, int | float):
                    return float(value)
    return None


@dataclass(order=True)
class _Pending:
    due_at: float
    asked_at: float = field(compare=False)
    request: VerifyRequest = field(compare=False)


class CameraChecker:
    """Answers camera checks on its own thread.

    Args:
        config: The node's config (cameras, rule settings).
        episodes: The node's events (from `WatchedPublisher`).
        frames: The cameras' latest frames (from the watched analysers).
        snapshotter: Renders the "after" picture, faces blurred.
        send: Delivers an answer (the command client's publish).
    """

    def __init__(
        self,
        *,
        config: NodeConfig,
        episodes: EpisodeLog,
        frames: CameraFrames,
        snapshotter: Snapshotter,
        send: Callable[[VerifyResult], None],
    ) -> None:
        self._config = config
        self.episodes = episodes
        self.frames = frames
        self._snapshotter = snapshotter
        self._send = send
        self._cameras = {c.id for c in config.cameras}
        self._health: dict[str, CameraHealth] = {}
        self._offline_at: dict[str, float] = {}
        self._pending: list[_Pending] = []
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.answered = 0

    def note_health(self, camera_id: str, health: CameraHealth, at: float) -> None:
        """The node saw a camera's health change."""
        with self._wake:
            self._health[camera_id] = health
            if health is CameraHealth.OFFLINE:
                self._offline_at[camera_id] = at

    def submit(self, request: VerifyRequest) -> None:
        """Queue a request; it is answered once its `look_s` has passed."""
        now = time.time()
        with self._wake:
            heapq.heappush(self._pending, _Pending(now + request.look_s, now, request))
            self._wake.notify()
        logger.info(
            "node %s: camera %s: check for ticket %s (%s, zone %s) in %.0f s",
            self._config.node_id,
            request.camera_id,
            request.ticket_id,
            request.event_type,
            request.zone_id,
            request.look_s,
        )

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="camera-checks", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            due = self._next_due()
            if due is None or self._waits_for_frame(due):
                continue
            try:
                self._send(self.answer(due.request, asked_at=due.asked_at))
                self.answered += 1
            except Exception:  # one failed check must not stop the others
                logger.exception(
                    "node %s: check for ticket %s failed",
                    self._config.node_id,
                    due.request.ticket_id,
                )

    def _waits_for_frame(self, due: _Pending) -> bool:
        """Put the request back while its camera, online, has no frame analysed
        since the request yet (within the grace); True when put back."""
        request = due.request
        frame = self.frames.latest(request.camera_id)
        if frame is not None and frame.captured_at >= due.asked_at:
            return False
        with self._wake:
            online = self._health.get(request.camera_id) is CameraHealth.ONLINE
            now = time.time()
            late = now - due.asked_at - request.look_s
            if not online or late > FRESH_FRAME_GRACE_S:
                return False
            heapq.heappush(
                self._pending, _Pending(now + RETRY_S, due.asked_at, request)
            )
        return True

    def _next_due(self) -> _Pending | None:
        with self._wake:
            if not self._pending:
                self._wake.wait(1.0)
                return None
            wait_s = self._pending[0].due_at - time.time()
            if wait_s > 0:
                self._wake.wait(min(wait_s, 1.0))
                return None
            return heapq.heappop(self._pending)

    def answer(self, request: VerifyRequest, *, asked_at: float) -> VerifyResult:
        """Judge one request now and render the "after" picture."""
        frame = self.frames.latest(request.camera_id)
        if request.camera_id not in self._cameras:
            judgement = Judgement(
                VerifyVerdict.CANNOT_VERIFY,
                f"camera {request.camera_id} is not on node {self._config.node_id}",
            )
        else:
            judgement = judge(
                request,
                sight=self._sight(request.camera_id, frame),
                records=[
                    r
                    for r in map(self.episodes.get, request.event_ids)
                    if r is not None
                ],
                open_on_camera=self.episodes.open_on(request.camera_id),
                asked_at=asked_at,
                max_object_s=max_object_s_of(self._config, request),
            )
        logger.info(
            "node %s: camera %s: ticket %s is %s: %s",
            self._config.node_id,
            request.camera_id,
            request.ticket_id,
            judgement.verdict.value,
            judgement.reason,
        )
        return VerifyResult(
            request_id=request.request_id,
            ticket_id=request.ticket_id,
            node_id=self._config.node_id,
            camera_id=request.camera_id,
            verdict=judgement.verdict,
            reason=judgement.reason,
            snapshot=self._after_picture(request, frame),
        )

    def _sight(self, camera_id: str, frame: CameraFrame | None) -> CameraSight:
        with self._wake:
            health = self._health.get(camera_id, CameraHealth.OFFLINE)
            offline_at = self._offline_at.get(camera_id)
        return CameraSight(
            health=health,
            last_frame_at=frame.captured_at if frame is not None else None,
            offline_at=offline_at,
        )

    def _after_picture(
        self, request: VerifyRequest, frame: CameraFrame | None
    ) -> SnapshotRef | None:
        if frame is None:
            return None
        width, height = frame.image.shape[1], frame.image.shape[0]
        boxes = np.zeros((0, 4), dtype=np.float32)
        if request.image_box is not None:
            x1, y1, x2, y2 = request.image_box
            boxes = np.array(
                [[x1 * width, y1 * height, x2 * width, y2 * height]], dtype=np.float32
            )
        try:
            snapshot = self._snapshotter.render(
                frame.image,
                boxes_xyxy=boxes,
                texts=["checked here"],
                person_xyxy=frame.person_xyxy,
            )
        except ValueError as error:  # e.g. a face still showed: no picture
            logger.warning(
                "node %s: camera %s: no after picture for ticket %s: %s",
                self._config.node_id,
                request.camera_id,
                request.ticket_id,
                error,
            )
            return None
        return snapshot.to_ref()
