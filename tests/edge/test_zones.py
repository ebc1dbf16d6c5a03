"""Tests for edge/zones.py."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import pytest

from edge.types import Detections
from edge.zones import Zone, points_in_polygon

SQUARE = [(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8)]
L_SHAPE = [(0.0, 0.0), (1.0, 0.0), (1.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)]


@pytest.mark.parametrize(
    ("polygon", "points", "expected"),
    [
        (SQUARE, [], []),
        (SQUARE, [(0.5, 0.5)], [True]),
        (SQUARE, [(0.1, 0.5), (0.9, 0.5), (0.5, 0.1), (0.5, 0.9)], [False] * 4),
        (SQUARE, [(0.2, 0.5), (0.8, 0.8), (0.5, 0.2)], [True, True, True]),  # edges
        (L_SHAPE, [(0.25, 0.75), (0.75, 0.25), (0.75, 0.75)], [True, True, False]),
        (L_SHAPE, [(0.5, 0.75), (0.75, 0.5)], [True, True]),  # inner corner edges
        ([(0.0, 0.0), (1.0, 0.0), (0.5, 1.0)], [(0.5, 0.5), (0.1, 0.9)], [True, False]),
    ],
)
def test_points_in_polygon_given_points_should_return_membership(
    polygon: list[tuple[float, float]],
    points: list[tuple[float, float]],
    expected: list[bool],
) -> None:
    result = points_in_polygon(
        np.asarray(points, dtype=np.float32).reshape(-1, 2),
        np.asarray(polygon, dtype=np.float64),
    )
    assert result.dtype == np.bool_
    assert result.tolist() == expected


@pytest.mark.parametrize(
    ("points_shape", "polygon_shape", "expectation"),
    [
        ((3, 2), (4, 2), nullcontext()),
        ((3, 3), (4, 2), pytest.raises(ValueError, match="points")),
        ((3, 2), (2, 2), pytest.raises(ValueError, match="polygon")),
        ((3, 2), (4,), pytest.raises(ValueError, match="polygon")),
    ],
)
def test_points_in_polygon_given_shapes_should_validate(
    points_shape: tuple[int, ...],
    polygon_shape: tuple[int, ...],
    expectation: AbstractContextManager[Any],
) -> None:
    with expectation:
        points_in_polygon(np.zeros(points_shape), np.ones(polygon_shape))


@pytest.mark.parametrize(
    ("polygon", "boxes", "expected"),
    [
        (SQUARE, [], []),
        # bottom-centre (50, 50) of a 100x100 frame is inside; head outside is fine
        (SQUARE, [[40.0, 0.0, 60.0, 50.0]], [True]),
        (SQUARE, [[40.0, 50.0, 60.0, 95.0]], [False]),  # feet below the zone
        # box touching/passing the bottom border counts in the full-frame zone
        (
            [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)],
            [[10.0, 20.0, 30.0, 100.0], [70.0, 40.0, 110.0, 130.0]],
            [True, True],
        ),
    ],
)
def test_zone_contains_given_boxes_should_use_bottom_centre(
    polygon: list[tuple[float, float]], boxes: list[list[float]], expected: list[bool]
) -> None:
    zone = Zone.from_points("z1", polygon)
    dets = Detections.from_lists(boxes)
    assert zone.contains(dets, (100, 100)).tolist() == expected


def test_zone_given_too_few_points_should_raise() -> None:
    with pytest.raises(ValueError, match="'z1'"):
        Zone.from_points("z1", [(0.0, 0.0), (1.0, 1.0)])
