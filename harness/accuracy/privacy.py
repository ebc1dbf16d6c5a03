"""The privacy check: YuNet over every snapshot the node published.

The node blurs faces before any image leaves it; the eval looks again at what
actually arrived over MQTT (after JPEG encoding), at the threshold the node
blurs at, so every replayed clip with people in it is also a privacy test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.face_settings import FACE_BLUR_DEFAULTS
from edge.factory import face_model_path
from edge.media.faces import FaceDetector, FaceModelError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PrivacyTally:
    """What the face check found in published snapshots.

    Attributes:
        snapshots: Snapshots looked at.
        faces: Faces found in them (each one is a privacy failure).
        with_faces: Labels ("<event id> <phase>") of the snapshots with a face.
        unreadable: Snapshots that did not decode as images.
    """

    snapshots: int = 0
    faces: int = 0
    with_faces: tuple[str, ...] = ()
    unreadable: int = 0

    def __add__(self, other: PrivacyTally) -> PrivacyTally:
        return PrivacyTally(
            snapshots=self.snapshots + other.snapshots,
            faces=self.faces + other.faces,
            with_faces=self.with_faces + other.with_faces,
            unreadable=self.unreadable + other.unreadable,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "snapshots_checked": self.snapshots,
            "faces_found": self.faces,
            "events_with_faces": list(self.with_faces),
            "unreadable": self.unreadable,
        }


class SnapshotFaceCheck:
    """Counts faces in JPEG snapshots with YuNet."""

    def __init__(self, detector: FaceDetector) -> None:
        self._detector = detector

    @classmethod
    def load(cls, models_dir: Path | None) -> SnapshotFaceCheck | None:
        """The check with the node's face model and threshold; None (logged)
        when the model cannot be found or loaded."""
        path = face_model_path(models_dir)
        if path is None:
            return None
        threshold = FACE_BLUR_DEFAULTS.score_threshold
        try:
            return cls(FaceDetector.from_model(path, score_threshold=threshold))
        except FaceModelError as error:
            logger.warning("privacy check off: %s", error)
            return None

    def tally(self, snapshots: Iterable[tuple[str, bytes | None]]) -> PrivacyTally:
        """Faces in each (label, JPEG) snapshot; a label without one is skipped."""
        result = PrivacyTally()
        for event_id, jpeg in snapshots:
            if not jpeg:
                continue
            image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                result += PrivacyTally(snapshots=1, unreadable=1)
                continue
            faces = len(self._detector.detect(np.asarray(image, dtype=np.uint8)))
            result += PrivacyTally(
                snapshots=1, faces=faces, with_faces=(event_id,) if faces else ()
            )
        return result
