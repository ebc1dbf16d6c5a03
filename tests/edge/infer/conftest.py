"""Fixtures for the real-model tests: COCO labels, real frames, detectors.

`detector` and `dynamic_detector` need the test module's `model_file` (file name
in the models folder) and `config` fixtures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from edge.config import ModelConfig
from edge.infer import OnnxDetector
from models.dynamic_batch import convert
from models.manifest import load_manifest
from tests.edge.infer.real_frames import (
    PERSON_FRAME,
    ROAD_FRAME,
    TOP_DOWN_CAR_FRAME,
    read_frame,
)


@pytest.fixture(scope="module")
def coco() -> list[str]:
    return load_manifest().coco80


@pytest.fixture(scope="module")
def detector(
    models_dir: Path, model_file: str, config: ModelConfig, coco: list[str]
) -> OnnxDetector:
    return OnnxDetector(model_path=models_dir / model_file, config=config, labels=coco)


@pytest.fixture(scope="module")
def dynamic_detector(
    models_dir: Path,
    model_file: str,
    config: ModelConfig,
    coco: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> OnnxDetector:
    output = tmp_path_factory.mktemp("models") / f"{Path(model_file).stem}_dynamic.onnx"
    convert(models_dir / model_file, output, make_batch=None)
    return OnnxDetector(model_path=output, config=config, labels=coco)


@pytest.fixture(scope="module")
def frames(videos_dir: Path) -> list[npt.NDArray[np.uint8]]:
    """Four different real frames: person, top-down car, road, another person."""
    return [
        read_frame(videos_dir / PERSON_FRAME[0], PERSON_FRAME[1]),
        read_frame(videos_dir / TOP_DOWN_CAR_FRAME[0], TOP_DOWN_CAR_FRAME[1]),
        read_frame(videos_dir / ROAD_FRAME[0], ROAD_FRAME[1]),
        read_frame(videos_dir / PERSON_FRAME[0], 1000),
    ]
