"""Zone polygons and vectorised point-in-polygon membership."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.types import Detections

_Edges = tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]

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
    return _points_in_edges(points, polygon_edges(polygon))


def polygon_edges(polygon: npt.NDArray[np.floating]) -> _Edges:
    """Edge endpoints (x1, y1, x2, y2) of a polygon, each shape (1, M), float64.

    Raises:
        ValueError: `polygon` is not shaped (M>=3, 2).
    """
    if polygon.ndim != 2 or polygon.shape[1] != 2 or polygon.shape[0] < 3:
        raise ValueError(f"polygon must have shape (M>=3, 2), got {polygon.shape}")
    x1 = polygon[:, 0].astype(np.float64)[None, :]
    y1 = polygon[:, 1].astype(np.float64)[None, :]
    return (x1, y1, np.roll(x1, -1, axis=1), np.roll(y1, -1, axis=1))


def _points_in_edges(
    points: npt.NDArray[np.floating], edges: _Edges
) -> npt.NDArray[np.bool_]:
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {points.shape}")
    px = points[:, 0:1].astype(np.float64)  # (N, 1) against (1, M) edges
    py = points[:, 1:2].astype(np.float64)
    x1, y1, x2, y2 = edges
    crosses = (y1 > py) != (y2 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at_y = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
    inside = np.count_nonzero(crosses & (px < x_at_y), axis=1) % 2 == 1
    return np.asarray(inside | _on_edge(px, py, edges), dtype=np.bool_)


def _on_edge(
    px: npt.NDArray[np.float64],
    py: npt.NDArray[np.float64],
    edges: _Edges,
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
    _edges: _Edges = field(init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            edges = polygon_edges(self.polygon_norm)
        except ValueError as error:
            raise ValueError(f"zone {self.zone_id!r}: {error}") from None
        object.__setattr__(self, "_edges", edges)

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
        return self.contains_anchors(anchors_norm(detections, resolution_wh))

    def contains_anchors(
        self, anchors: npt.NDArray[np.floating]
    ) -> npt.NDArray[np.bool_]:
        """Which normalised (N, 2) anchor points lie inside the zone."""
        if anchors.shape[0] == 0:
            return np.zeros(0, dtype=np.bool_)
        return _points_in_edges(anchors, self._edges)


def anchors_norm(
    detections: Detections, resolution_wh: tuple[int, int]
) -> npt.NDArray[np.float32]:
    """Bottom-centre anchors, normalised and clipped to the frame, shape (N, 2)."""
    if len(detections) == 0:
        return np.zeros((0, 2), dtype=np.float32)
    return np.clip(detections.bottom_centers_norm(resolution_wh), 0.0, 1.0)
