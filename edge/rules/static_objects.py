"""Objects left on the ground: candidates, their owners, and when they are left.

The ledger matches each frame's sightings (static regions of the pixel model,
stationary detections) to the objects it knows, confirms an object after two
frames that look like one, names its owner (the person nearest to it when it
appeared) and keeps, per object, since when that owner has been away.

Nothing is rejected on a glimpse: a fragment (a region a person still stands
over, or one cut by the picture's edge) votes neither way, and a candidate is
dropped as a ghost or a lighting change only after `_REJECT_VOTES`
whole-region verdicts spread over at least `_REJECT_SPAN_S` with no object
verdict among them. Even then the pixel model keeps the former background and
can bring the object back (see `static_scene`).

An owner the detector loses while standing over the object (seen from above,
or with the head out of the picture) is not counted away: while the object's
region runs on into something no detected person explains, an owner last seen
near it is taken to be there still.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from itertools import takewhile

import numpy as np
import numpy.typing as npt

from edge.rules.base import label_mask, label_name
from edge.rules.static_scene import BlobVerdict
from edge.types import Detections

BoxXyxy = npt.NDArray[np.float32]

_MATCH_IOU = 0.3
_PERSON_IOU = 0.4  # a "static object" this like a person's box is that person
_LABEL_IOU = 0.3
_LABEL_SIZE = (0.25, 4.0)  # detection area over object area, to label it
_MIN_LABEL_VOTES = 2
_CONFIRM_VOTES = 2
_REJECT_VOTES = 3
_REJECT_SPAN_S = 0.5  # the rejecting verdicts span at least this long
_OWNER_WINDOW_S = (1.0, 2.0)  # person positions searched around the appearance
_HISTORY_S = 300.0
_STILL_DETECTION_S = 1.0
_STILL_MOVE_FRAC = 0.02
_INSIDE_PERSON = 0.5  # detections mostly inside a person's box are carried
_ID_SWITCH_S = 3.0  # a lost owner found again under a new id within this long
_TOUCH_FRAC = 0.01  # box gap (over the frame diagonal) that still touches


@dataclass(frozen=True, slots=True)
class LedgerSettings:
    """When an object counts as left (see `StaticObjectRuleConfig`).

    Attributes:
        owner_away_frac: Owner farther than this (box gap over the frame
            diagonal) is away.
        owner_near_frac: A person this near when the object appeared can own it.
        min_area_frac: Smallest object, fraction of the frame.
        max_area_frac: Largest object, fraction of the frame.
        clear_s: Unseen (and not hidden by a person) this long: gone.
        cover_s: A person's box keeps hiding an object this long after leaving.
        cover_margin: The pixel model grows person boxes by this fraction of
            their size per side (see `SceneSettings.cover_margin`).
        person_labels: Labels of people.
    """

    owner_away_frac: float = 0.15
    owner_near_frac: float = 0.1
    min_area_frac: float = 0.0003
    max_area_frac: float = 0.02
    clear_s: float = 2.0
    cover_s: float = 1.5
    cover_margin: float = 0.1
    person_labels: frozenset[str] = frozenset({"person"})


@dataclass(frozen=True, slots=True)
class Sighting:
    """One frame's evidence of a possible object.

    Attributes:
        xyxy: Box in frame pixels, shape (4,), float32.
        appeared_at: When it appeared, UNIX seconds.
        verdict: What the evidence says it is.
        label: Detector label for a detector sighting, None for a pixel one.
        confidence: Detector score, 0 for a pixel sighting.
        is_fragment: Only part of it is in view (a person stands over the
            rest, or it goes on beyond the picture's edge): it keeps the
            object alive but its verdict does not count.
        beside_motion: Something that is not background moves along its
            border (see `StaticBlob.astir_frac`).
    """

    xyxy: BoxXyxy
    appeared_at: float
    verdict: BlobVerdict
    label: str | None = None
    confidence: float = 0.0
    is_fragment: bool = False
    beside_motion: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class People:
    """The tracked people of one frame, in frame pixels.

    Attributes:
        timestamp: Frame time, UNIX seconds.
        xyxy: Boxes, shape (P, 4), float32.
        track_id: Track ids, shape (P,), int64 (-1: not confirmed).
    """

    timestamp: float
    xyxy: npt.NDArray[np.float32]
    track_id: npt.NDArray[np.int64]

    @classmethod
    def from_detections(
        cls,
        detections: Detections,
        *,
        timestamp: float,
        labels: Sequence[str],
        person_labels: Collection[str],
    ) -> People:
        mask = label_mask(detections.class_id, labels, person_labels)
        return cls(
            timestamp=timestamp,
            xyxy=detections.xyxy[mask],
            track_id=detections.tracker_id[mask],
        )


@dataclass(slots=True, eq=False)
class LeftObject:
    """What the ledger knows of one object.

    Attributes:
        object_id: Id, unique within the ledger.
        xyxy: Latest box in frame pixels, shape (4,).
        first_seen: First sighting, UNIX seconds.
        last_seen: Latest sighting (or the time a person hid it until).
        appeared_at: When it appeared (see `Sighting.appeared_at`).
        object_votes: Sightings that looked like an object.
        other_votes: Whole-region sightings that looked like a ghost or a
            lighting change.
        other_since: Time of the first of those, None before one.
        is_confirmed: Two sightings looked like an object.
        is_person: It is a person who stood still (not an object).
        owner_id: Owner's track id, None when nobody was near.
        owner_xyxy: Owner's box on the latest frame, None when out of view.
        owner_last_xyxy: Owner's box when last seen.
        owner_seen_at: Last time the owner was in view.
        owner_gap_frac: Owner's distance (box gap over the frame diagonal),
            None when out of view.
        away_since: Since when the owner has been away, None while near.
        attached_at: Last time its region ran on into something no detected
            person explains (a fragment with nobody near): an owner the
            detector lost while standing over it.
        label_votes: Detector labels seen on it, with counts.
        label_scores: Sum of the detector scores per label.
    """

    object_id: int
    xyxy: BoxXyxy
    first_seen: float
    last_seen: float
    appeared_at: float
    object_votes: int = 0
    other_votes: int = 0
    other_since: float | None = None
    is_confirmed: bool = False
    is_person: bool = False
    owner_id: int | None = None
    owner_xyxy: BoxXyxy | None = None
    owner_last_xyxy: BoxXyxy | None = None
    owner_seen_at: float = 0.0
    owner_gap_frac: float | None = None
    away_since: float | None = None
    attached_at: float = -math.inf
    label_votes: Counter[str] = field(default_factory=Counter)
    label_scores: dict[str, float] = field(default_factory=dict)

    def label_among(self, names: Collection[str]) -> str | None:
        """The detector's label for it out of `names`: most votes, at least two.

        Other labels do not count: a detector that calls a bottle on the floor
        `sports ball` now and then has not seen something else.
        """
        votes = [(n, v) for n, v in self.label_votes.items() if n in names]
        if not votes:
            return None
        name, count = max(votes, key=lambda item: (item[1], item[0]))
        return name if count >= _MIN_LABEL_VOTES else None

    def label_confidence(self, name: str) -> float:
        """Mean detector score of label `name` on it, 0 when never seen."""
        votes = self.label_votes.get(name, 0)
        return self.label_scores.get(name, 0.0) / votes if votes else 0.0

    def static_for_s(self, now: float) -> float:
        return now - self.first_seen

    def away_for_s(self, now: float) -> float:
        return 0.0 if self.away_since is None else now - self.away_since


@dataclass(frozen=True, slots=True, eq=False)
class LedgerUpdate:
    """What changed on one frame.

    Attributes:
        gone: Objects no longer there (picked up, or never real).
        relearn: Boxes (frame pixels) the background should take as they are
            now: ghosts and lighting changes.
    """

    gone: tuple[LeftObject, ...] = ()
    relearn: tuple[BoxXyxy, ...] = ()


class ObjectLedger:
    """The candidate and confirmed objects of one rule.

    Not thread-safe: feed one camera's frames from one thread, in time order.
    """

    def __init__(self, settings: LedgerSettings, *, resolution_wh: tuple[int, int]):
        self.settings = settings
        self._diag = math.hypot(*resolution_wh)
        self._area = float(resolution_wh[0] * resolution_wh[1])
        self._objects: dict[int, LeftObject] = {}
        self._next_id = 1
        self._history: deque[People] = deque()
        self._track_first: dict[int, tuple[float, BoxXyxy]] = {}

    @property
    def objects(self) -> list[LeftObject]:
        return list(self._objects.values())

    def update(
        self,
        sightings: Sequence[Sighting],
        *,
        people: People,
        others: Detections,
        labels: Sequence[str],
    ) -> LedgerUpdate:
        """Take one frame's sightings and people.

        Args:
            sightings: Possible objects of the frame.
            people: Tracked people of the frame (all of it, not only the zone).
            others: Non-person detections of the frame, for the objects' labels.
            labels: Model label names indexed by `class_id`.
        """
        now = people.timestamp
        self._remember(people)
        self._match(sightings, people, now)
        self._vote_labels(others, labels)
        gone = self._expire(people, now)
        relearn: list[BoxXyxy] = []
        for obj in list(self._objects.values()):
            relearn.extend(self._decide(obj, now))
        for obj in self._objects.values():
            if obj.is_confirmed and not obj.is_person:
                self._follow_owner(obj, people, now)
        return LedgerUpdate(gone=tuple(gone), relearn=tuple(relearn))

    def forget(self, object_id: int) -> LeftObject | None:
        """Drop an object (it became background); returns it if it was known."""
        return self._objects.pop(object_id, None)

    def gap_frac(self, a: BoxXyxy, b: BoxXyxy) -> float:
        """Gap between two boxes over the frame diagonal (0 when they touch)."""
        dx = max(0.0, float(max(a[0], b[0]) - min(a[2], b[2])))
        dy = max(0.0, float(max(a[1], b[1]) - min(a[3], b[3])))
        return math.hypot(dx, dy) / self._diag

    def _remember(self, people: People) -> None:
        self._history.append(people)
        while self._history and people.timestamp - self._history[0].timestamp > (
            _HISTORY_S
        ):
            self._history.popleft()
        for box, tid in zip(people.xyxy, people.track_id, strict=True):
            if tid >= 0 and int(tid) not in self._track_first:
                self._track_first[int(tid)] = (people.timestamp, box)
        horizon = people.timestamp - _HISTORY_S
        for tid in [
            t for t, (began, _) in self._track_first.items() if began < horizon
        ]:
            del self._track_first[tid]

    def _match(self, sightings: Sequence[Sighting], people: People, now: float) -> None:
        # Several sightings may be one object (its region and its detection,
        # or a region split in two): each joins the best matching object.
        low, high = self.settings.min_area_frac, self.settings.max_area_frac
        for sighting in sightings:
            share = _area(sighting.xyxy) / self._area
            if not low / 2 <= share <= high:
                continue
            obj = self._best_match(sighting.xyxy)
            if obj is None:
                if share < low:
                    # Too small to start watching; an object already watched
                    # is not lost because its region shrinks a little.
                    continue
                obj = self._add(sighting, now)
            self._see(obj, sighting, now)
            if (
                sighting.is_fragment or sighting.beside_motion
            ) and not self._near_anyone(sighting.xyxy, now):
                obj.attached_at = now

    def _best_match(self, xyxy: BoxXyxy) -> LeftObject | None:
        # A region that grew around a candidate (the rest of a bag its owner
        # stood over, now in view) is that candidate, whole.
        best, best_iou = None, _MATCH_IOU
        for obj in self._objects.values():
            iou = _iou(obj.xyxy, xyxy)
            nested = _centre_inside(xyxy, obj.xyxy) or _centre_inside(obj.xyxy, xyxy)
            if iou >= best_iou or (best is None and nested):
                best, best_iou = obj, max(iou, best_iou)
        return best

    def _near_anyone(self, xyxy: BoxXyxy, now: float) -> bool:
        """Whether a detected person touched the box lately (while the pixel
        model still masks where they stood): what cuts a region then is them,
        seen, not someone the detector misses."""
        since = now - self.settings.cover_s
        # Newest first, stopping at `since`: the history keeps minutes of frames.
        recent = takewhile(lambda p: p.timestamp >= since, reversed(self._history))
        return any(
            self.gap_frac(xyxy, _grow(box, self.settings.cover_margin)) <= _TOUCH_FRAC
            for people in recent
            for box in people.xyxy
        )

    def _add(self, sighting: Sighting, now: float) -> LeftObject:
        obj = LeftObject(
            object_id=self._next_id,
            xyxy=sighting.xyxy.copy(),
            first_seen=now,
            last_seen=now,
            appeared_at=min(sighting.appeared_at, now),
        )
        self._next_id += 1
        self._objects[obj.object_id] = obj
        return obj

    def _see(self, obj: LeftObject, sighting: Sighting, now: float) -> None:
        obj.last_seen = max(obj.last_seen, now)
        ratio = _area(sighting.xyxy) / max(_area(obj.xyxy), 1.0)
        # A region that suddenly doubles has merged with something passing by:
        # keep the object's own box.
        if 0.5 <= ratio <= 2.0 or not obj.is_confirmed:
            obj.xyxy = sighting.xyxy.copy()
        if sighting.is_fragment:
            pass  # part of it is under a person: no verdict on the whole
        elif sighting.verdict is BlobVerdict.OBJECT:
            obj.object_votes += 1
        elif sighting.verdict in (BlobVerdict.GHOST, BlobVerdict.LIGHT):
            obj.other_votes += 1
            if obj.other_since is None:
                obj.other_since = now
        if sighting.label is not None:
            self._vote(obj, sighting.label, sighting.confidence)

    def _vote(self, obj: LeftObject, label: str, score: float) -> None:
        obj.label_votes[label] += 1
        obj.label_scores[label] = obj.label_scores.get(label, 0.0) + score

    def _vote_labels(self, others: Detections, labels: Sequence[str]) -> None:
        for xyxy, class_id, score in zip(
            others.xyxy, others.class_id, others.confidence, strict=True
        ):
            for obj in self._objects.values():
                if _is_label_of(xyxy, obj.xyxy):
                    self._vote(obj, label_name(tuple(labels), int(class_id)), score)

    def _expire(self, people: People, now: float) -> list[LeftObject]:
        gone = []
        for obj in list(self._objects.values()):
            hidden = any(
                _iou(obj.xyxy, box) > 0 or _centre_inside(obj.xyxy, box)
                for box in people.xyxy
            )
            if hidden:
                # Keep it while a person stands on it, and as long after as
                # the pixel model keeps the spot masked.
                obj.last_seen = max(obj.last_seen, now + self.settings.cover_s)
            if now - obj.last_seen > self.settings.clear_s:
                gone.append(self._objects.pop(obj.object_id))
        return gone

    def _decide(self, obj: LeftObject, now: float) -> list[BoxXyxy]:
        if obj.is_confirmed:
            return []
        if obj.object_votes >= _CONFIRM_VOTES:
            obj.is_confirmed = True
            self._assign_owner(obj)
            return []
        if (
            obj.other_votes >= _REJECT_VOTES
            and obj.object_votes == 0
            and obj.other_since is not None
            and now - obj.other_since >= _REJECT_SPAN_S
        ):
            self._objects.pop(obj.object_id)
            return [obj.xyxy]
        return []

    def _assign_owner(self, obj: LeftObject) -> None:
        start = obj.appeared_at - _OWNER_WINDOW_S[0]
        end = obj.appeared_at + _OWNER_WINDOW_S[1]
        since = [p for p in self._history if p.timestamp >= start]
        # A person the detector lost while standing still shows up as a static
        # region of their own size and place: that is no object.
        obj.is_person = any(
            _iou(obj.xyxy, box) >= _PERSON_IOU for p in since for box in p.xyxy
        )
        around = [p for p in since if p.timestamp <= end] or since[:1]
        best_gap, best_id, best_box = math.inf, None, None
        for people in around:
            for box, tid in zip(people.xyxy, people.track_id, strict=True):
                gap = self.gap_frac(obj.xyxy, box)
                if gap >= best_gap:
                    continue
                found = int(tid) if tid >= 0 else self._track_before(box, people)
                if found is not None:
                    best_gap, best_id, best_box = gap, found, box
        if best_id is not None and best_gap <= self.settings.owner_near_frac:
            obj.owner_id = best_id
            obj.owner_xyxy = best_box
            obj.owner_last_xyxy = best_box
            obj.owner_seen_at = obj.appeared_at

    def _track_before(self, box: BoxXyxy, seen: People) -> int | None:
        """The confirmed track an unconfirmed detection continues: the latest
        seen within `_ID_SWITCH_S` before it, where it is (the tracker lost
        someone standing still and has not confirmed them again yet)."""
        for people in reversed(self._history):
            if people.timestamp >= seen.timestamp:
                continue
            if seen.timestamp - people.timestamp > _ID_SWITCH_S:
                break
            for earlier, tid in zip(people.xyxy, people.track_id, strict=True):
                if (
                    tid >= 0
                    and self.gap_frac(earlier, box) <= self.settings.owner_near_frac
                ):
                    return int(tid)
        return None

    def _follow_owner(self, obj: LeftObject, people: People, now: float) -> None:
        if obj.owner_id is None:
            obj.away_since = obj.first_seen
            return
        rows = np.flatnonzero(people.track_id == obj.owner_id)
        if rows.size == 0:
            self._adopt_owner(obj, people)
            rows = np.flatnonzero(people.track_id == obj.owner_id)
        if rows.size:
            obj.owner_xyxy = people.xyxy[rows[0]]
            obj.owner_last_xyxy = obj.owner_xyxy
            obj.owner_seen_at = now
            obj.owner_gap_frac = self.gap_frac(obj.xyxy, obj.owner_xyxy)
        else:
            obj.owner_xyxy = None
            obj.owner_gap_frac = None
        is_near = (
            obj.owner_gap_frac is not None
            and obj.owner_gap_frac <= self.settings.owner_away_frac
        ) or (obj.owner_xyxy is None and self._is_owner_unseen_over(obj, now))
        if is_near:
            obj.away_since = None
        elif obj.away_since is None:
            obj.away_since = now

    def _is_owner_unseen_over(self, obj: LeftObject, now: float) -> bool:
        # Out of the detector's sight, last seen near the object, and the
        # object still runs on into something nobody detected explains: the
        # owner stands over it. A frame or two of the region seen alone does
        # not end that (the pixel model's cover flickers as they shift).
        last = obj.owner_last_xyxy
        return (
            last is not None
            and self.gap_frac(obj.xyxy, last) <= self.settings.owner_away_frac
            and now - obj.attached_at <= self.settings.cover_s
        )

    def _adopt_owner(self, obj: LeftObject, people: People) -> None:
        # The tracker may give the owner a new id after an occlusion: a track
        # that began where and soon after the owner's ended is the owner. A
        # newcomer walking in from elsewhere is not, however near the object.
        if obj.owner_last_xyxy is None:
            return
        for tid in people.track_id:
            first = self._track_first.get(int(tid))
            if first is None or tid < 0 or tid == obj.owner_id:
                continue
            began_at, began_box = first
            if (
                0 <= began_at - obj.owner_seen_at <= _ID_SWITCH_S
                and self.gap_frac(obj.owner_last_xyxy, began_box)
                <= self.settings.owner_near_frac
            ):
                obj.owner_id = int(tid)
                return


def still_detections(
    detections: Detections,
    *,
    wanted: npt.NDArray[np.bool_],
    people: People,
) -> npt.NDArray[np.bool_]:
    """Which wanted detections are not carried: mostly outside every person box."""
    keep = wanted.copy()
    for i in np.flatnonzero(wanted):
        box = detections.xyxy[i]
        area = max(_area(box), 1.0)
        for person in people.xyxy:
            if _intersection(box, person) / area >= _INSIDE_PERSON:
                keep[i] = False
                break
    return keep


class StillTracks:
    """Since when each tracked detection has stood still (the detector path)."""

    def __init__(self, *, diag_px: float) -> None:
        self._limit = _STILL_MOVE_FRAC * diag_px
        self._anchor: dict[int, tuple[float, float, float]] = {}

    def update(self, detections: Detections, now: float) -> dict[int, float]:
        """Track id -> still since, for tracks still for `_STILL_DETECTION_S`."""
        seen: dict[int, float] = {}
        for box, tid in zip(detections.xyxy, detections.tracker_id, strict=True):
            if tid < 0:
                continue
            cx, cy = float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2
            anchor = self._anchor.get(int(tid))
            if anchor is None or math.dist(anchor[:2], (cx, cy)) > self._limit:
                anchor = (cx, cy, now)
                self._anchor[int(tid)] = anchor
            seen[int(tid)] = anchor[2]
        for tid in set(self._anchor) - set(seen):
            del self._anchor[tid]
        return {t: s for t, s in seen.items() if now - s >= _STILL_DETECTION_S}


def _is_label_of(detection: BoxXyxy, obj: BoxXyxy) -> bool:
    """Whether a detection is of the object: overlapping it, of about its size.

    A table whose box holds a bottle at its foot is not a label of the bottle.
    """
    if _iou(detection, obj) >= _LABEL_IOU:
        return True
    ratio = _area(detection) / max(_area(obj), 1.0)
    return _LABEL_SIZE[0] <= ratio <= _LABEL_SIZE[1] and _centre_inside(
        detection, _grow(obj, 0.25)
    )


def _area(box: BoxXyxy) -> float:
    return max(0.0, float(box[2] - box[0])) * max(0.0, float(box[3] - box[1]))


def _intersection(a: BoxXyxy, b: BoxXyxy) -> float:
    w = min(float(a[2]), float(b[2])) - max(float(a[0]), float(b[0]))
    h = min(float(a[3]), float(b[3])) - max(float(a[1]), float(b[1]))
    return max(0.0, w) * max(0.0, h)


def _iou(a: BoxXyxy, b: BoxXyxy) -> float:
    inter = _intersection(a, b)
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def _centre_inside(box: BoxXyxy, container: BoxXyxy) -> bool:
    cx, cy = float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2
    return bool(
        container[0] <= cx <= container[2] and container[1] <= cy <= container[3]
    )


def _grow(box: BoxXyxy, frac: float) -> BoxXyxy:
    dx, dy = (box[2] - box[0]) * frac, (box[3] - box[1]) * frac
    return np.array(
        [box[0] - dx, box[1] - dy, box[2] + dx, box[3] + dy], dtype=np.float32
    )
