"""Per-camera multi-object tracking with ByteTrack (`trackers` package)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import supervision as sv
from trackers import ByteTrackTracker

from edge.config import CameraConfig
from edge.types import Detections

logger = logging.getLogger(__name__)

_ROW = "gw_row"  # sv.Detections.data key carrying the input row through the tracker
_MIN_STEP_S = 1e-3  # ByteTrack skips non-increasing timestamps; nudge them forward
_ALL_CLASSES = -1


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """ByteTrack parameters tuned for 2-10 fps analysis of street cameras.

    Attributes:
        lost_track_s: Seconds a lost track is kept for re-association.
        track_activation_threshold: Minimum confidence for a box to open a track;
            below the usual 0.7 because small models score people low.
        high_conf_det_threshold: Boxes at or above go to the first association
            stage, the rest only revive existing tracks.
        minimum_iou_threshold: IoU needed to associate; low, because at a few fps
            objects move far between frames.
        minimum_consecutive_frames: Matched frames before a track gets an id.
        class_aware: Track each class separately so a cyclist's person box never
            takes over the bicycle's track.
    """

    lost_track_s: float = 2.0
    track_activation_threshold: float = 0.45
    high_conf_det_threshold: float = 0.5
    minimum_iou_threshold: float = 0.1
    minimum_consecutive_frames: int = 2
    class_aware: bool = True

    def __post_init__(self) -> None:
        if self.lost_track_s < 0:
            raise ValueError(f"lost_track_s must be >= 0, got {self.lost_track_s}")
        if self.minimum_consecutive_frames < 1:
            raise ValueError(
                "minimum_consecutive_frames must be >= 1, "
                f"got {self.minimum_consecutive_frames}"
            )
        for name in ("track_activation_threshold", "high_conf_det_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")


class ObjectTracker:
    """Assigns stable track ids to one camera's detections.

    Detections without a confirmed track keep `tracker_id` -1 (new objects for
    their first frames, low-confidence boxes that match no track). Not
    thread-safe: feed one camera's frames from one thread, in time order.
    """

    def __init__(
        self,
        camera_id: str,
        *,
        analysis_fps: float = 5.0,
        settings: TrackerSettings | None = None,
    ) -> None:
        if analysis_fps <= 0:
            raise ValueError(f"camera {camera_id!r}: analysis_fps must be > 0")
        self.camera_id = camera_id
        self.analysis_fps = analysis_fps
        self.settings = settings or TrackerSettings()
        self._trackers: dict[int, ByteTrackTracker] = {}
        self._global_ids: dict[int, dict[int, int]] = {}
        self._next_id = 0
        self._last_timestamp: float | None = None

    @classmethod
    def from_camera(
        cls, camera: CameraConfig, settings: TrackerSettings | None = None
    ) -> ObjectTracker:
        return cls(camera.id, analysis_fps=camera.analysis_fps, settings=settings)

    def update(self, detections: Detections, *, timestamp: float) -> Detections:
        """Track one analysed frame.

        Args:
            detections: Detections of the frame in pixels; not modified.
            timestamp: Capture time, UNIX seconds; gaps scale the motion model,
                so a varying analysis rate is fine.

        Returns:
            A new `Detections`, same rows in the same order, with `tracker_id`
            set (-1 where no confirmed track matched).
        """
        now = self._monotonic(timestamp)
        tracker_id = np.full(len(detections), -1, dtype=np.int64)
        keys = set(self._trackers) | set(self._class_keys(detections))
        for key in sorted(keys):
            rows = self._rows_of(detections, key)
            local = self._track_class(key, detections, rows, now)
            tracker_id[rows] = self._to_global(key, local)
            self._forget_dead(key)
        return detections.with_tracker_id(tracker_id)

    def reset(self) -> None:
        """Drop all tracks (source reopened, scene changed)."""
        self._trackers.clear()
        self._global_ids.clear()
        self._last_timestamp = None

    @property
    def active_track_count(self) -> int:
        return sum(len(ids) for ids in self._global_ids.values())

    def _monotonic(self, timestamp: float) -> float:
        last = self._last_timestamp
        if last is not None and timestamp <= last:
            if timestamp < last - 1.0:
                logger.warning(
                    "camera %s: frame time went back %.3f s; tracking on",
                    self.camera_id,
                    last - timestamp,
                )
            timestamp = last + _MIN_STEP_S
        self._last_timestamp = timestamp
        return timestamp

    def _class_keys(self, detections: Detections) -> list[int]:
        if not self.settings.class_aware:
            return [_ALL_CLASSES] if len(detections) else []
        return [int(c) for c in np.unique(detections.class_id)]

    def _rows_of(self, detections: Detections, key: int) -> npt.NDArray[np.intp]:
        if key == _ALL_CLASSES:
            return np.arange(len(detections))
        return np.flatnonzero(detections.class_id == key)

    def _track_class(
        self, key: int, detections: Detections, rows: npt.NDArray[np.intp], now: float
    ) -> npt.NDArray[np.int64]:
        tracker = self._trackers.get(key)
        if tracker is None:
            tracker = self._trackers[key] = self._new_tracker()
        sv_in = sv.Detections(
            xyxy=detections.xyxy[rows].astype(np.float32),
            confidence=detections.confidence[rows].astype(np.float32),
            class_id=detections.class_id[rows].astype(int),
            data={_ROW: np.arange(len(rows))},
        )
        sv_out = tracker.update(sv_in, timestamp=now)
        local = np.full(len(rows), -1, dtype=np.int64)
        if len(sv_out):
            local[np.asarray(sv_out.data[_ROW], dtype=np.intp)] = np.asarray(
                sv_out.tracker_id, dtype=np.int64
            )
        return local

    def _new_tracker(self) -> ByteTrackTracker:
        s = self.settings
        return ByteTrackTracker(
            lost_track_buffer=round(s.lost_track_s * 30.0),  # counted in 30 fps frames
            frame_rate=self.analysis_fps,
            track_activation_threshold=s.track_activation_threshold,
            minimum_consecutive_frames=s.minimum_consecutive_frames,
            minimum_iou_threshold=s.minimum_iou_threshold,
            high_conf_det_threshold=s.high_conf_det_threshold,
        )

    def _to_global(
        self, key: int, local: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        # Per-class trackers number from 0 each; map to ids unique per camera.
        ids = self._global_ids.setdefault(key, {})
        out = np.full(local.shape, -1, dtype=np.int64)
        for i, local_id in enumerate(local.tolist()):
            if local_id < 0:
                continue
            if local_id not in ids:
                ids[local_id] = self._next_id
                self._next_id += 1
            out[i] = ids[local_id]
        return out

    def _forget_dead(self, key: int) -> None:
        tracker = self._trackers[key]
        alive = {int(t.tracker_id) for t in tracker.tracks}
        ids = self._global_ids.get(key, {})
        for local_id in [i for i in ids if i not in alive]:
            del ids[local_id]
        if not tracker.tracks:
            # No live tracks: drop the tracker; global ids stay unique via _next_id.
            del self._trackers[key]
            self._global_ids.pop(key, None)
