"""Tests for edge/pose/stage.py with a scripted pose estimator on synthetic frames."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pytest

from edge.pose.movenet import square_crops
from edge.pose.stage import ADOPTED_ID_BASE, PoseSettings, PoseStage, keypoint_box
from edge.pose.types import PersonPoses, box_ious, empty_keypoints
from edge.types import Detections, Frame
from edge.zones import Zone
from tests.edge.pose.skeletons import Person, person
from tests.edge.rules.factories import LABELS, T0

PERSON, CAR = 0, 2
FULL = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
LEFT_HALF = [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]
WH = (1280, 720)


@dataclass
class ScriptedEstimator:
    """Finds the scripted person whose box centre is in a crop, nearest to its
    centre; records the boxes of every call."""

    people: list[Person] = field(default_factory=list)
    calls: list[npt.NDArray[np.float32]] = field(default_factory=list)

    def estimate(
        self,
        image: npt.NDArray[np.uint8],
        boxes_xyxy: npt.NDArray[np.float32],
        *,
        margins: npt.NDArray[np.float32],
    ) -> npt.NDArray[np.float32]:
        self.calls.append(boxes_xyxy.copy())
        keypoints = empty_keypoints(len(boxes_xyxy))
        for i, (x0, y0, side) in enumerate(square_crops(boxes_xyxy, margins)):
            centre = np.array([x0 + side / 2, y0 + side / 2])
            inside = [
                (float(np.linalg.norm(mid - centre)), j)
                for j, mid in enumerate(
                    (body.xyxy[:2] + body.xyxy[2:]) / 2 for body in self.people
                )
                if x0 <= mid[0] <= x0 + side and y0 <= mid[1] <= y0 + side
            ]
            if inside:
                keypoints[i] = self.people[min(inside)[1]].keypoints
        return keypoints


def _texture(seed: int) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, size=(72, 128, 3), dtype=np.uint8)
    return np.asarray(np.repeat(np.repeat(small, 10, axis=0), 10, axis=1))


STILL = _texture(1)


def _frame(t: float, image: npt.NDArray[np.uint8] = STILL) -> Frame:
    return Frame(
        camera_id="cam-1", index=round(t * 10), captured_at=T0 + t, image=image
    )


def _tracked(
    bodies: list[Person], ids: list[int], classes: list[int] | None = None
) -> Detections:
    n = len(bodies)
    return Detections.from_lists(
        [b.xyxy.tolist() for b in bodies],
        confidence=[0.8] * n,
        class_id=classes if classes is not None else [PERSON] * n,
        tracker_id=ids,
    )


def _stage(
    estimator: ScriptedEstimator,
    *,
    zone: list[tuple[float, float]] = FULL,
    **settings: float,
) -> PoseStage:
    return PoseStage(
        camera_id="cam-1",
        zones=[Zone.from_points("z1", zone)],
        labels={"person"},
        estimator=estimator,
        settings=PoseSettings(**settings),  # type: ignore[arg-type]
    )


def _ids(poses: PersonPoses) -> list[int]:
    return [int(t) for t in poses.persons.tracker_id]


def test_update_given_no_person_should_return_empty_without_estimating() -> None:
    estimator = ScriptedEstimator()
    poses = _stage(estimator).update(_frame(0.0), Detections.empty(), LABELS)
    assert len(poses) == 0
    assert estimator.calls == []


def test_update_given_persons_should_estimate_only_persons_in_zones() -> None:
    bodies = [person("standing", x=x) for x in (150.0, 350.0, 550.0, 1000.0)]
    estimator = ScriptedEstimator(people=bodies)
    tracked = _tracked(bodies, ids=[1, -1, 3, 4], classes=[PERSON, PERSON, CAR, PERSON])
    poses = _stage(estimator, zone=LEFT_HALF).update(_frame(0.0), tracked, LABELS)
    # the car and the person outside the left half are skipped; the untracked
    # person is followed under an id of the stage's own, once the pose is found
    assert _ids(poses) == [1, ADOPTED_ID_BASE]
    assert poses.has_pose.tolist() == [True, True]
    assert poses.is_held.tolist() == [False, True]
    np.testing.assert_allclose(poses.keypoints[0], bodies[0].keypoints)
    assert [len(c) for c in estimator.calls] == [2]


def test_update_given_untracked_box_without_person_should_not_retry_soon() -> None:
    body = person("lying")
    estimator = ScriptedEstimator()  # the pose model finds nobody
    stage = _stage(estimator, hold_miss_s=1.0)
    untracked = _tracked([body], ids=[-1])
    rows = [len(stage.update(_frame(t), untracked, LABELS)) for t in (0.0, 0.5, 1.1)]
    assert rows == [0, 0, 0]
    assert [len(c) for c in estimator.calls] == [1, 1]  # again after hold_miss_s


def test_update_given_part_of_a_held_person_untracked_should_not_follow_it_twice() -> (
    None
):
    lying = person("lying")
    estimator = ScriptedEstimator(people=[lying])
    stage = _stage(estimator)
    stage.update(_frame(0.0), _tracked([lying], ids=[5]), LABELS)
    stage.update(_frame(0.1), Detections.empty(), LABELS)
    x1, y1, _, y2 = lying.xyxy.tolist()
    head = Detections.from_lists([[x1, y1, x1 + 60.0, y2]], class_id=[PERSON])
    poses = stage.update(_frame(0.2), head, LABELS)
    assert _ids(poses) == [5]


def test_update_given_more_persons_than_budget_should_take_turns() -> None:
    bodies = [person("standing", x=100.0 + 180.0 * i) for i in range(6)]
    estimator = ScriptedEstimator(people=bodies)
    stage = _stage(estimator, max_crops_per_frame=4, min_interval_s=0.0)
    tracked = _tracked(bodies, ids=list(range(6)))
    first = stage.update(_frame(0.0), tracked, LABELS)
    second = stage.update(_frame(0.1), tracked, LABELS)
    assert first.has_pose.tolist() == [True] * 4 + [False] * 2
    assert second.has_pose.tolist()[4:] == [True, True]  # the waiting ones first
    assert np.count_nonzero(second.has_pose) == 4
    assert not first.keypoints[4:].any()


def test_update_given_min_interval_should_skip_recent_persons() -> None:
    body = person("standing")
    estimator = ScriptedEstimator(people=[body])
    stage = _stage(estimator, min_interval_s=0.15)
    tracked = _tracked([body], ids=[1])
    has_pose = [
        bool(stage.update(_frame(t), tracked, LABELS).has_pose[0])
        for t in (0.0, 0.1, 0.2, 0.3, 0.4)
    ]
    assert has_pose == [True, False, True, False, True]


def test_update_given_low_person_lost_should_hold_them_by_pose() -> None:
    lying = person("lying")
    estimator = ScriptedEstimator(people=[lying])
    stage = _stage(estimator)
    stage.update(_frame(0.0), _tracked([lying], ids=[5]), LABELS)
    poses = stage.update(_frame(0.1), Detections.empty(), LABELS)
    assert _ids(poses) == [5]
    assert poses.is_held.tolist() == [True]
    assert poses.has_pose.tolist() == [True]
    found = lying.keypoints[:, :2]
    np.testing.assert_allclose(poses.persons.xyxy[0], keypoint_box(found))
    assert poses.persons.class_id.tolist() == [PERSON]
    assert stage.held_count == 1


def test_update_given_held_person_missed_and_region_changed_should_drop_them() -> None:
    lying = person("lying")
    estimator = ScriptedEstimator(people=[lying])
    stage = _stage(estimator, hold_miss_s=0.5)
    stage.update(_frame(0.0), _tracked([lying], ids=[5]), LABELS)
    stage.update(_frame(0.1), Detections.empty(), LABELS)
    estimator.people = []  # gone: the pose run finds nobody, the picture changes
    kept = [
        _ids(
            stage.update(_frame(t, _texture(round(t * 10))), Detections.empty(), LABELS)
        )
        for t in (0.2, 0.4, 0.6, 0.7)
    ]
    assert kept == [[5], [5], [5], []]  # dropped once unseen for over 0.5 s
    assert stage.held_count == 0


def test_update_given_held_person_missed_but_still_should_keep_them() -> None:
    lying = person("lying")
    estimator = ScriptedEstimator(people=[lying])
    stage = _stage(estimator, hold_miss_s=0.5)
    stage.update(_frame(0.0), _tracked([lying], ids=[5]), LABELS)
    stage.update(_frame(0.1), Detections.empty(), LABELS)
    estimator.people = []  # the pose model misses them; nothing in the picture moves
    for t in (0.5, 1.0, 1.5, 2.0):
        poses = stage.update(_frame(t), Detections.empty(), LABELS)
        assert _ids(poses) == [5]
        assert poses.has_pose.tolist() == [False]
        assert not poses.keypoints.any()


def test_update_given_standing_person_lost_and_not_found_should_drop_them() -> None:
    standing = person("standing")
    estimator = ScriptedEstimator(people=[standing])
    stage = _stage(estimator)
    stage.update(_frame(0.0), _tracked([standing], ids=[5]), LABELS)
    estimator.people = []  # walked out
    poses = stage.update(_frame(0.1), Detections.empty(), LABELS)
    assert len(poses) == 0
    assert stage.held_count == 0


def test_update_given_two_holds_led_onto_one_person_should_merge_them() -> None:
    lying, sitting = person("lying", x=200.0), person("sitting_floor", x=260.0)
    estimator = ScriptedEstimator(people=[lying, sitting])
    stage = _stage(estimator)
    stage.update(_frame(0.0), _tracked([lying, sitting], ids=[5, 6]), LABELS)
    estimator.people = [lying]  # both crops now find the same person
    poses = stage.update(_frame(0.1), Detections.empty(), LABELS)
    assert _ids(poses) == [5]


def test_update_given_new_track_over_held_person_should_end_the_hold() -> None:
    lying = person("lying")
    estimator = ScriptedEstimator(people=[lying])
    stage = _stage(estimator)
    stage.update(_frame(0.0), _tracked([lying], ids=[5]), LABELS)
    stage.update(_frame(0.1), Detections.empty(), LABELS)
    poses = stage.update(_frame(0.2), _tracked([lying], ids=[9]), LABELS)
    assert _ids(poses) == [9]
    assert not poses.is_held.any()


def test_update_given_hold_longer_than_max_should_drop_it() -> None:
    lying = person("lying")
    stage = _stage(ScriptedEstimator(people=[lying]), max_hold_s=1.0)
    stage.update(_frame(0.0), _tracked([lying], ids=[5]), LABELS)
    held = [
        _ids(stage.update(_frame(t), Detections.empty(), LABELS))
        for t in (0.1, 1.0, 1.2)
    ]
    assert held == [[5], [5], []]


def test_reset_should_forget_every_person() -> None:
    lying = person("lying")
    stage = _stage(ScriptedEstimator(people=[lying]))
    stage.update(_frame(0.0), _tracked([lying], ids=[5]), LABELS)
    stage.reset()
    assert len(stage.update(_frame(0.1), Detections.empty(), LABELS)) == 0


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({}, None),
        ({"max_crops_per_frame": 0}, "max_crops_per_frame"),
        ({"min_keypoints": 2}, "min_keypoints"),
        ({"hold_miss_s": -1.0}, "hold_miss_s"),
    ],
)
def test_settings_given_values_should_validate(
    settings: dict[str, float], error: str | None
) -> None:
    if error is None:
        PoseSettings(**settings)  # type: ignore[arg-type]
        return
    with pytest.raises(ValueError, match=error):
        PoseSettings(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("zones", "labels", "error"),
    [([], {"person"}, "zone"), ([Zone.from_points("z", FULL)], set(), "labels")],
)
def test_stage_given_nothing_to_watch_should_raise(
    zones: list[Zone], labels: set[str], error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        PoseStage(
            camera_id="cam-1", zones=zones, labels=labels, estimator=ScriptedEstimator()
        )


@pytest.mark.parametrize(
    ("box", "others", "expected"),
    [
        ((0, 0, 10, 10), [], []),
        ((0, 0, 10, 10), [(0, 0, 10, 10), (5, 0, 15, 10), (20, 20, 30, 30)],
         [1.0, 1 / 3, 0.0]),
    ],
)  # fmt: skip
def test_box_ious_given_boxes_should_return_iou_each(
    box: tuple[float, ...], others: list[tuple[float, ...]], expected: list[float]
) -> None:
    result = box_ious(
        np.asarray(box, dtype=np.float32),
        np.asarray(others, dtype=np.float32).reshape(-1, 4),
    )
    np.testing.assert_allclose(result, expected, rtol=1e-6)
