"""Per-camera pose stage: which persons get a pose estimate, and holding lost ones."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.pose.appearance import appearance, similarity
from edge.pose.movenet import PoseEstimator
from edge.pose.types import PersonPoses, box_ious, empty_keypoints
from edge.types import Detections, Frame
from edge.zones import Zone, anchors_norm

logger = logging.getLogger(__name__)

ADOPTED_ID_BASE = 1 << 40  # ids of persons followed without a tracker id
_SAME_PERSON_OVERLAP = 0.5  # a box this much inside a followed one is that person
_MERGE_IOU = 0.5  # two held persons whose boxes overlap this much are one
_STANDING_ASPECT = 1.5  # box height / width above which a person is standing
_HOLD_MIN_SIZE = 0.8  # a held person's crop spans at least this share of their stature


@dataclass(frozen=True, slots=True)
class PoseSettings:
    """How much pose estimation a camera may spend, and how lost persons are held.

    Attributes:
        max_crops_per_frame: Pose runs per analysed frame at most; the persons
            whose last run is oldest go first.
        min_interval_s: A tracked person is estimated again only after this
            long (held persons every frame, since nothing else follows them).
        crop_margin: Fraction of the box's longer side added around each crop.
        hold_margin_step: Extra margin per consecutive miss of a held person, so
            the crop widens to find someone who moved while unseen.
        max_hold_margin: Largest margin of a held person's crop.
        hold_miss_s: A held person neither found by pose nor still for this
            long is dropped (gone or occluded).
        still_similarity: A held person the pose run misses still counts as
            present while their region correlates at least this much with its
            look when the pose last found them (someone lying still).
        max_hold_s: Longest a person is followed by pose alone.
        min_keypoint_score: Score for a keypoint to count as found.
        min_keypoints: Found keypoints for a held person to count as present.
        handover_iou: IoU between a held box and a newly tracked person's box
            above which the tracker has found the person again (maybe under a
            new id) and the hold ends.
    """

    max_crops_per_frame: int = 4
    min_interval_s: float = 0.15
    crop_margin: float = 0.2
    hold_margin_step: float = 0.1
    max_hold_margin: float = 0.4
    hold_miss_s: float = 1.0
    still_similarity: float = 0.8
    max_hold_s: float = 60.0
    min_keypoint_score: float = 0.3
    min_keypoints: int = 6
    handover_iou: float = 0.3

    def __post_init__(self) -> None:
        if self.max_crops_per_frame < 1:
            raise ValueError(
                f"max_crops_per_frame must be >= 1, got {self.max_crops_per_frame}"
            )
        if not 3 <= self.min_keypoints <= 17:
            raise ValueError(
                f"min_keypoints must be in [3, 17], got {self.min_keypoints}"
            )
        for name in ("min_interval_s", "crop_margin", "hold_miss_s", "max_hold_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(slots=True)
class _Followed:
    """What the stage remembers of one person (a track, or one it holds)."""

    class_id: int
    xyxy: npt.NDArray[np.float32]
    confidence: float
    size_px: float = 0.0  # longest side of the detector boxes seen: the stature
    last_pose_at: float = float("-inf")
    held_since: float | None = None
    is_confirmed: bool = False
    found_at: float = 0.0  # the pose run last found them
    seen_at: float = 0.0  # found, or their region unchanged since
    misses: int = 0
    template: npt.NDArray[np.float32] | None = None
    keypoints: npt.NDArray[np.float32] = field(
        default_factory=lambda: empty_keypoints(1)[0]
    )

    @property
    def is_held(self) -> bool:
        return self.held_since is not None


@dataclass(frozen=True, slots=True)
class _Jobs:
    """Pose runs of one frame: rows of `persons` and held track ids."""

    rows: list[int]
    held_ids: list[int]


class PoseStage:
    """Estimates the pose of the persons inside a camera's fall zones.

    Only persons (label in `labels`) whose bottom-centre lies in one of `zones`
    are estimated, at most `max_crops_per_frame` per frame, tracked ones each at
    most every `min_interval_s`. When the detector loses such a person, the
    stage keeps estimating the pose where they were ("holds" them) while the
    keypoints are found or the region stays still, re-centring on them:
    detectors trained mostly on upright people often miss someone lying on the
    floor, which is exactly when a fall rule must keep seeing them. Person
    boxes the tracker has not confirmed are held the same way once the pose
    finds someone there. Not thread-safe: one camera, one thread, time order.
    """

    def __init__(
        self,
        *,
        camera_id: str,
        zones: Sequence[Zone],
        labels: Collection[str],
        estimator: PoseEstimator,
        settings: PoseSettings | None = None,
    ) -> None:
        if not zones:
            raise ValueError(f"camera {camera_id!r}: a pose stage needs a zone")
        if not labels:
            raise ValueError(f"camera {camera_id!r}: a pose stage needs labels")
        self.camera_id = camera_id
        self.settings = settings or PoseSettings()
        self._zones = tuple(zones)
        self._labels = frozenset(labels)
        self._estimator = estimator
        self._followed: dict[int, _Followed] = {}
        self._next_adopted = ADOPTED_ID_BASE
        self._rejected: list[tuple[npt.NDArray[np.float32], float]] = []

    def update(
        self, frame: Frame, tracked: Detections, labels: Sequence[str]
    ) -> PersonPoses:
        """Estimate poses for one analysed frame.

        Args:
            frame: The frame (its pixels are cropped).
            tracked: Tracked detections of the frame, in pixels.
            labels: Model label names indexed by `class_id`.

        Returns:
            The followed persons: tracked ones in the zones, then held ones.
        """
        now = frame.captured_at
        in_zones = tracked.filter(self._wanted(tracked, labels, frame.resolution_wh))
        persons = in_zones.filter(in_zones.tracker_id >= 0)
        self._see(frame, persons, now)
        self._adopt(frame, in_zones.filter(in_zones.tracker_id < 0), now)
        jobs = self._schedule(persons, now)
        if jobs.rows or jobs.held_ids:
            self._estimate(frame, persons, jobs, now)
        self._drop_lost_holds(now, frame.resolution_wh)
        return self._assemble(persons, jobs, now)

    def reset(self) -> None:
        """Forget every person (source reopened, tracks reset)."""
        self._followed.clear()

    @property
    def held_count(self) -> int:
        return sum(1 for f in self._followed.values() if f.is_held)

    def _wanted(
        self, tracked: Detections, labels: Sequence[str], resolution_wh: tuple[int, int]
    ) -> npt.NDArray[np.bool_]:
        ids = [i for i, name in enumerate(labels) if name in self._labels]
        mask = np.isin(tracked.class_id, ids)
        return mask & self._in_zones(anchors_norm(tracked, resolution_wh))

    def _in_zones(self, anchors: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
        inside = np.zeros(anchors.shape[0], dtype=np.bool_)
        for zone in self._zones:
            inside |= zone.contains_anchors(anchors)
        return inside

    def _see(self, frame: Frame, persons: Detections, now: float) -> None:
        """Remember the tracked persons; start holds for the ones just lost."""
        self._start_holds(persons, now)
        for row, tid in enumerate(persons.tracker_id.tolist()):
            box = persons.xyxy[row].copy()
            followed = self._followed.setdefault(
                tid,
                _Followed(
                    class_id=int(persons.class_id[row]),
                    xyxy=box,
                    confidence=float(persons.confidence[row]),
                ),
            )
            followed.xyxy = box
            followed.size_px = max(followed.size_px, float(max(box[2:] - box[:2])))
            followed.confidence = float(persons.confidence[row])
            followed.template = appearance(frame.image, box)
            followed.held_since = None

    def _start_holds(self, persons: Detections, now: float) -> None:
        seen = {int(t) for t in persons.tracker_id}
        for tid in [t for t in self._followed if t not in seen]:
            followed = self._followed[tid]
            if _max_iou(followed.xyxy, persons.xyxy) >= self.settings.handover_iou:
                del self._followed[tid]  # found again, maybe under a new id
            elif not followed.is_held:
                followed.held_since = now
                # Someone lost while standing tall mostly walked away or behind
                # something: hold them only if the first pose run finds them.
                # Someone lost while low may be lying where the detector cannot
                # see them: hold them through misses as well.
                followed.is_confirmed = not _is_standing_shape(followed.xyxy)
                followed.found_at = followed.seen_at = now
                followed.misses = 0

    def _adopt(self, frame: Frame, untracked: Detections, now: float) -> None:
        """Follow by pose the persons the tracker has not confirmed.

        Someone lying scores low and is often never tracked: an untracked box
        over a held person refreshes the hold; one over nobody followed starts
        a hold under a new id (at or above `ADOPTED_ID_BASE`), kept if the
        first pose run finds a person there.
        """
        self._rejected = [(box, t) for box, t in self._rejected if t > now]
        for row in range(len(untracked)):
            box = untracked.xyxy[row].copy()
            followed = self._overlapping(box)
            if followed is not None:
                # The same person again: a whole-body box refreshes a hold.
                iou = _max_iou(box, followed.xyxy[None])
                if followed.is_held and iou >= self.settings.handover_iou:
                    followed.xyxy, followed.seen_at = box, now
                    followed.template = appearance(frame.image, box)
                continue
            if any(
                _max_iou(box, old[None]) >= self.settings.handover_iou
                for old, _ in self._rejected
            ):
                continue  # the pose model found nobody there a moment ago
            self._followed[self._next_adopted] = _Followed(
                class_id=int(untracked.class_id[row]),
                xyxy=box,
                confidence=float(untracked.confidence[row]),
                size_px=float(max(box[2:] - box[:2])),
                held_since=now,
                found_at=now,
                seen_at=now,
                template=appearance(frame.image, box),
            )
            self._next_adopted += 1

    def _overlapping(self, box: npt.NDArray[np.float32]) -> _Followed | None:
        """The followed person mostly sharing `box` (a part of them counts)."""
        for followed in self._followed.values():
            if _overlap_of_smaller(box, followed.xyxy) >= _SAME_PERSON_OVERLAP:
                return followed
        return None

    def _schedule(self, persons: Detections, now: float) -> _Jobs:
        """Who gets a pose run this frame: the longest waiting first, held
        persons every frame, tracked ones every `min_interval_s`."""
        due: list[tuple[float, int, bool]] = []  # (last run, row or id, is held)
        for row, tid in enumerate(persons.tracker_id.tolist()):
            last = self._followed[tid].last_pose_at
            if now - last >= self.settings.min_interval_s:
                due.append((last, row, False))
        for tid, followed in self._followed.items():
            if followed.is_held:
                due.append((followed.last_pose_at, tid, True))
        due.sort(key=lambda job: job[0])
        chosen = due[: self.settings.max_crops_per_frame]
        return _Jobs(
            rows=[key for _, key, held in chosen if not held],
            held_ids=[key for _, key, held in chosen if held],
        )

    def _estimate(
        self, frame: Frame, persons: Detections, jobs: _Jobs, now: float
    ) -> None:
        s = self.settings
        held = [self._followed[t] for t in jobs.held_ids]
        boxes = np.concatenate(
            [persons.xyxy[jobs.rows], np.stack([_hold_crop_box(f) for f in held])]
            if held
            else [persons.xyxy[jobs.rows]]
        ).astype(np.float32)
        margins = np.array(
            [s.crop_margin] * len(jobs.rows)
            + [min(s.max_hold_margin, s.crop_margin + s.hold_margin_step * f.misses)
               for f in held],
            dtype=np.float32,
        )  # fmt: skip
        keypoints = self._estimator.estimate(frame.image, boxes, margins=margins)
        for i, row in enumerate(jobs.rows):
            followed = self._followed[int(persons.tracker_id[row])]
            followed.keypoints = keypoints[i]
            followed.last_pose_at = now
        for i, followed in enumerate(held, start=len(jobs.rows)):
            self._update_hold(followed, keypoints[i], frame.image, now)

    def _update_hold(
        self,
        followed: _Followed,
        keypoints: npt.NDArray[np.float32],
        image: npt.NDArray[np.uint8],
        now: float,
    ) -> None:
        found = keypoints[:, 2] >= self.settings.min_keypoint_score
        followed.last_pose_at = now
        if np.count_nonzero(found) < self.settings.min_keypoints:
            followed.misses += 1
            followed.keypoints = empty_keypoints(1)[0]
            look = appearance(image, followed.xyxy)
            if similarity(look, followed.template) >= self.settings.still_similarity:
                followed.seen_at = now  # not found, but nothing there has moved
            return
        followed.misses = 0
        followed.is_confirmed = True
        followed.found_at = followed.seen_at = now
        followed.keypoints = keypoints
        followed.xyxy = keypoint_box(keypoints[found, :2])
        followed.confidence = float(keypoints[found, 2].mean())
        followed.template = appearance(image, followed.xyxy)

    def _drop_lost_holds(self, now: float, resolution_wh: tuple[int, int]) -> None:
        s = self.settings
        self._merge_holds()
        for tid in list(self._followed):
            followed = self._followed[tid]
            if followed.held_since is None:
                continue
            # Walked out, or (adopted) the detector saw someone who is not there.
            is_not_there = not followed.is_confirmed and followed.misses > 0
            if is_not_there:  # do not try that box again for a while
                self._rejected.append((followed.xyxy, now + s.hold_miss_s))
            if (
                is_not_there
                or now - followed.seen_at > s.hold_miss_s
                or now - followed.held_since > s.max_hold_s
                or not self._in_zones(_anchor_norm(followed.xyxy, resolution_wh))[0]
            ):
                logger.debug("camera %s: hold of track %d ends", self.camera_id, tid)
                del self._followed[tid]

    def _merge_holds(self) -> None:
        """Two holds that the pose runs led onto the same person are one: keep
        the one followed longest."""
        held = sorted(
            (f.held_since or 0.0, tid) for tid, f in self._followed.items() if f.is_held
        )
        for i, (_, tid) in enumerate(held):
            if tid not in self._followed:
                continue
            for _, other in held[i + 1 :]:
                twin = self._followed.get(other)
                if twin is not None and (
                    _max_iou(self._followed[tid].xyxy, twin.xyxy[None]) >= _MERGE_IOU
                ):
                    del self._followed[other]

    def _assemble(self, persons: Detections, jobs: _Jobs, now: float) -> PersonPoses:
        done = set(jobs.rows)
        held = [
            (t, f) for t, f in self._followed.items() if f.is_held and f.is_confirmed
        ]
        n_tracked = len(persons)
        keypoints = empty_keypoints(n_tracked + len(held))
        for row in done:
            keypoints[row] = self._followed[int(persons.tracker_id[row])].keypoints
        for i, (_, followed) in enumerate(held, start=n_tracked):
            keypoints[i] = followed.keypoints  # zero after a miss
        has_pose = np.array(
            [row in done for row in range(n_tracked)]
            + [followed.found_at == now for _, followed in held],
            dtype=np.bool_,
        )
        return PersonPoses(
            persons=_merge(persons, held),
            keypoints=keypoints,
            has_pose=has_pose,
            is_held=np.arange(n_tracked + len(held)) >= n_tracked,
        )


def keypoint_box(points_xy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Box around keypoints (P, 2), grown by 15% of its longer side on each end
    (joints lie inside the body: the head reaches above the eyes, the feet past
    the ankles)."""
    low, high = points_xy.min(axis=0), points_xy.max(axis=0)
    pad = 0.15 * float(max(high - low))
    return np.array(
        [low[0] - pad, low[1] - pad, high[0] + pad, high[1] + pad], dtype=np.float32
    )


def _hold_crop_box(followed: _Followed) -> npt.NDArray[np.float32]:
    """Square around a held person at least `_HOLD_MIN_SIZE` of their stature:
    keypoints found on part of the body give a small box, and a crop shrunk to
    it would lose the rest of the person."""
    centre = (followed.xyxy[:2] + followed.xyxy[2:]) / 2.0
    longer = float(max(followed.xyxy[2:] - followed.xyxy[:2]))
    half = max(longer, _HOLD_MIN_SIZE * followed.size_px) / 2.0
    return np.concatenate([centre - half, centre + half]).astype(np.float32)


def _overlap_of_smaller(
    a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]
) -> float:
    """Intersection of two (4,) boxes over the area of the smaller one."""
    w = max(0.0, float(min(a[2], b[2]) - max(a[0], b[0])))
    h = max(0.0, float(min(a[3], b[3]) - max(a[1], b[1])))
    smaller = min(
        float((a[2] - a[0]) * (a[3] - a[1])), float((b[2] - b[0]) * (b[3] - b[1]))
    )
    return w * h / max(smaller, 1e-6)


def _is_standing_shape(xyxy: npt.NDArray[np.float32]) -> bool:
    return bool(xyxy[3] - xyxy[1] >= _STANDING_ASPECT * (xyxy[2] - xyxy[0]))


def _merge(persons: Detections, held: list[tuple[int, _Followed]]) -> Detections:
    if not held:
        return persons
    return Detections(
        xyxy=np.concatenate([persons.xyxy, np.stack([f.xyxy for _, f in held])]),
        confidence=np.concatenate(
            [persons.confidence, np.array([f.confidence for _, f in held], np.float32)]
        ),
        class_id=np.concatenate(
            [persons.class_id, np.array([f.class_id for _, f in held], np.int64)]
        ),
        tracker_id=np.concatenate(
            [persons.tracker_id, np.array([t for t, _ in held], np.int64)]
        ),
    )


def _anchor_norm(
    xyxy: npt.NDArray[np.float32], resolution_wh: tuple[int, int]
) -> npt.NDArray[np.float32]:
    w, h = resolution_wh
    anchor = np.array([[(xyxy[0] + xyxy[2]) / 2.0 / w, xyxy[3] / h]], np.float32)
    return np.clip(anchor, 0.0, 1.0)


def _max_iou(box: npt.NDArray[np.float32], others: npt.NDArray[np.float32]) -> float:
    """Largest IoU of one (4,) box with (N, 4) boxes; 0 when N is 0."""
    return float(box_ious(box, others).max()) if others.shape[0] else 0.0
