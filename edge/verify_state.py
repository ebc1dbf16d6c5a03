"""What a camera check needs to remember: the node's episodes and each camera's
latest frame, recorded by thin wrappers around the publisher and the analysers."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from edge.pipeline.analysis import AnalysisOutput, CameraAnalyser
from edge.publish.base import Publisher, PublisherStats
from edge.types import Detections, Frame
from gridwatch.contract import EventMessage, EventPhase

# Episodes remembered; the oldest ended ones are forgotten first.
EPISODES_MAX = 10_000
PERSON_LABEL = "person"


@dataclass(frozen=True, slots=True)
class EpisodeRecord:
    """One event this node raised, as far as a camera check needs it.

    Attributes:
        event_id: The event's id.
        camera_id: Its camera.
        zone_id: Its zone, None when the rule has none.
        event_type: Its type.
        started_at: When it started (UNIX seconds).
        ended_at: When it ended, None while it is open.
        image_box: Its last normalised box (x1, y1, x2, y2), None without one.
        static_s: For left objects: how long the object had stood still when
            the event started (so its first sighting is `started_at - static_s`).
    """

    event_id: str
    camera_id: str
    zone_id: str | None
    event_type: str
    started_at: float
    ended_at: float | None = None
    image_box: tuple[float, float, float, float] | None = None
    static_s: float = 0.0

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    @classmethod
    def from_start(cls, event: EventMessage) -> EpisodeRecord:
        static = event.attributes.get("static_s", 0.0)
        return cls(
            event_id=event.event_id,
            camera_id=event.camera_id,
            zone_id=event.zone_id,
            event_type=str(event.type),
            started_at=event.started_at.timestamp(),
            image_box=event.image_box,
            static_s=float(static) if isinstance(static, int | float) else 0.0,
        )


class EpisodeLog:
    """The node's events, open and recently ended (thread-safe, bounded)."""

    def __init__(self, max_records: int = EPISODES_MAX) -> None:
        if max_records < 1:
            raise ValueError(f"max_records must be >= 1, got {max_records}")
        self._records: OrderedDict[str, EpisodeRecord] = OrderedDict()
        self._max = max_records
        self._lock = threading.Lock()

    def record(self, event: EventMessage) -> None:
        """Note one event message (start, update or end)."""
        with self._lock:
            known = self._records.get(event.event_id)
            if known is None:
                known = EpisodeRecord.from_start(event)
            if event.phase is EventPhase.END:
                ended = (event.ended_at or event.detected_at).timestamp()
                known = replace(known, ended_at=ended)
            elif event.image_box is not None:
                known = replace(known, image_box=event.image_box)
            self._records[event.event_id] = known
            self._records.move_to_end(event.event_id)
            self._forget_oldest()

    def get(self, event_id: str) -> EpisodeRecord | None:
        with self._lock:
            return self._records.get(event_id)

    def open_on(self, camera_id: str) -> list[EpisodeRecord]:
        """The open episodes of one camera."""
        with self._lock:
            records = list(self._records.values())
        return [r for r in records if r.camera_id == camera_id and r.is_open]

    def _forget_oldest(self) -> None:
        while len(self._records) > self._max:
            oldest = next(
                (k for k, r in self._records.items() if not r.is_open),
                next(iter(self._records)),
            )
            del self._records[oldest]


@dataclass(frozen=True, slots=True)
class CameraFrame:
    """A camera's latest analysed frame and the people in it.

    Attributes:
        image: BGR uint8 image, shape (H, W, 3) (the analysed frame itself).
        captured_at: When it was read (UNIX seconds).
        person_xyxy: (P, 4) float32 person boxes in pixels, for blurring heads.
    """

    image: npt.NDArray[np.uint8]
    captured_at: float
    person_xyxy: npt.NDArray[np.float32]


class CameraFrames:
    """The latest analysed frame of each camera (one reference each)."""

    def __init__(self, labels: Sequence[str]) -> None:
        self._person_ids = np.array(
            [i for i, name in enumerate(labels) if name == PERSON_LABEL], dtype=np.int64
        )
        self._latest: dict[str, CameraFrame] = {}
        self._lock = threading.Lock()

    def see(self, frame: Frame, detections: Detections) -> None:
        people = detections.xyxy[np.isin(detections.class_id, self._person_ids)]
        latest = CameraFrame(
            image=frame.image,
            captured_at=frame.captured_at,
            person_xyxy=np.asarray(people, dtype=np.float32),
        )
        with self._lock:
            self._latest[frame.camera_id] = latest

    def latest(self, camera_id: str) -> CameraFrame | None:
        with self._lock:
            return self._latest.get(camera_id)


class WatchedAnalyser:
    """A camera's analyser that also keeps its latest frame for camera checks."""

    def __init__(self, inner: CameraAnalyser, frames: CameraFrames) -> None:
        self._inner = inner
        self._frames = frames

    def analyse(self, frame: Frame, detections: Detections) -> AnalysisOutput:
        output = self._inner.analyse(frame, detections)
        self._frames.see(frame, detections)
        return output

    def close(self, timestamp: float) -> list[EventMessage]:
        return self._inner.close(timestamp)


def watch_analysers(
    analysers: Mapping[str, CameraAnalyser], frames: CameraFrames
) -> dict[str, CameraAnalyser]:
    """Each analyser wrapped so that its frames reach `frames`."""
    return {cid: WatchedAnalyser(a, frames) for cid, a in analysers.items()}


class WatchedPublisher:
    """The node's publisher, noting every event it stores in an `EpisodeLog`."""

    def __init__(self, inner: Publisher, episodes: EpisodeLog) -> None:
        self._inner = inner
        self._episodes = episodes

    def start(self) -> None:
        self._inner.start()

    def stop(self) -> None:
        self._inner.stop()

    def publish_event(self, event: EventMessage) -> bool:
        stored = self._inner.publish_event(event)
        self._episodes.record(event)
        return stored

    def publish_state(
        self, topic: str, payload: bytes | str, *, retain: bool = True, qos: int = 1
    ) -> None:
        self._inner.publish_state(topic, payload, retain=retain, qos=qos)

    def publish_transient(
        self, topic: str, payload: bytes | str, *, qos: int = 0
    ) -> bool:
        return self._inner.publish_transient(topic, payload, qos=qos)

    def stats(self) -> PublisherStats:
        return self._inner.stats()
