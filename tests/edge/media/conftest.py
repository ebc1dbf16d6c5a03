"""Fixtures for the media tests: the real YuNet model and real frames with faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from edge.face_settings import FaceBlurSettings
from edge.media.faces import FaceBlur
from tests.edge.media.faces import FACE_GIF, FACE_MODEL, FaceCounter, read_frames


@pytest.fixture(scope="session")
def face_model(models_dir: Path) -> Path:
    return models_dir / FACE_MODEL


@pytest.fixture
def blur(face_model: Path) -> FaceBlur:
    return FaceBlur.from_model(face_model, FaceBlurSettings(), label="test")


@pytest.fixture(scope="session")
def face_frames(videos_dir: Path) -> list[npt.NDArray[np.uint8]]:
    """Every frame of the walking GIF (480x270); YuNet finds 2 faces in each."""
    frames = read_frames(videos_dir / FACE_GIF)
    assert frames, f"no frames in {FACE_GIF}"
    return frames


@pytest.fixture(scope="session")
def face_counter(face_model: Path) -> FaceCounter:
    return FaceCounter(face_model)
