"""Tests for the occupancy rule's inert-track exclusion (edge/rules/occupancy.py)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from edge.config import CameraConfig
from edge.rules.base import FramePixels, RuleScope, ZoneObservation
from edge.rules.engine import CameraRules
from edge.rules.occupancy import OccupancyRule, OccupancyRuleConfig
from edge.types import Detections, Frame

LABELS = ("person", "bicycle", "car")
W, H = 320, 240
STATUE = [100.0, 60.0, 140.0, 180.0]  # a person-shaped box that never moves
T0 = 1_700_000_000.0


def _scene(rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """A textured background with a 'statue' (a fixed pattern) in its box."""
    image = np.full((H, W, 3), 90, dtype=np.uint8)
    image[60:180, 100:140] = rng.integers(0, 255, size=(120, 40, 3), dtype=np.uint8)
    return image


def _rule(**config: object) -> OccupancyRule:
    return OccupancyRule(
        OccupancyRuleConfig.model_validate({"labels": ["person", "car"], **config}),
        scope=RuleScope("cam-1", "z1", 0),
    )


def _observe(
    t: float,
    image: npt.NDArray[np.uint8],
    boxes: list[list[float]],
    *,
    class_ids: list[int] | None = None,
    tracker_ids: list[int] | None = None,
) -> ZoneObservation:
    n = len(boxes)
    detections = Detections.from_lists(
        boxes,
        class_id=class_ids or [0] * n,
        tracker_id=tracker_ids or list(range(1, n + 1)),
    )
    return ZoneObservation(
        camera_id="cam-1",
        zone_id="z1",
        timestamp=T0 + t,
        resolution_wh=(W, H),
        detections=detections,
        labels=LABELS,
        pixels=FramePixels(
            bgr=image,
            scale=1.0,
            zone_mask=np.ones((H, W), dtype=np.bool_),
            detections=detections,
        ),
    )


def _counts(rule: OccupancyRule, frames: list[ZoneObservation]) -> list[int]:
    out = []
    for obs in frames:
        rule.update(obs)
        out.append(rule.occupancy()["person"])
    return out


def test_inert_given_unchanging_person_box_should_stop_counting_after_inert_s() -> None:
    image = _scene(np.random.default_rng(1))
    frames = [_observe(t * 0.5, image, [STATUE]) for t in range(25)]  # 12 s

    counts = _counts(_rule(inert_after_s=10), frames)

    assert counts[:20] == [1] * 20  # 0 .. 9.5 s
    assert counts[20:] == [0] * 5  # 10 s on


def test_inert_given_sensor_noise_should_still_find_the_statue() -> None:
    rng = np.random.default_rng(2)
    base = _scene(rng).astype(np.int16)
    frames = []
    for i in range(25):
        noise = rng.normal(0, 7, size=(H, W, 1)).astype(np.int16)
        noisy = np.clip(base + noise, 0, 255).astype(np.uint8)
        frames.append(_observe(i * 0.5, noisy, [STATUE]))

    assert _counts(_rule(inert_after_s=10), frames)[-1] == 0


def test_inert_given_person_standing_still_but_moving_a_little_should_count() -> None:
    rng = np.random.default_rng(3)
    image = _scene(rng)
    frames = []
    for i in range(60):
        moving = image.copy()
        # a body sways by a pixel or two: the box stays, its texture shifts
        shift = int(rng.integers(-2, 3))
        moving[60:180, 100:140] = np.roll(image[60:180, 100:140], shift, axis=1)
        frames.append(_observe(i * 0.5, moving, [STATUE]))

    assert _counts(_rule(inert_after_s=10), frames) == [1] * 60


def test_inert_given_people_walking_past_should_not_wake_the_statue() -> None:
    image = _scene(np.random.default_rng(4))
    frames = []
    for i in range(25):
        passer = [80.0 + 2 * i, 50.0, 130.0 + 2 * i, 200.0]  # covers most of it
        scene = image.copy()
        boxes = [STATUE]
        if 5 <= i < 15:
            scene[50:200, int(passer[0]) : int(passer[2])] = 30 + 5 * i
            boxes.append(passer)
        frames.append(_observe(i * 0.5, scene, boxes, tracker_ids=[1, 2][: len(boxes)]))

    counts = _counts(_rule(inert_after_s=10), frames)

    assert counts[-1] == 0  # the statue is left out once 10 s have passed


def test_inert_given_box_moves_should_restart_the_clock() -> None:
    image = _scene(np.random.default_rng(5))
    moved = [160.0, 60.0, 200.0, 180.0]
    frames = [_observe(i * 0.5, image, [STATUE]) for i in range(22)]
    frames += [_observe(11 + i * 0.5, image, [moved]) for i in range(4)]

    counts = _counts(_rule(inert_after_s=10), frames)

    assert counts[21] == 0 and counts[22:] == [1] * 4


@pytest.mark.parametrize(
    "config", [{"inert_after_s": 0}, {"inert_after_s": 10, "inert_labels": []}]
)
def test_inert_given_switched_off_should_count_everything(
    config: dict[str, object],
) -> None:
    image = _scene(np.random.default_rng(6))
    frames = [_observe(i * 0.5, image, [STATUE]) for i in range(30)]

    assert _counts(_rule(**config), frames) == [1] * 30


def test_inert_given_parked_car_should_keep_counting_it() -> None:
    image = _scene(np.random.default_rng(7))
    rule = _rule(inert_after_s=10)
    for i in range(30):
        rule.update(_observe(i * 0.5, image, [STATUE], class_ids=[2]))

    assert rule.occupancy() == {"person": 0, "car": 1}


def test_engine_should_hand_occupancy_the_pixels_it_needs() -> None:
    camera = CameraConfig.model_validate(
        {
            "id": "cam-1",
            "url": "rtsp://h/x",
            "location": {"lat": 1, "lon": 2},
            "zones": [
                {"id": "z1", "rules": [{"type": "occupancy", "inert_after_s": 5}]}
            ],
        }
    )
    rules = CameraRules.from_config(camera)
    image = _scene(np.random.default_rng(8))
    statue = Detections.from_lists([STATUE], class_id=[0], tracker_id=[1])
    counts = []
    for i in range(14):
        frame = Frame(camera_id="cam-1", index=i, captured_at=T0 + i * 0.5, image=image)
        counts.append(rules.update(frame, statue, LABELS).occupancy["z1"]["person"])

    assert counts[:10] == [1] * 10 and counts[-1] == 0
