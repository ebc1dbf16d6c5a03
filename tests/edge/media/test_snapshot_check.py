"""Snapshots are checked for faces after JPEG encoding, like clips after H.264."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from edge.events.snapshot import Snapshotter
from edge.media.faces import FaceBlur, FaceDetector
from tests.edge.media.faces import FaceCounter, decode_jpeg, read_frames

PEOPLE_CLIP = "one-by-one-person-detection.mp4"  # people seen from above and behind


def test_snapshot_given_real_frames_should_show_no_face_even_at_the_blur_score(
    face_model: Path,
    blur: FaceBlur,
    face_frames: list[npt.NDArray[np.uint8]],
    videos_dir: Path,
) -> None:
    frames = face_frames + read_frames(videos_dir / PEOPLE_CLIP)[200:600:20]
    snapshotter = Snapshotter(camera_id="cam-1", face_blur=blur)
    strict = FaceCounter(face_model, score=0.3)
    for frame in frames:
        snapshot = snapshotter.render(frame, boxes_xyxy=np.zeros((0, 4)))
        assert strict.count(decode_jpeg(snapshot.jpeg)) == 0


def test_snapshot_given_faces_that_never_go_should_refuse_to_encode(
    blur: FaceBlur, monkeypatch: pytest.MonkeyPatch
) -> None:
    def always_a_face(
        self: FaceDetector, image: npt.NDArray[np.uint8]
    ) -> npt.NDArray[np.float32]:
        return np.array([[10.0, 10.0, 40.0, 40.0]], dtype=np.float32)

    snapshotter = Snapshotter(camera_id="cam-1", face_blur=blur)
    monkeypatch.setattr(FaceDetector, "detect", always_a_face)
    with pytest.raises(ValueError, match="faces still found in the snapshot"):
        snapshotter.render(
            np.full((120, 160, 3), 90, dtype=np.uint8), boxes_xyxy=np.zeros((0, 4))
        )
