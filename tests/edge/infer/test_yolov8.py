"""Tests for edge.infer.yolov8 and edge.infer.session on a synthesised YOLOv8 graph.

The ONNX graph is built here with onnx.helper: it ignores its pixels and returns
a fixed [B, 4 + C, N] head, so decode and session plumbing are checked exactly.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge.config import ModelConfig
from edge.infer import OnnxDetector, Yolov8Adapter, select_providers
from models.family import ModelFamily

LABELS = ["person", "car", "dog"]
INPUT_PX = 32
# Columns: cx, cy, w, h (input pixels), then scores for person, car, dog.
HEAD = np.array(
    [
        [16.0, 17.0, 8.0, 20.0],
        [16.0, 16.0, 8.0, 20.0],
        [8.0, 8.0, 4.0, 4.0],
        [8.0, 8.0, 4.0, 4.0],
        [0.9, 0.8, 0.0, 0.1],
        [0.1, 0.0, 0.6, 0.1],
        [0.0, 0.0, 0.2, 0.1],
    ],
    dtype=np.float32,
)
# A 64x32 frame lands at scale 0.5 with 8 px of padding above and below.
FRAME = np.zeros((32, 64, 3), dtype=np.uint8)
PERSON_XYXY = [24.0, 8.0, 40.0, 24.0]  # column 0; column 1 overlaps it (IoU 0.78)
CAR_XYXY = [12.0, 0.0, 20.0, 4.0]  # column 2, clipped at the top edge


def build_fake_yolov8(
    path: Path,
    *,
    names: dict[int, str] | None = None,
    batch: int | str = "batch",
    width: int = INPUT_PX,
) -> Path:
    """Write an ONNX model whose output is HEAD repeated over the batch."""
    nodes = [
        helper.make_node("Shape", ["images"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0),
        helper.make_node("Concat", ["n", "head_dims"], ["target"], axis=0),
        helper.make_node("Expand", ["head", "target"], ["output0"]),
    ]
    initializers = [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array(HEAD.shape, dtype=np.int64), "head_dims"),
        numpy_helper.from_array(HEAD[None], "head"),
    ]
    graph = helper.make_graph(
        nodes,
        "fake_yolov8",
        [
            helper.make_tensor_value_info(
                "images", TensorProto.FLOAT, [batch, 3, INPUT_PX, width]
            )
        ],
        [
            helper.make_tensor_value_info(
                "output0", TensorProto.FLOAT, [batch, *HEAD.shape]
            )
        ],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if names is not None:
        helper.set_model_props(model, {"names": repr(names)})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def config() -> ModelConfig:
    return ModelConfig(name="fake", family=ModelFamily.YOLOV8, input_size=INPUT_PX)


@pytest.fixture
def fake_model(tmp_path: Path) -> Path:
    return build_fake_yolov8(tmp_path / "fake.onnx", names=dict(enumerate(LABELS)))


def test_detect_given_fixed_head_should_decode_boxes_scores_and_classes(
    fake_model: Path, config: ModelConfig
) -> None:
    detector = OnnxDetector(model_path=fake_model, config=config, labels=LABELS)
    detections = detector.detect(FRAME)
    assert detections.class_id.tolist() == [0, 1]
    np.testing.assert_allclose(detections.confidence, [0.9, 0.6], atol=1e-6)
    np.testing.assert_allclose(detections.xyxy, [PERSON_XYXY, CAR_XYXY], atol=1e-4)
    assert detections.tracker_id.tolist() == [-1, -1]


@pytest.mark.parametrize(
    ("labels", "expected_classes"),
    [([], [0, 1]), (["car"], [1]), (["dog"], []), (["person", "dog"], [0])],
)
def test_detect_given_label_filter_should_keep_only_those_classes(
    fake_model: Path, labels: list[str], expected_classes: list[int]
) -> None:
    config = ModelConfig(family=ModelFamily.YOLOV8, input_size=INPUT_PX, labels=labels)
    detector = OnnxDetector(model_path=fake_model, config=config, labels=LABELS)
    assert detector.detect(FRAME).class_id.tolist() == expected_classes


def test_detect_given_high_threshold_should_return_empty(fake_model: Path) -> None:
    config = ModelConfig(
        family=ModelFamily.YOLOV8, input_size=INPUT_PX, conf_threshold=0.95
    )
    detector = OnnxDetector(model_path=fake_model, config=config, labels=LABELS)
    assert len(detector.detect(FRAME)) == 0


def test_preprocess_given_blue_frame_should_be_rgb_0_1_padded_114_centred(
    config: ModelConfig,
) -> None:
    adapter = Yolov8Adapter(config=config, labels=LABELS)
    frame = np.zeros((32, 64, 3), dtype=np.uint8)
    frame[..., 0] = 255  # blue in BGR
    tensor, metas = adapter.preprocess([frame])
    assert (metas[0].pad_x_px, metas[0].pad_y_px) == (0, 8)
    np.testing.assert_allclose(tensor[0, :, 8:24, :].mean(axis=(1, 2)), [0.0, 0.0, 1.0])
    np.testing.assert_allclose(tensor[0, :, :8, :], 114 / 255, rtol=1e-6)


def test_decode_given_wrong_head_height_should_raise(config: ModelConfig) -> None:
    adapter = Yolov8Adapter(config=config, labels=LABELS)
    _, metas = adapter.preprocess([FRAME])
    with pytest.raises(ValueError, match=r"\(4 \+ 3, N\)"):
        adapter.decode([np.zeros((1, 8, 4), dtype=np.float32)], metas)


# --- session behaviour (edge.infer.session) on the same fake model ---


def _count_runs(detector: OnnxDetector, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real_run = detector.session.run

    def counting_run(
        names: list[str], feeds: dict[str, npt.NDArray[np.float32]]
    ) -> list[npt.NDArray[np.float32]]:
        calls.append(next(iter(feeds.values())).shape[0])
        result: list[npt.NDArray[np.float32]] = real_run(names, feeds)
        return result

    monkeypatch.setattr(detector.session, "run", counting_run)
    return calls


@pytest.mark.parametrize(
    ("batch_axis", "expected_runs"), [("batch", [3]), (1, [1, 1, 1])]
)
def test_detect_batch_given_batch_axis_should_run_once_or_per_image(
    tmp_path: Path,
    config: ModelConfig,
    monkeypatch: pytest.MonkeyPatch,
    batch_axis: int | str,
    expected_runs: list[int],
) -> None:
    model = build_fake_yolov8(tmp_path / "fake.onnx", batch=batch_axis)
    detector = OnnxDetector(model_path=model, config=config, labels=LABELS)
    runs = _count_runs(detector, monkeypatch)
    results = detector.detect_batch([FRAME, FRAME[:, :32], FRAME])
    assert runs == expected_runs
    assert [d.class_id.tolist() for d in results] == [[0, 1], [0, 1], [0, 1]]
    assert detector.last_timings is not None
    assert detector.last_timings.batch_size == 3
    assert detector.last_timings.total_ms > 0


def test_detector_given_no_labels_should_read_ultralytics_metadata(
    fake_model: Path, config: ModelConfig
) -> None:
    detector = OnnxDetector(model_path=fake_model, config=config)
    assert detector.labels == LABELS
    assert detector.input_size_px == INPUT_PX
    assert detector.name == "fake"
    assert detector.providers[-1] == "CPUExecutionProvider"


@pytest.mark.parametrize(
    ("names", "width", "expectation"),
    [
        ({0: "a", 1: "b", 2: "c"}, INPUT_PX, nullcontext()),
        (None, INPUT_PX, pytest.raises(ValueError, match="labels")),
        ({0: "a", 1: "b", 2: "c"}, 48, pytest.raises(ValueError, match="square")),
    ],
)
def test_detector_given_model_without_labels_or_square_input_should_raise(
    tmp_path: Path,
    config: ModelConfig,
    names: dict[int, str] | None,
    width: int,
    expectation: AbstractContextManager[object],
) -> None:
    model = build_fake_yolov8(tmp_path / "fake.onnx", names=names, width=width)
    with expectation:
        OnnxDetector(model_path=model, config=config)


CPU, CUDA, TRT, OV = (
    "CPUExecutionProvider",
    "CUDAExecutionProvider",
    "TensorrtExecutionProvider",
    "OpenVINOExecutionProvider",
)


@pytest.mark.parametrize(
    ("requested", "available", "expected"),
    [
        ([], [CPU], [CPU]),
        ([], ["AzureExecutionProvider", CPU], [CPU]),
        ([], [CPU, CUDA, TRT], [TRT, CUDA, CPU]),
        ([], [OV, CPU], [OV, CPU]),
        ([CUDA], [CPU], [CPU]),
        ([CUDA], [CUDA, TRT, CPU], [CUDA, CPU]),
        ([OV, CPU], [TRT, CUDA, OV, CPU], [OV, CPU]),
        ([CPU, CUDA], [CUDA, CPU], [CPU, CUDA]),
    ],
)
def test_select_providers_given_request_and_build_should_pick_expected(
    requested: list[str], available: list[str], expected: list[str]
) -> None:
    assert select_providers(requested, available) == expected
