"""Tests for edge/pipeline/object_filter.py and the `objects.filters` config."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edge.config import CameraConfig, ConfigError, ObjectFilterConfig, parse_config
from edge.pipeline.object_filter import ObjectFilter
from edge.types import Detections

LABELS = ("person", "bicycle", "car")
RESOLUTION_WH = (1000, 500)  # 500,000 px


def _filter(**filters: dict[str, Any]) -> ObjectFilter:
    return ObjectFilter.from_config(
        {label: ObjectFilterConfig.model_validate(c) for label, c in filters.items()},
        labels=LABELS,
        camera_id="cam-1",
    )


def _kept(object_filter: ObjectFilter, detections: Detections) -> list[int]:
    """Row numbers (by confidence*1000 marker) of the detections kept."""
    out = object_filter.apply(detections, RESOLUTION_WH)
    return [round(float(c) * 1000) for c in out.confidence]


def test_apply_given_no_filters_should_return_input_unchanged() -> None:
    detections = Detections.from_lists([[0, 0, 10, 10]], confidence=[0.1])
    assert ObjectFilter.none().apply(detections, RESOLUTION_WH) is detections


def test_apply_given_min_score_should_drop_only_that_labels_low_scores() -> None:
    detections = Detections.from_lists(
        [[0, 0, 10, 20]] * 3, confidence=[0.301, 0.702, 0.303], class_id=[0, 0, 2]
    )
    assert _kept(_filter(person={"min_score": 0.5}), detections) == [702, 303]


def test_apply_given_area_bounds_in_px_and_share_should_keep_the_middle() -> None:
    # areas: 100 px, 10,000 px (2% of the frame), 250,000 px (50%)
    boxes = [[0.0, 0, 10, 10], [0.0, 0, 100, 100], [0.0, 0, 500, 500]]
    detections = Detections.from_lists(boxes, confidence=[0.001, 0.002, 0.003])
    assert _kept(_filter(person={"min_area_px": 101}), detections) == [2, 3]
    assert _kept(_filter(person={"max_area_norm": 0.1}), detections) == [1, 2]
    assert _kept(
        _filter(person={"min_area_norm": 0.01, "max_area_px": 20_000}), detections
    ) == [2]


def test_apply_given_ratio_bounds_should_drop_wide_person_boxes() -> None:
    # width / height: 0.4 (standing), 1.0, 3.0 (a bench read as a person)
    boxes = [[0.0, 0, 40, 100], [0.0, 0, 100, 100], [0.0, 0, 300, 100]]
    detections = Detections.from_lists(boxes, confidence=[0.001, 0.002, 0.003])
    assert _kept(_filter(person={"max_ratio": 1.5}), detections) == [1, 2]
    assert _kept(_filter(person={"min_ratio": 0.5, "max_ratio": 2}), detections) == [2]


def test_apply_given_mask_should_drop_boxes_standing_in_it() -> None:
    # The mask covers the right half; only the bottom-centre decides.
    mask = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]
    boxes = [[100.0, 100, 200, 300], [600.0, 100, 700, 300], [400.0, 100, 700, 300]]
    detections = Detections.from_lists(
        boxes, confidence=[0.001, 0.002, 0.003], class_id=[0, 0, 0]
    )
    # third box: centre x 550 px = 0.55, inside the mask although it starts left
    assert _kept(_filter(person={"masks_norm": [mask]}), detections) == [1]
    cars = Detections.from_lists(
        boxes, confidence=[0.001, 0.002, 0.003], class_id=[2] * 3
    )
    assert _kept(_filter(person={"masks_norm": [mask]}), cars) == [1, 2, 3]


def test_from_config_given_unknown_label_should_name_it_and_suggest() -> None:
    with pytest.raises(ValueError, match=r"objects.filters.persn.*did you mean person"):
        _filter(persn={"min_score": 0.5})


def _node(objects: dict[str, Any]) -> dict[str, Any]:
    camera = {"id": "c1", "url": "rtsp://h/x", "location": {"lat": 1, "lon": 2}}
    return {"node_id": "n1", "cameras": [{**camera, "objects": objects}]}


def test_config_given_filters_should_parse_them() -> None:
    config = parse_config(
        _node(
            {
                "filters": {
                    "person": {
                        "min_score": 0.6,
                        "max_ratio": 1.2,
                        "masks_norm": [[[0, 0], [0.2, 0], [0.2, 0.3]]],
                    }
                }
            }
        )
    )
    person = config.cameras[0].objects.filters["person"]
    assert person.min_score == 0.6 and person.max_ratio == 1.2
    assert len(person.masks_norm) == 1


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        ({"filters": {"person": {"min_scor": 0.5}}}, "min_scor: Extra inputs"),
        ({"filters": {"person": {"min_score": 1.5}}}, "min_score"),
        (
            {"filters": {"car": {"min_area_px": 500, "max_area_px": 100}}},
            r"filter 'car': min_area_px \(500.0\) must not exceed max_area_px",
        ),
        (
            {"filters": {"person": {"min_ratio": 2, "max_ratio": 1}}},
            "min_ratio",
        ),
        (
            {"filters": {"person": {"masks_norm": [[[0, 0], [1, 1]]]}}},
            "masks_norm.0",
        ),
        (
            {"filters": {"person": {"masks_norm": [[[0, 0], [1.2, 1], [0, 1]]]}}},
            "masks_norm.0.1.0",
        ),
    ],
)
def test_config_given_bad_filter_should_raise_naming_the_field(
    objects: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(_node(objects))


def test_camera_analysis_given_filter_should_keep_masked_boxes_from_tracker() -> None:
    from edge.pipeline.camera import CameraAnalysis
    from edge.pose.movenet import PoseModels
    from edge.types import Frame

    camera = CameraConfig.model_validate(
        {
            "id": "c1",
            "url": "rtsp://h/x",
            "location": {"lat": 1, "lon": 2},
            "objects": {"filters": {"person": {"min_area_px": 5000}}},
            "zones": [{"id": "all", "rules": [{"type": "occupancy"}]}],
        }
    )
    analysis = CameraAnalysis.from_camera(
        camera, labels=LABELS, pose_models=PoseModels(models_dir=None)
    )
    image = np.zeros((500, 1000, 3), dtype=np.uint8)
    small_and_big = Detections.from_lists(
        [[10, 10, 30, 60], [300, 100, 400, 300]], confidence=[0.9, 0.9]
    )
    counts = []
    for i in range(4):  # the tracker confirms a track on its second frame
        frame = Frame(camera_id="c1", index=i, captured_at=100.0 + i, image=image)
        step = analysis.step(frame, small_and_big)
        counts.append(step.rules.occupancy["all"]["person"])
    assert counts[-1] == 1
    assert all(step.tracked.xyxy[:, 0] >= 300)
