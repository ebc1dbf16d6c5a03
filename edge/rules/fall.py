"""Fall: a person drops quickly into lying and stays down for `down_s`."""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from edge.pose.posture import (
    Baseline,
    Posture,
    PostureThresholds,
    Reading,
    Torso,
    read_posture,
    read_torso,
)
from edge.pose.types import PersonPoses, box_ious, empty_keypoints
from edge.rules.base import (
    AttributeValue,
    Episode,
    Involved,
    Rule,
    RuleScope,
    RuleSignal,
    ZoneObservation,
    expect_config,
    label_mask,
    union_box_norm,
)
from edge.rules.rule_config import RuleConfigBase
from gridwatch.contract import EventType

logger = logging.getLogger(__name__)

_SCALE_PER_TORSO = 3.2  # stature / shoulder-to-hip length, when never seen upright
_BASELINE_S = 3.0  # upright samples this long before the latest one set the scale
_DROP_START = 0.05  # within this share of the scale of the top, the drop has not begun
_LYING_GAP_S = 0.5  # lying goes on through other readings this short...
_LYING_GAP_FRAMES = 2.5  # ...or this many frame intervals, when frames are sparser
_POSE_FRESH_S = 0.6  # a pose reading this recent stands in for a frame without one
_HANDOVER_IOU = 0.3  # a new track this close to a missing one is the same person
# A person who comes to rest and is read as lying only later (a box at the edge
# of the lying shape, no torso found) fell when they came to rest:
_REST_IOU = 0.75  # a box this close to the latest one is the same resting position
_REST_MAX_S = 3.0  # ...misread for at most this long before the first lying reading
_REST_MIN_ASPECT = 1.0  # ...in a box at least this wide for its height (not a crouch)
# Time with no reading of the person (lost frames, the detector losing them on
# the way down) says nothing about how fast they went down:
_BLIND_AFTER_S = 0.5  # readings further apart than this leave a blind stretch...
_BLIND_MAX_S = 1.0  # ...of which at most this much is not counted in transition_s


class FallRuleConfig(RuleConfigBase):
    """Settings of the `fall` rule (see docs/edge.md, "Falls")."""

    type: Literal["fall"] = "fall"
    labels: list[str] = Field(
        default_factory=lambda: ["person"],
        min_length=1,
        title="Labels",
        description="Detector labels that can fall.",
    )
    down_s: float = Field(
        default=1.0,
        gt=0,
        le=600,
        title="Down time",
        description="Seconds a person must stay lying after the fall before the "
        "event starts.",
    )
    transition_s: float = Field(
        default=2.0,
        gt=0,
        le=10,
        title="Transition time",
        description="Longest time from upright to lying that still counts as a "
        "fall; lying down more slowly is deliberate (a bed, a mat).",
    )
    drop_ratio: float = Field(
        default=0.2,
        gt=0,
        le=1,
        title="Drop",
        description="How far the hips (the box centre when the hips are not "
        "seen) must drop within transition_s, as a share of the person's upright "
        "height.",
    )
    min_keypoint_score: float = Field(
        default=0.3,
        ge=0,
        le=1,
        title="Keypoint score",
        description="Pose keypoints scoring lower are treated as not seen.",
    )
    upright_max_deg: float = Field(
        default=35.0,
        gt=0,
        lt=90,
        title="Upright angle",
        description="A torso within this angle of vertical is upright.",
    )
    lying_min_deg: float = Field(
        default=55.0,
        gt=0,
        le=90,
        title="Lying angle",
        description="A torso at least this far from vertical (and low) is lying.",
    )
    clear_s: float = Field(
        default=2.0,
        ge=0,
        title="Clear time",
        description="The event ends once the person has stood, or been gone, "
        "this long.",
    )
    cooldown_s: float = Field(
        default=30.0,
        ge=0,
        title="Cooldown",
        description="No new fall of the same person this long after an end.",
    )
    pose_model: str = Field(
        default="movenet_lightning",
        min_length=1,
        title="Pose model",
        description="Manifest name of the pose model.",
    )

    @model_validator(mode="after")
    def verify_angles(self) -> FallRuleConfig:
        if self.lying_min_deg <= self.upright_max_deg:
            raise ValueError(
                f"lying_min_deg ({self.lying_min_deg}) must be above "
                f"upright_max_deg ({self.upright_max_deg})"
            )
        return self


@dataclass(frozen=True, slots=True)
class _Sample:
    t: float
    hip_y_px: float
    centre_y_px: float
    xyxy: npt.NDArray[np.float32]
    is_upright: bool


@dataclass(frozen=True, slots=True)
class _UprightSample:
    t: float
    height_px: float
    torso_px: float


@dataclass(slots=True)
class _Person:
    """What the rule remembers of one person (one track, or its successor)."""

    episode: Episode
    xyxy: npt.NDArray[np.float32]
    last_seen: float
    reading: Reading = field(default_factory=lambda: Reading(Posture.OTHER))
    torso: Torso | None = None
    torso_at: float = -math.inf
    lying_since: float | None = None
    samples: deque[_Sample] = field(default_factory=deque)
    upright: deque[_UprightSample] = field(default_factory=deque)
    torso_seen_px: float = 0.0  # longest torso seen
    fallen_at: float | None = None
    last_lying_at: float = -math.inf
    drop: float = 0.0
    standing_since: float | None = None
    is_held: bool = False
    frame_interval_s: float = 0.0  # recent time between this person's frames
    upright_run: int = 0  # consecutive upright readings up to this frame

    def lying_gap_s(self) -> float:
        """How long other readings may interrupt lying before it has ended: a
        misread frame or two must not, whatever the frame rate."""
        return max(_LYING_GAP_S, _LYING_GAP_FRAMES * self.frame_interval_s)

    def baseline(self) -> Baseline:
        if not self.upright:
            return Baseline()
        last = self.upright[-1].t
        recent = [u for u in self.upright if u.t >= last - _BASELINE_S]
        torsos = [u.torso_px for u in recent if not math.isnan(u.torso_px)]
        return Baseline(
            height_px=max(u.height_px for u in recent),
            torso_px=max(torsos) if torsos else None,
        )

    def scale_px(self) -> float:
        """Upright height; estimated from the torso or box when never upright."""
        baseline = self.baseline()
        if baseline.height_px is not None:
            return baseline.height_px
        if self.torso_seen_px > 0:
            return _SCALE_PER_TORSO * self.torso_seen_px
        return float(max(self.xyxy[2] - self.xyxy[0], self.xyxy[3] - self.xyxy[1]))


class FallRule(Rule):
    """Starts when a person has dropped into lying quickly and stays down.

    Per person (track id, kept across the detector losing and re-finding
    them): each frame's posture comes from the pose keypoints when the camera's
    pose stage estimated them (else from the last pose reading, when recent,
    else from the box shape). A fall is a change into lying during which the
    hips (or the box centre) dropped by `drop_ratio` of the person's upright
    height within `transition_s` (up to when they came to rest in the position
    read as lying, which may be read so only later; see `_drop`); it starts an
    event once the person has stayed down for `down_s`, and ends when they have
    stood for `clear_s` or been gone for `clear_s`. Sitting (torso upright),
    bending (hips stay high), lying down slowly or lying from the start (no
    drop) and getting up within `down_s` raise nothing. Each person has their
    own event and `cooldown_s`.
    """

    type_key = "fall"
    config_class = FallRuleConfig
    event_type = EventType.FALL

    def __init__(self, config: FallRuleConfig, *, scope: RuleScope) -> None:
        super().__init__(scope)
        self.config = config
        self._thresholds = PostureThresholds(
            min_keypoint_score=config.min_keypoint_score,
            upright_max_deg=config.upright_max_deg,
            lying_min_deg=config.lying_min_deg,
        )
        self._labels = frozenset(config.labels)
        self._persons: dict[int, _Person] = {}

    @classmethod
    def from_config(cls, config: RuleConfigBase, *, scope: RuleScope) -> FallRule:
        return cls(expect_config(config, FallRuleConfig), scope=scope)

    def update(self, obs: ZoneObservation) -> list[RuleSignal]:
        persons = persons_of(obs, self._labels)
        ids = [int(t) for t in persons.persons.tracker_id]
        signals: list[RuleSignal] = []
        for row, tid in enumerate(ids):
            box = persons.persons.xyxy[row]
            person = self._person_for(tid, box, obs.timestamp, set(ids))
            signals.extend(self._observe(person, tid, persons, row, obs))
        signals.extend(self._sweep(set(ids), obs.timestamp))
        return signals

    def close(self, timestamp: float) -> list[RuleSignal]:
        return [
            self._end(person, timestamp)
            for person in self._persons.values()
            if person.episode.is_active
        ]

    def _person_for(
        self, tid: int, xyxy: npt.NDArray[np.float32], now: float, ids: set[int]
    ) -> _Person:
        person = self._persons.get(tid)
        if person is not None:
            return person
        # The tracker often loses someone who falls and finds them again under
        # a new id: a new track where a missing person was is that person.
        missing = [t for t in self._persons if t not in ids]
        for old in missing:
            if box_ious(self._persons[old].xyxy, xyxy[None])[0] >= _HANDOVER_IOU:
                person = self._persons[tid] = self._persons.pop(old)
                return person
        person = self._persons[tid] = _Person(
            episode=Episode(
                scope=self.scope,
                event_type=self.event_type,
                rule_type=self.type_key,
                cooldown_s=self.config.cooldown_s,
            ),
            xyxy=xyxy,
            last_seen=now,
        )
        return person

    def _observe(
        self,
        person: _Person,
        tid: int,
        persons: PersonPoses,
        row: int,
        obs: ZoneObservation,
    ) -> list[RuleSignal]:
        now = obs.timestamp
        person.xyxy = persons.persons.xyxy[row].copy()
        if now > person.last_seen:
            interval = min(now - person.last_seen, 1.0)
            previous = person.frame_interval_s or interval
            person.frame_interval_s = 0.7 * previous + 0.3 * interval
        person.last_seen = now
        person.is_held = bool(persons.is_held[row])
        keypoints = persons.keypoints[row] if persons.has_pose[row] else None
        reading = self._read(person, keypoints, now)
        self._remember(person, reading, now)
        if person.episode.is_active:
            return self._while_fallen(person, reading, now)
        if not self._is_confirmed(person, reading, now):
            return []
        involved = _involved(persons, row, obs)
        attributes = self._attributes(person, tid, now)
        logger.info(
            "camera %s: zone %s: fall of track %d (%s)",
            self.scope.camera_id,
            self.scope.zone_id,
            tid,
            attributes,
        )
        return [person.episode.start(now, involved, attributes)]

    def _read(
        self, person: _Person, keypoints: npt.NDArray[np.float32] | None, now: float
    ) -> Reading:
        baseline = person.baseline()
        torso = None
        if keypoints is not None:
            torso = read_torso(
                person.xyxy, keypoints, baseline=baseline, thresholds=self._thresholds
            )
        if torso is not None:
            person.torso, person.torso_at = torso, now
            return read_posture(person.xyxy, torso, baseline=baseline)
        # Between pose runs (or when a run misses the torso) the last torso
        # reading stands in for a short while.
        recent = person.torso if now - person.torso_at <= _POSE_FRESH_S else None
        return read_posture(person.xyxy, recent, baseline=baseline, is_fresh=False)

    def _remember(self, person: _Person, reading: Reading, now: float) -> None:
        top, bottom = float(person.xyxy[1]), float(person.xyxy[3])
        person.reading = reading
        is_upright = reading.posture is Posture.UPRIGHT
        person.upright_run = person.upright_run + 1 if is_upright else 0
        fresh = reading.torso if reading.is_fresh else None
        hip_y = fresh.hip_y_px if fresh is not None else math.nan
        person.samples.append(
            _Sample(now, hip_y, (top + bottom) / 2.0, person.xyxy, is_upright)
        )
        kept_s = self.config.transition_s + _REST_MAX_S + _BLIND_MAX_S
        while person.samples and person.samples[0].t < now - kept_s:
            person.samples.popleft()
        if fresh is not None:
            person.torso_seen_px = max(person.torso_seen_px, fresh.length_px)
        if reading.posture is Posture.UPRIGHT and (
            fresh is not None or reading.is_standing
        ):
            torso_px = fresh.length_px if fresh is not None else math.nan
            person.upright.append(_UprightSample(now, bottom - top, torso_px))
            while person.upright[0].t < now - _BASELINE_S:
                person.upright.popleft()
        if reading.posture is Posture.LYING:
            if person.lying_since is None:
                person.lying_since = now
            person.last_lying_at = now
        elif (
            reading.posture is Posture.UPRIGHT
            or now - person.last_lying_at > person.lying_gap_s()
        ):
            person.lying_since = None  # a misread frame or two does not count

    def _is_confirmed(self, person: _Person, reading: Reading, now: float) -> bool:
        """Advance the fall candidate; true when the event is due to start."""
        lying = reading.posture is Posture.LYING
        if person.fallen_at is None:
            # The drop counts while the lying spell lasts, not only on frames
            # read as lying: at a low frame rate the one lying frame of a fall
            # may come early in the way down, the rest of which reads as
            # neither upright nor lying (the torso turning through 35-55
            # degrees, the hips not yet low).
            if person.lying_since is not None:  # set on every lying frame
                person.drop, drop_began, rested_at = self._drop(
                    person, person.lying_since
                )
                if person.drop >= self.config.drop_ratio:
                    # Down since the later of: lying began (or the person came
                    # to rest in the position later read as lying), the drop
                    # began (someone already lying, e.g. rolling off a bed).
                    down_since = min(person.lying_since, rested_at)
                    person.fallen_at = max(down_since, drop_began)
            return False
        # At rest in a lying-shaped box, a rest begun within the lying spell, is
        # down whatever the pose says of it: at a low frame rate a person may be
        # read lying once (at rest, or still sliding down) and then neither
        # upright nor lying for seconds (subject_1_fall_13 and subject_3_fall_19
        # at ~3.6 fps).
        resting = reading.posture is not Posture.UPRIGHT and _rests_where_lying(person)
        if _is_up_again(person) or (
            not lying
            and not resting
            and now - person.last_lying_at > self.config.down_s
        ):
            person.fallen_at = None  # up again: a dip, not a fall
            return False
        # Still down: lying now, or read as neither within the lying spell (a
        # box-shape or pose misread between lying frames). Requiring a lying
        # reading on the very frame at `down_s` made the outcome hang on which
        # frames the sampler happened to pick (5 fps, one start offset of six,
        # missed subject_1_fall_13: lying, other, lying, other, other, ...).
        is_down = (
            lying
            or resting
            or (
                reading.posture is not Posture.UPRIGHT
                and now - person.last_lying_at <= person.lying_gap_s()
            )
        )
        # Down for `down_s` on the frame nearest that mark, not the first one
        # after it: otherwise the wait is down_s plus up to a frame interval,
        # depending on the sampling phase (and a clip ending 0.99 s after the
        # fall, subject_4_fall_02, is missed from one start frame at 5 fps).
        due_s = self.config.down_s - person.frame_interval_s / 2.0
        return (
            is_down
            and now - person.fallen_at >= due_s
            and person.episode.can_start(now)
        )

    def _drop(self, person: _Person, lying_since: float) -> tuple[float, float, float]:
        """How far the person came down within `transition_s` before coming
        to rest where they are now, in upright heights; when the way down
        began (last time near the top); and when they came to rest.

        The transition is measured up to the rest, not up to the first frame
        read as lying: at a low or uneven frame rate the person may lie still
        in a box at the edge of the lying shape, read as neither upright nor
        lying, for a second or two before a frame reads lying (seen on
        subject_1_fall_13 at ~3.6 fps: down at 1.6 s, read lying at 3.7 s).
        Lying down slowly still reads slow: the rest only counts where the box
        stayed put, read as not upright, from it to the first lying reading.
        """
        history = list(person.samples)
        rest = _rest_index(history, lying_since)
        first = _transition_start(history, rest, self.config.transition_s)
        samples = history[first:]
        scale = max(person.scale_px(), 1.0)
        if not math.isnan(samples[-1].hip_y_px) and any(
            not math.isnan(s.hip_y_px) for s in samples[:-1]
        ):
            track = [(s.t, s.hip_y_px) for s in samples if not math.isnan(s.hip_y_px)]
        else:
            track = [(s.t, s.centre_y_px) for s in samples]
        top = min(y for _, y in track)
        began = max(t for t, y in track if y <= top + _DROP_START * scale)
        return max(0.0, track[-1][1] - top) / scale, began, history[rest].t

    def _while_fallen(
        self, person: _Person, reading: Reading, now: float
    ) -> list[RuleSignal]:
        if not reading.is_standing:
            person.standing_since = None
            return []
        if person.standing_since is None:
            person.standing_since = now
        if now - person.standing_since < self.config.clear_s:
            return []
        return [self._end(person, now)]

    def _sweep(self, ids: set[int], now: float) -> list[RuleSignal]:
        """End the events of persons gone for `clear_s`; forget the gone."""
        signals = []
        # Kept a while after they vanish, so that a new track where they were
        # (the detector finding them again) takes their history over.
        forget_after = (
            max(self.config.clear_s, self.config.transition_s) + self.config.down_s
        )
        for tid in [t for t in self._persons if t not in ids]:
            person = self._persons[tid]
            gone_s = now - person.last_seen
            if person.episode.is_active and gone_s >= self.config.clear_s:
                signals.append(self._end(person, now))
            if not person.episode.is_active and gone_s > forget_after:
                del self._persons[tid]
        return signals

    def _end(self, person: _Person, now: float) -> RuleSignal:
        tid = self._track_of(person)
        signal = person.episode.end(now, self._attributes(person, tid, now))
        person.fallen_at = None
        person.standing_since = None
        return signal

    def _track_of(self, person: _Person) -> int:
        return next(t for t, p in self._persons.items() if p is person)

    def _attributes(
        self, person: _Person, tid: int, now: float
    ) -> dict[str, AttributeValue]:
        since = person.fallen_at if person.fallen_at is not None else now
        attributes: dict[str, AttributeValue] = {
            "track_id": str(tid),
            "down_s": round(now - since, 3),
            "drop_ratio": round(person.drop, 3),
            "is_held": person.is_held,
        }
        torso = person.reading.torso
        if torso is not None:
            attributes["torso_angle_deg"] = round(torso.angle_deg, 1)
        return attributes


def _rest_index(samples: Sequence[_Sample], lying_since: float) -> int:
    """Index of the first sample of the person's rest in the latest box: the
    run, up to the latest sample, of non-upright readings in about that box.

    Only a box as wide as a lying person's counts (a crouch is taller), and a
    rest that began more than `_REST_MAX_S` before the first lying reading is
    not the end of a fall (someone sitting still, then read as lying): then
    the rest counts from the latest sample only.
    """
    index = _rest_start(samples)
    if lying_since - samples[index].t > _REST_MAX_S:
        return len(samples) - 1
    return index


def _rest_start(samples: Sequence[_Sample]) -> int:
    """Index of the first of the latest run of non-upright readings in a
    lying-shaped box about the latest sample's (the latest sample itself is
    not judged)."""
    index = len(samples) - 1
    box = samples[index].xyxy
    while index > 0:
        before = samples[index - 1]
        if (
            before.is_upright
            or not _is_lying_shaped(before.xyxy)
            or box_ious(box, before.xyxy[None])[0] < _REST_IOU
        ):
            break
        index -= 1
    return index


def _rests_where_lying(person: _Person) -> bool:
    """Whether the person is at rest in a lying-shaped box, a rest that began
    within their latest lying spell (read lying during it, or coming to rest
    just after: still sliding down when read lying)."""
    history = person.samples
    if not history or history[-1].is_upright or not _is_lying_shaped(history[-1].xyxy):
        return False
    began = history[_rest_start(history)].t
    return began <= person.last_lying_at + person.lying_gap_s()


def _is_lying_shaped(xyxy: npt.NDArray[np.float32]) -> bool:
    width, height = float(xyxy[2] - xyxy[0]), float(xyxy[3] - xyxy[1])
    return width >= _REST_MIN_ASPECT * height


def _transition_start(samples: Sequence[_Sample], end: int, window_s: float) -> int:
    """Index of the earliest sample within `window_s` before `samples[end]`,
    not counting up to `_BLIND_MAX_S` of blind stretches (readings more than
    `_BLIND_AFTER_S` apart) in between."""
    blind_s = 0.0
    index = end
    while index > 0:
        gap_s = samples[index].t - samples[index - 1].t
        blind_s += max(0.0, gap_s - _BLIND_AFTER_S)
        elapsed_s = samples[end].t - samples[index - 1].t
        if elapsed_s - min(blind_s, _BLIND_MAX_S) > window_s:
            break
        index -= 1
    return index


def _is_up_again(person: _Person) -> bool:
    """Upright twice running, or once in a box no wider than tall.

    One upright pose reading of someone on the floor whose box is wider than
    tall is a misread (seen on subject_4_fall_02: a torso read at 20° in a box
    1.8 times wider than tall); ending the fall on it made the outcome hang on
    whether the sampler picked that frame.
    """
    if person.upright_run >= 2:
        return True
    width = float(person.xyxy[2] - person.xyxy[0])
    height = float(person.xyxy[3] - person.xyxy[1])
    return person.upright_run == 1 and height >= width


def persons_of(obs: ZoneObservation, labels: Collection[str]) -> PersonPoses:
    """The tracked persons of `labels` in the observation, with their poses
    (rows without a pose when the camera runs no pose stage)."""
    if obs.poses is not None:
        poses = obs.poses
        wanted = label_mask(poses.persons.class_id, obs.labels, labels)
        return poses.filter(wanted & (poses.persons.tracker_id >= 0))
    wanted = obs.mask_for(labels) & (obs.detections.tracker_id >= 0)
    persons = obs.detections.filter(wanted)
    n = len(persons)
    return PersonPoses(
        persons=persons,
        keypoints=empty_keypoints(n),
        has_pose=np.zeros(n, dtype=np.bool_),
        is_held=np.zeros(n, dtype=np.bool_),
    )


def _involved(persons: PersonPoses, row: int, obs: ZoneObservation) -> Involved:
    mask = np.arange(len(persons)) == row
    selected = persons.persons.filter(mask)
    class_id, tid = int(selected.class_id[0]), int(selected.tracker_id[0])
    label = obs.labels[class_id] if 0 <= class_id < len(obs.labels) else "person"
    return Involved(
        detections=selected,
        box_labels=(f"{label} #{tid}",),
        confidence=float(np.clip(selected.confidence[0], 0.0, 1.0)),
        box_norm=union_box_norm(selected.xyxy, obs.resolution_wh),
    )
