"""Tests for edge.infer.nanodet with the real NanoDet-Plus model on real video frames.

The checks shared with the other COCO models are in `real_frames.py`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from edge.config import ModelConfig
from edge.infer import NanodetAdapter, OnnxDetector
from models.family import ModelFamily
from tests.edge.infer.real_frames import CocoDetectorChecks, assert_same_detections


@pytest.fixture(scope="module")
def model_file() -> str:
    return "object_detection_nanodet_2022nov.onnx"


@pytest.fixture(scope="module")
def config() -> ModelConfig:
    return ModelConfig(name="nanodet_plus_416", family=ModelFamily.NANODET)


class TestNanodetOnRealFrames(CocoDetectorChecks):
    """The shared real-frame checks, run with NanoDet-Plus."""


def _zero_outputs(batch: int) -> list[npt.NDArray[np.float32]]:
    cells = [52 * 52, 26 * 26, 13 * 13]
    class_maps = [np.zeros((batch, n, 80), dtype=np.float32) for n in cells]
    box_maps = [np.zeros((batch, n, 32), dtype=np.float32) for n in cells]
    return class_maps + box_maps


def test_decode_given_zero_maps_should_return_empty_detections(
    config: ModelConfig, coco: list[str]
) -> None:
    adapter = NanodetAdapter(config=config, labels=coco)
    _, metas = adapter.preprocess([np.zeros((432, 768, 3), dtype=np.uint8)] * 2)
    assert [len(d) for d in adapter.decode(_zero_outputs(2), metas)] == [0, 0]


def test_decode_given_one_hot_cell_should_box_it_around_its_anchor(
    config: ModelConfig, coco: list[str]
) -> None:
    adapter = NanodetAdapter(config=config, labels=coco)
    _, metas = adapter.preprocess([np.zeros((416, 416, 3), dtype=np.uint8)])
    outputs = _zero_outputs(1)
    row = 10 * 26 + 5  # stride 16, cell x=5, y=10: anchor (87.5, 167.5)
    outputs[1][0, row, 2] = 0.9
    outputs[4][0, row] = -50.0
    outputs[4][0, row, [2, 8 + 2, 16 + 2, 24 + 2]] = 50.0  # distance 2 bins x 16 px
    detections = adapter.decode(outputs, metas)[0]
    assert detections.class_id.tolist() == [2]
    np.testing.assert_allclose(
        detections.xyxy, [[87.5 - 32, 167.5 - 32, 87.5 + 32, 167.5 + 32]], atol=1e-3
    )


def test_decode_given_outputs_in_another_order_should_give_same_result(
    detector: OnnxDetector, frames: list[npt.NDArray[np.uint8]]
) -> None:
    tensor, metas = detector.adapter.preprocess(frames[:1])
    outputs = detector.session.run(
        None, {detector.session.get_inputs()[0].name: tensor}
    )
    interleaved = [outputs[i] for i in (0, 3, 1, 4, 2, 5)]
    expected = detector.adapter.decode(outputs, metas)[0]
    assert_same_detections(detector.adapter.decode(interleaved, metas)[0], expected)


@pytest.mark.parametrize(
    "bad",
    [
        [np.zeros((1, 2704, 81), dtype=np.float32)],
        [np.zeros((1, 2704, 80), dtype=np.float32)],
    ],
)
def test_decode_given_unexpected_maps_should_raise(
    config: ModelConfig, coco: list[str], bad: list[npt.NDArray[np.float32]]
) -> None:
    adapter = NanodetAdapter(config=config, labels=coco)
    _, metas = adapter.preprocess([np.zeros((64, 64, 3), dtype=np.uint8)])
    with pytest.raises(ValueError, match="NanoDet"):
        adapter.decode(bad, metas)


def test_adapter_given_unknown_label_filter_should_raise(coco: list[str]) -> None:
    config = ModelConfig(family=ModelFamily.NANODET, labels=["person", "unicorn"])
    with pytest.raises(ValueError, match="unicorn"):
        NanodetAdapter(config=config, labels=coco)


def test_preprocess_given_frame_should_normalise_bgr_and_pad_black_centred(
    config: ModelConfig, coco: list[str]
) -> None:
    adapter = NanodetAdapter(config=config, labels=coco)
    frame = np.full((432, 768, 3), (103, 116, 124), dtype=np.uint8)
    tensor, metas = adapter.preprocess([frame])
    assert tensor.shape == (1, 3, 416, 416)
    assert (metas[0].pad_x_px, metas[0].pad_y_px) == (0, 91)
    inside = tensor[0, :, 91 : 91 + 234, :].reshape(3, -1)
    np.testing.assert_allclose(inside.mean(axis=1), [-0.009, -0.005, 0.005], atol=2e-3)
    pad_value = (0.0 - np.array([103.53, 116.28, 123.675])) / [57.375, 57.12, 58.395]
    np.testing.assert_allclose(tensor[0, :, 0, 0], pad_value, rtol=1e-5)
