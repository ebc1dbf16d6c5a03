"""Face blurring on the node: the shared YuNet blur (`models/faces.py`) at the
node's settings. Every face found is blurred, then looked for again until none is."""

from __future__ import annotations

from edge.config import MediaConfig
from models.faces import (
    BLOCKS_ACROSS,
    FaceBlur,
    FaceBlurSettings,
    FaceDetector,
    FaceModelError,
    expand_boxes,
    load_face_detector,
    obscure,
)

__all__ = [
    "BLOCKS_ACROSS",
    "FaceBlur",
    "FaceDetector",
    "FaceModelError",
    "expand_boxes",
    "face_blur_settings",
    "load_face_detector",
    "obscure",
]


def face_blur_settings(media: MediaConfig) -> FaceBlurSettings:
    """The node's face settings: `media.face_score` and `media.face_margin`."""
    return FaceBlurSettings(score_threshold=media.face_score, margin=media.face_margin)
