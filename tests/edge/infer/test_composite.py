"""Extra detectors (edge/infer/composite.py): one label space, boxes joined."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.config import parse_config
from edge.factory import load_detectors, with_extra_models
from edge.infer.composite import CompositeDetector, joined_labels
from edge.types import Detections


class FixedDetector:
    """Returns one box of `class_id` per image."""

    def __init__(self, name: str, labels: list[str], class_id: int) -> None:
        self.name = name
        self._labels = labels
        self._class_id = class_id

    @property
    def labels(self) -> list[str]:
        return self._labels

    def detect_batch(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        return [
            Detections.from_lists(
                [[1.0, 2.0, 3.0, 4.0]], confidence=[0.5], class_id=[self._class_id]
            )
            for _ in images
        ]


def test_labels_of_extra_models_follow_the_main_ones_clashes_renamed() -> None:
    labels = joined_labels(
        [("coco", ["person", "car"]), ("city_fire", ["fire", "smoke", "person"])]
    )
    assert labels == ["person", "car", "fire", "smoke", "city_fire:person"]


def test_composite_joins_boxes_with_class_ids_in_the_joined_space() -> None:
    main = FixedDetector("coco", ["person", "car"], class_id=1)
    fire = FixedDetector("city_fire", ["fire", "smoke"], class_id=1)
    composite = CompositeDetector(main, [fire])
    images = [np.zeros((8, 8, 3), np.uint8)] * 2
    results = composite.detect_batch(images)
    assert len(results) == 2
    assert [composite.labels[c] for c in results[0].class_id] == ["car", "smoke"]
    assert composite.name == "coco"
    with pytest.raises(ValueError, match="at least one extra"):
        CompositeDetector(main, [])


@pytest.mark.integration
def test_node_config_extra_model_runs_beside_the_main_one(
    models_dir: Path, videos_dir: Path
) -> None:
    config = parse_config(
        {
            "node_id": "n1",
            "models_dir": str(models_dir),
            "batch": {"workers": 1},
            "extra_models": [
                {"name": "nanodet_plus_416", "family": "nanodet", "labels": ["person"]}
            ],
            "cameras": [
                {
                    "id": "c1",
                    "url": "rtsp://127.0.0.1:1/x",
                    "location": {"lat": 23.1, "lon": 113.3},
                }
            ],
        },
        source="test",
    )
    [detector] = with_extra_models(config, load_detectors(config))
    assert "nanodet_plus_416:person" in detector.labels
    capture = cv2.VideoCapture(str(videos_dir / "one-by-one-person-detection.mp4"))
    capture.set(cv2.CAP_PROP_POS_MSEC, 8000)
    ok, frame = capture.read()
    capture.release()
    assert ok
    [found] = detector.detect_batch([np.asarray(frame, dtype=np.uint8)])
    names = {detector.labels[c] for c in found.class_id}
    assert {"person", "nanodet_plus_416:person"} <= names
