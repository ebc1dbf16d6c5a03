"""Tests for edge.infer.yolox with the real YOLOX-Nano model on real video frames.

The checks shared with the other COCO models are in `real_frames.py`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from edge.config import ModelConfig
from edge.infer import OnnxDetector, YoloxAdapter
from models.family import ModelFamily
from tests.edge.infer.real_frames import (
    PERSON,
    PERSON_FRAME,
    CocoDetectorChecks,
    best_iou,
)


@pytest.fixture(scope="module")
def model_file() -> str:
    return "yolox_nano.onnx"


@pytest.fixture(scope="module")
def config() -> ModelConfig:
    return ModelConfig(name="yolox_nano", family=ModelFamily.YOLOX)


class TestYoloxOnRealFrames(CocoDetectorChecks):
    """The shared real-frame checks, run with YOLOX-Nano."""


def test_decode_given_zero_head_should_return_empty_detections(
    config: ModelConfig, coco: list[str]
) -> None:
    adapter = YoloxAdapter(config=config, labels=coco)
    _, metas = adapter.preprocess([np.zeros((432, 768, 3), dtype=np.uint8)] * 2)
    outputs = [np.zeros((2, 3549, 85), dtype=np.float32)]
    assert [len(d) for d in adapter.decode(outputs, metas)] == [0, 0]


def test_decode_given_wrong_row_count_should_raise(
    config: ModelConfig, coco: list[str]
) -> None:
    adapter = YoloxAdapter(config=config, labels=coco)
    _, metas = adapter.preprocess([np.zeros((64, 64, 3), dtype=np.uint8)])
    with pytest.raises(ValueError, match="3549, 85"):
        adapter.decode([np.zeros((1, 100, 85), dtype=np.float32)], metas)


def test_adapter_given_unknown_label_filter_should_raise(coco: list[str]) -> None:
    config = ModelConfig(family=ModelFamily.YOLOX, labels=["person", "unicorn"])
    with pytest.raises(ValueError, match="unicorn"):
        YoloxAdapter(config=config, labels=coco)


def test_preprocess_given_frame_should_be_bgr_0_255_padded_114_top_left(
    config: ModelConfig, coco: list[str]
) -> None:
    adapter = YoloxAdapter(config=config, labels=coco)
    frame = np.zeros((432, 768, 3), dtype=np.uint8)
    frame[..., 0] = 255  # blue in BGR
    tensor, metas = adapter.preprocess([frame])
    assert tensor.shape == (1, 3, 416, 416)
    assert tensor.dtype == np.float32
    assert (metas[0].pad_x_px, metas[0].pad_y_px) == (0, 0)
    assert tensor[0, :, :234, :].reshape(3, -1).mean(axis=1).tolist() == [
        255.0,
        0.0,
        0.0,
    ]
    assert (tensor[0, :, 234:, :] == 114.0).all()


def test_from_config_given_manifest_name_should_resolve_file_and_labels(
    models_dir: Path, frames: list[npt.NDArray[np.uint8]]
) -> None:
    detector = OnnxDetector.from_config(
        ModelConfig(name="yolox_nano"), models_dir=models_dir
    )
    assert detector.labels[:3] == ["person", "bicycle", "car"]
    assert len(detector.labels) == 80
    assert best_iou(detector.detect(frames[0]), PERSON_FRAME[2], PERSON) >= 0.8
