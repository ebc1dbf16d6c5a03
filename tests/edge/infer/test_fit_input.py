"""A model input fitted to the frame (`model.fit_input`): the freed graph, the
canvas, the grid, and that detections match the square's on real frames."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edge.config import ModelConfig
from edge.infer import OnnxDetector, YoloxAdapter
from edge.infer.free_input import FixedInputError, free_input_size
from edge.infer.letterbox import LetterboxSpec, canvas_size
from edge.infer.yolox import grid_and_strides
from models.family import ModelFamily
from tests.edge.infer.real_frames import PERSON_FRAME, ROAD_FRAME, best_iou, read_frame

YOLOX = "yolox_nano.onnx"


@pytest.fixture(scope="module")
def square(models_dir: Path, coco: list[str]) -> OnnxDetector:
    config = ModelConfig(family=ModelFamily.YOLOX, fit_input=False)
    return OnnxDetector(model_path=models_dir / YOLOX, config=config, labels=coco)


@pytest.fixture(scope="module")
def fitted(models_dir: Path, coco: list[str]) -> OnnxDetector:
    config = ModelConfig(family=ModelFamily.YOLOX)
    return OnnxDetector(model_path=models_dir / YOLOX, config=config, labels=coco)


@pytest.mark.parametrize(
    ("sizes_wh", "margin_px", "expected_wh"),
    [
        ([(640, 360)], 0, (416, 256)),  # 416x234 resized, rows up to 8 x 32
        ([(640, 360)], 32, (416, 288)),  # 234 + 32 rows of grey, up to 9 x 32
        ([(1280, 720)], 0, (416, 256)),
        ([(360, 640)], 0, (256, 416)),
        ([(416, 416)], 32, (416, 416)),  # a full side gets no margin
        ([(640, 480)], 128, (416, 416)),  # never beyond the square
        ([(640, 360), (480, 480)], 0, (416, 416)),  # a batch takes the largest
        ([(4000, 100)], 0, (416, 32)),  # never below one stride
    ],
)
def test_canvas_size_should_round_the_resized_frame_and_margin_up_to_the_stride(
    sizes_wh: list[tuple[int, int]], margin_px: int, expected_wh: tuple[int, int]
) -> None:
    spec = LetterboxSpec(size_px=416)
    assert canvas_size(sizes_wh, spec, 32, margin_px=margin_px) == expected_wh


@pytest.mark.parametrize(
    ("sizes_wh", "stride", "message"),
    [([], 32, "at least one"), ([(640, 360)], 0, "stride")],
)
def test_canvas_size_given_nothing_to_fit_should_raise(
    sizes_wh: list[tuple[int, int]], stride: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        canvas_size(sizes_wh, LetterboxSpec(size_px=416), stride)


def test_grid_given_a_wide_input_should_cover_its_cells_row_by_row() -> None:
    grid, strides = grid_and_strides(416, 256)
    assert grid.shape == (52 * 32 + 26 * 16 + 13 * 8, 2)
    assert strides.shape == (grid.shape[0], 1)
    assert grid[51].tolist() == [51, 0]  # end of the first stride-8 row
    assert grid[52].tolist() == [0, 1]
    assert grid[-1].tolist() == [12, 7]
    assert strides[-1, 0] == 32


def test_free_input_size_should_make_height_and_width_symbolic(
    models_dir: Path,
) -> None:
    freed = free_input_size(models_dir / YOLOX)
    model = onnx.load_from_string(freed.serialized)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims[2:]] == ["height", "width"]
    assert dims[1].dim_value == 3
    assert freed.square_px == 416


def test_free_input_size_given_no_image_input_should_say_so(tmp_path: Path) -> None:
    path = tmp_path / "flat.onnx"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(FixedInputError, match="one \\(B, C, H, W\\) input"):
        free_input_size(path)


def test_detector_should_fit_a_wide_frame_into_fewer_rows(
    fitted: OnnxDetector, square: OnnxDetector
) -> None:
    frame = np.zeros((360, 640, 3), dtype=np.uint8)
    assert fitted.adapter.fit_input
    assert not square.adapter.fit_input
    assert fitted.adapter.preprocess([frame])[0].shape == (1, 3, 288, 416)
    assert square.adapter.preprocess([frame])[0].shape == (1, 3, 416, 416)


@pytest.mark.parametrize(
    ("video", "index"),
    [(PERSON_FRAME[0], PERSON_FRAME[1]), (ROAD_FRAME[0], ROAD_FRAME[1])],
)
def test_detector_fitted_should_find_what_the_square_finds(
    fitted: OnnxDetector,
    square: OnnxDetector,
    videos_dir: Path,
    video: str,
    index: int,
) -> None:
    frame = read_frame(videos_dir / video, index)
    expected = square.detect(frame)
    found = fitted.detect(frame)
    assert len(expected) > 0
    assert len(found) == len(expected)
    for box, class_id, score in zip(
        expected.xyxy, expected.class_id, expected.confidence, strict=True
    ):
        assert best_iou(found, tuple(box.tolist()), int(class_id)) > 0.9
        same_class = found.confidence[found.class_id == class_id]
        assert np.min(np.abs(same_class - score)) < 0.05


def _square_bound_model(path: Path) -> None:
    """A YOLOX-shaped graph whose head is a reshape to the square's literal row
    count: it runs at 416x256 but answers with 3549 rows."""
    images = helper.make_tensor_value_info(
        "images", TensorProto.FLOAT, [1, 3, 416, 416]
    )
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3549, 85])
    constants = {
        "zeros": [0],
        "rows": [3549 * 85],
        "axis": [0],
        "shape": [1, 3549, 85],
    }
    nodes = [
        helper.make_node("Flatten", ["images"], ["flat"], axis=0),
        helper.make_node("Squeeze", ["flat", "axis"], ["line"]),
        helper.make_node("Slice", ["line", "zeros", "rows", "axis"], ["head"]),
        helper.make_node("Mul", ["head", "nothing"], ["zeroed"]),
        helper.make_node("Reshape", ["zeroed", "shape"], ["output"]),
    ]
    initializers = [
        helper.make_tensor(name, TensorProto.INT64, [len(v)], v)
        for name, v in constants.items()
    ] + [helper.make_tensor("nothing", TensorProto.FLOAT, [], [0.0])]
    graph = helper.make_graph(nodes, "square", [images], [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))


def test_detector_given_a_graph_bound_to_its_square_should_keep_the_square(
    tmp_path: Path, coco: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "square_bound.onnx"
    _square_bound_model(path)
    config = ModelConfig(family=ModelFamily.YOLOX)
    with caplog.at_level(logging.WARNING, logger="edge.infer.session"):
        detector = OnnxDetector(model_path=path, config=config, labels=coco)
    assert not detector.adapter.fit_input
    assert "keeping the square 416px input" in caplog.text
    frame = np.zeros((360, 640, 3), dtype=np.uint8)
    assert len(detector.detect(frame)) == 0


def test_adapter_without_fit_should_keep_the_square(coco: list[str]) -> None:
    adapter = YoloxAdapter(config=ModelConfig(), labels=coco, fit_input=False)
    tensor, metas = adapter.preprocess([np.zeros((360, 640, 3), dtype=np.uint8)])
    assert tensor.shape == (1, 3, 416, 416)
    assert metas[0].input_wh == (416, 416)
