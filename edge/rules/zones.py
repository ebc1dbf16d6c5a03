"""Zone polygons and vectorised point-in-polygon membership."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.types import Detections

# Points closer than this (normalised units) to an edge count as inside, so a box
# touching the frame border still belongs to the default full-frame zone.
_EDGE_EPS = 1e-6


def points_in_polygon(
    points: npt.NDArray[np.floating], polygon: npt.NDArray[np.floating]
) -> npt.NDArray[np.bool_]:
    """Test which points lie inside a polygon (even-odd rule, edges inclusive).

    Args:
        points: Query points, shape (N, 2), any float dtype, same units as polygon.
        polygon: Polygon vertices in order, shape (M, 2), M >= 3; not closed.

    Returns:
        Boolean mask, shape (N,), true where the point is inside or on an edge.

    Raises:
        ValueError: `points` or `polygon` has the wrong shape.
    """
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {points.shape}")
    if polygon.ndim != 2 or polygon.shape[1] != 2 or polygon.shape[0] < 3:
        raise ValueError(f"polygon must have shape (M>=3, 2), got {polygon.shape}")
    px = points[:, 0:1].astype(np.float64)  # (N, 1)
    py = points[:, 1:2].astype(np.float64)
    x1 = polygon[:, 0].astype(np.float64)[None, :]  # (1, M)
    y1 = polygon[:, 1].astype(np.float64)[None, :]
    x2 = np.roll(x1, -1, axis=1)
    y2 = np.roll(y1, -1, axis=1)
    crosses = (y1 > py) != (y2 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at_y = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
    inside = np.count_nonzero(crosses & (px < x_at_y), axis=1) % 2 == 1
    return np.asarray(inside | _on_edge(px, py, (x1, y1, x2, y2)), dtype=np.bool_)


def _on_edge(
    px: npt.NDArray[np.float64],
    py: npt.NDArray[np.float64],
    edges: tuple[npt.NDArray[np.float64], ...],
) -> npt.NDArray[np.bool_]:
    x1, y1, x2, y2 = edges
    cross = (x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)
    length = np.hypot(x2 - x1, y2 - y1)
    near_line = np.abs(cross) <= _EDGE_EPS * np.maximum(length, _EDGE_EPS)
    within_x = (px >= np.minimum(x1, x2) - _EDGE_EPS) & (
        px <= np.maximum(x1, x2) + _EDGE_EPS
    )
    within_y = (py >= np.minimum(y1, y2) - _EDGE_EPS) & (
        py <= np.maximum(y1, y2) + _EDGE_EPS
    )
    return np.asarray(np.any(near_line & within_x & within_y, axis=1), dtype=np.bool_)


@dataclass(frozen=True, slots=True, eq=False)
class Zone:
    """A named polygon in normalised image coordinates.

    Attributes:
        zone_id: Zone id from the camera config.
        polygon_norm: Vertices, shape (M, 2), float64, each in [0, 1].
    """

    zone_id: str
    polygon_norm: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        shape = self.polygon_norm.shape
        if self.polygon_norm.ndim != 2 or shape[1] != 2 or shape[0] < 3:
            raise ValueError(
                f"zone {self.zone_id!r}: polygon_norm must have shape (M>=3, 2), "
                f"got {shape}"
            )

    @classmethod
    def from_points(cls, zone_id: str, points: Sequence[tuple[float, float]]) -> Zone:
        """Build a zone from (x, y) normalised vertices."""
        return cls(zone_id=zone_id, polygon_norm=np.asarray(points, dtype=np.float64))

    def contains(
        self, detections: Detections, resolution_wh: tuple[int, int]
    ) -> npt.NDArray[np.bool_]:
        """Which detections have their bottom-centre anchor inside the zone.

        Anchors are clipped to the frame first, so boxes reaching past the border
        still count.

        Args:
            detections: Boxes in pixels of a frame of size `resolution_wh`.
            resolution_wh: Frame (width, height) in pixels.

        Returns:
            Boolean mask, shape (N,).
        """
        if len(detections) == 0:
            return np.zeros(0, dtype=np.bool_)
        anchors = np.clip(detections.bottom_centers_norm(resolution_wh), 0.0, 1.0)
        return points_in_polygon(anchors, self.polygon_norm)
