"""Per-camera object filters: drop detections by score, area, aspect ratio or mask."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.config import CameraConfig, ConfigError, ObjectFilterConfig
from edge.types import Detections
from edge.zones import Zone, anchors_norm


@dataclass(frozen=True, slots=True, eq=False)
class _LabelFilter:
    class_id: int
    config: ObjectFilterConfig
    masks: tuple[Zone, ...]

    def rejects(
        self, detections: Detections, resolution_wh: tuple[int, int]
    ) -> npt.NDArray[np.bool_]:
        """Rows of this label that fail a bound, shape (N,)."""
        c = self.config
        xyxy = detections.xyxy.astype(np.float64)
        width = np.maximum(xyxy[:, 2] - xyxy[:, 0], 0.0)
        height = np.maximum(xyxy[:, 3] - xyxy[:, 1], 0.0)
        area = width * height
        frame_area = float(max(resolution_wh[0] * resolution_wh[1], 1))
        ratio = width / np.maximum(height, 1e-6)
        bad = detections.confidence < c.min_score
        bad |= area < c.min_area_px
        bad |= area / frame_area < c.min_area_norm
        bad |= area / frame_area > c.max_area_norm
        bad |= ratio < c.min_ratio
        if c.max_area_px is not None:
            bad |= area > c.max_area_px
        if c.max_ratio is not None:
            bad |= ratio > c.max_ratio
        if self.masks:
            anchors = anchors_norm(detections, resolution_wh)
            for mask in self.masks:
                bad |= mask.contains_anchors(anchors)
        mine: npt.NDArray[np.bool_] = detections.class_id == self.class_id
        return mine & bad


class ObjectFilter:
    """Drops the detections a camera's `objects.filters` rule out.

    Stateless and cheap (a few array operations per label); a camera without
    filters gets `ObjectFilter.none()`, which returns its input unchanged.
    """

    def __init__(self, filters: Sequence[_LabelFilter] = ()) -> None:
        self._filters = tuple(filters)

    @classmethod
    def none(cls) -> ObjectFilter:
        return cls()

    @classmethod
    def from_config(
        cls,
        filters: Mapping[str, ObjectFilterConfig],
        *,
        labels: Sequence[str],
        camera_id: str = "",
    ) -> ObjectFilter:
        """Resolve each filter's label to the model's class id.

        Raises:
            ConfigError: A filter names a label the model does not have (the
                node stops with this message, like any config error).
        """
        index = {name: i for i, name in enumerate(labels)}
        built = []
        for label, config in filters.items():
            if label not in index:
                close = difflib.get_close_matches(label, list(index), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise ConfigError(
                    f"camera {camera_id!r}: objects.filters.{label}: the model has "
                    f"no label {label!r} ({len(index)} labels){hint}"
                )
            masks = tuple(
                Zone.from_points(f"{label}-mask-{n}", polygon)
                for n, polygon in enumerate(config.masks_norm)
            )
            built.append(_LabelFilter(index[label], config, masks))
        return cls(built)

    @classmethod
    def from_camera(
        cls, camera: CameraConfig, *, labels: Sequence[str]
    ) -> ObjectFilter:
        return cls.from_config(
            camera.objects.filters, labels=labels, camera_id=camera.id
        )

    def __bool__(self) -> bool:
        return bool(self._filters)

    def apply(
        self, detections: Detections, resolution_wh: tuple[int, int]
    ) -> Detections:
        """The detections every filter of their label lets through.

        Args:
            detections: One frame's boxes in pixels.
            resolution_wh: Frame (width, height) in pixels.
        """
        if not self._filters or len(detections) == 0:
            return detections
        rejected = np.zeros(len(detections), dtype=np.bool_)
        for item in self._filters:
            rejected |= item.rejects(detections, resolution_wh)
        if not rejected.any():
            return detections
        return detections.filter(~rejected)
