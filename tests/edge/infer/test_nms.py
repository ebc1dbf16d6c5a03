"""Tests for edge.infer.nms."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import numpy as np
import pytest

from edge.infer.nms import nms_class_aware

A = [0.0, 0.0, 10.0, 10.0]
A_SHIFTED = [1.0, 0.0, 11.0, 10.0]  # IoU with A = 90 / 110 = 0.818
B = [20.0, 20.0, 30.0, 30.0]
HALF = [5.0, 0.0, 15.0, 10.0]  # IoU with A = 50 / 150 = 1/3


@pytest.mark.parametrize(
    ("xyxy", "confidence", "class_id", "iou", "expected"),
    [
        ([], [], [], 0.5, []),
        ([A], [0.9], [0], 0.5, [0]),
        ([A, A_SHIFTED], [0.6, 0.9], [0, 0], 0.5, [1]),
        ([A, A_SHIFTED], [0.6, 0.9], [0, 1], 0.5, [1, 0]),
        ([A, B], [0.9, 0.8], [0, 0], 0.5, [0, 1]),
        ([A, HALF], [0.9, 0.8], [0, 0], 0.3, [0]),
        ([A, HALF], [0.9, 0.8], [0, 0], 1 / 3, [0, 1]),
        ([A, A_SHIFTED, HALF], [0.9, 0.8, 0.7], [0, 0, 0], 0.5, [0, 2]),
        ([A, A], [0.5, 0.5], [0, 0], 0.5, [0]),
        ([A, [5.0, 5.0, 5.0, 5.0]], [0.9, 0.8], [0, 0], 0.0, [0, 1]),
        ([[-20.0, -20.0, -10.0, -10.0], A], [0.9, 0.8], [3, 3], 0.5, [0, 1]),
    ],
)
def test_nms_class_aware_given_boxes_should_keep_expected_indices(
    xyxy: list[list[float]],
    confidence: list[float],
    class_id: list[int],
    iou: float,
    expected: list[int],
) -> None:
    keep = nms_class_aware(
        np.asarray(xyxy, dtype=np.float32).reshape(-1, 4),
        np.asarray(confidence, dtype=np.float32),
        np.asarray(class_id, dtype=np.int64),
        iou,
    )
    assert keep.dtype == np.int64
    assert keep.tolist() == expected


@pytest.mark.parametrize(
    ("n_boxes", "n_conf", "n_class", "iou", "expectation"),
    [
        (2, 2, 2, 0.5, nullcontext()),
        (2, 1, 2, 0.5, pytest.raises(ValueError, match="confidence")),
        (2, 2, 3, 0.5, pytest.raises(ValueError, match="class_id")),
        (2, 2, 2, 1.5, pytest.raises(ValueError, match="iou_threshold")),
    ],
)
def test_nms_class_aware_given_inconsistent_input_should_raise(
    n_boxes: int,
    n_conf: int,
    n_class: int,
    iou: float,
    expectation: AbstractContextManager[object],
) -> None:
    with expectation:
        nms_class_aware(
            np.tile(np.asarray([A], dtype=np.float32), (n_boxes, 1)),
            np.ones(n_conf, dtype=np.float32),
            np.zeros(n_class, dtype=np.int64),
            iou,
        )


def test_nms_class_aware_given_bad_box_shape_should_raise() -> None:
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        nms_class_aware(
            np.zeros((2, 5), dtype=np.float32),
            np.ones(2, dtype=np.float32),
            np.zeros(2, dtype=np.int64),
            0.5,
        )
