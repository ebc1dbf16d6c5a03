"""Extra detectors beside the node's main one, as one detector to the pipeline.

A city adds its own model (fire/smoke, overflowing bins, …) by listing it under
`extra_models` in the node config; rules then use its labels like any other
(e.g. a `presence` rule). Each batch runs through the main detector and then
every extra one; their boxes are joined into one `Detections` whose class ids
index one joined label list. An extra label that the main model already has is
renamed `<model name>:<label>` so the two never mix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edge.infer.base import BatchDetector
from edge.types import Detections


def joined_labels(models: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """One label list for `models` ((name, labels), main first), clashes renamed."""
    labels: list[str] = []
    for index, (name, own) in enumerate(models):
        taken = set(labels)
        labels.extend(
            f"{name}:{label}" if index and label in taken else label for label in own
        )
    return labels


class CompositeDetector:
    """The main detector followed by the extra ones, with one label space."""

    def __init__(self, main: BatchDetector, extras: Sequence[BatchDetector]) -> None:
        if not extras:
            raise ValueError("a composite detector needs at least one extra detector")
        self._detectors = [main, *extras]
        self.name = main.name
        self._labels = joined_labels([(d.name, d.labels) for d in self._detectors])
        sizes = [len(d.labels) for d in self._detectors]
        self._offsets = [int(sum(sizes[:i])) for i in range(len(sizes))]

    @property
    def labels(self) -> list[str]:
        return self._labels

    def detect_batch(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        per_model = [d.detect_batch(images) for d in self._detectors]
        return [
            _join(
                [
                    (results[i], offset)
                    for results, offset in zip(per_model, self._offsets, strict=True)
                ]
            )
            for i in range(len(images))
        ]


def _join(parts: Sequence[tuple[Detections, int]]) -> Detections:
    return Detections(
        xyxy=np.concatenate([d.xyxy for d, _ in parts]).astype(np.float32),
        confidence=np.concatenate([d.confidence for d, _ in parts]).astype(np.float32),
        class_id=np.concatenate([d.class_id + offset for d, offset in parts]).astype(
            np.int64
        ),
        tracker_id=np.concatenate([d.tracker_id for d, _ in parts]).astype(np.int64),
    )
