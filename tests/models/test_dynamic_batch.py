"""Tests for models.dynamic_batch on the real models and on tiny synthesised graphs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge.config import ModelConfig
from edge.infer import adapter_type_for
from harness import models_command as cli
from models.dynamic_batch import (
    BATCH_AXIS,
    BatchMismatchError,
    BatchRewriteError,
    convert,
    make_batch_dynamic,
    read_frames,
    verify_same_outputs,
)
from models.family import ModelFamily
from models.manifest import load_manifest

MAX_ABS_DIFF = 1e-3
VIDEOS = ("one-by-one-person-detection.mp4", "car-detection.mp4", "solidWhiteRight.mp4")
MODELS = [
    # file, family, Reshape nodes with a literal batch 1, Resize nodes with fixed sizes
    ("yolox_nano.onnx", ModelFamily.YOLOX, 3, 0),
    ("object_detection_nanodet_2022nov.onnx", ModelFamily.NANODET, 38, 4),
]


@pytest.fixture(scope="module")
def frames(videos_dir: Path) -> list[npt.NDArray[np.uint8]]:
    return read_frames([videos_dir / name for name in VIDEOS], 8)


def _batch(
    family: ModelFamily, frames: list[npt.NDArray[np.uint8]]
) -> npt.NDArray[np.float32]:
    adapter = adapter_type_for(family)(
        config=ModelConfig(family=family), labels=load_manifest().coco80
    )
    return adapter.preprocess(frames)[0]


def _first_dims(values: list[onnx.ValueInfoProto]) -> list[str]:
    return [value.type.tensor_type.shape.dim[0].dim_param for value in values]


def test_read_frames_given_videos_should_return_distinct_frames(
    frames: list[npt.NDArray[np.uint8]],
) -> None:
    assert len(frames) == 8
    assert len({frame.tobytes() for frame in frames}) == 8


@pytest.mark.parametrize(("file", "family", "reshapes", "resizes"), MODELS)
@pytest.mark.parametrize("k", [2, 4, 8])
def test_convert_given_real_model_should_match_per_image_outputs(
    models_dir: Path,
    tmp_path: Path,
    frames: list[npt.NDArray[np.uint8]],
    file: str,
    family: ModelFamily,
    reshapes: int,
    resizes: int,
    k: int,
) -> None:
    output = tmp_path / "dynamic.onnx"
    report = convert(
        models_dir / file, output, make_batch=lambda: _batch(family, frames[:k])
    )
    assert report.verify is not None
    assert report.verify.batch == k
    assert report.verify.max_abs_diff <= MAX_ABS_DIFF
    assert (report.summary.reshapes, report.summary.resizes) == (reshapes, resizes)
    saved = onnx.load(str(output))
    assert _first_dims(list(saved.graph.input)) == [BATCH_AXIS]
    assert set(_first_dims(list(saved.graph.output))) == {BATCH_AXIS}


@pytest.mark.parametrize(("file", "family", "reshapes", "resizes"), MODELS)
def test_original_model_given_batch_of_2_should_be_rejected_by_onnxruntime(
    models_dir: Path,
    frames: list[npt.NDArray[np.uint8]],
    file: str,
    family: ModelFamily,
    reshapes: int,
    resizes: int,
) -> None:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(models_dir / file), options)
    with pytest.raises(Exception, match=r"[Ii]nvalid dimensions"):
        session.run(None, {session.get_inputs()[0].name: _batch(family, frames[:2])})


def _tiny_model(batch: int = 1) -> onnx.ModelProto:
    """x [1,2,3,3] -> Resize to fixed sizes [1,2,6,6] -> Reshape [1,-1] -> y [1,72]."""
    nodes = [
        helper.make_node("Resize", ["x", "", "", "sizes"], ["up"], mode="nearest"),
        helper.make_node("Reshape", ["up", "shape"], ["y"]),
    ]
    initializers = [
        numpy_helper.from_array(np.array([batch, 2, 6, 6], dtype=np.int64), "sizes"),
        numpy_helper.from_array(np.array([batch, -1], dtype=np.int64), "shape"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 2, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 72])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def test_make_batch_dynamic_given_tiny_graph_should_rewrite_and_stay_equal() -> None:
    original = _tiny_model()
    dynamic, summary = make_batch_dynamic(original)
    assert (summary.reshapes, summary.resizes) == (1, 1)
    batch = np.random.default_rng(0).random((5, 2, 3, 3), dtype=np.float32)
    result = verify_same_outputs(original, dynamic, batch)
    assert result.batch == 5
    assert result.max_abs_diff == 0.0


def test_make_batch_dynamic_given_batch_2_graph_should_raise() -> None:
    with pytest.raises(BatchRewriteError, match="batch 2"):
        make_batch_dynamic(_tiny_model(batch=2))


def test_convert_given_impossible_tolerance_should_raise_and_write_nothing(
    models_dir: Path, tmp_path: Path, frames: list[npt.NDArray[np.uint8]]
) -> None:
    output = tmp_path / "out" / "dynamic.onnx"
    with pytest.raises(BatchMismatchError, match="differ"):
        convert(
            models_dir / "yolox_nano.onnx",
            output,
            make_batch=lambda: _batch(ModelFamily.YOLOX, frames[:2]),
            tolerance=-1.0,
        )
    assert not output.exists()
    assert not output.parent.exists()


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run_cli(parser.parse_args(argv))


@pytest.mark.parametrize(
    "model", ["yolox_nano", "object_detection_nanodet_2022nov.onnx"]
)
def test_cli_make_dynamic_given_model_should_print_json_with_small_difference(
    models_dir: Path,
    videos_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    model: str,
) -> None:
    monkeypatch.setenv("GRIDWATCH_MODELS_DIR", str(models_dir))
    argv = ["make-dynamic", model, "--out", str(tmp_path), "--verify-batch", "3"]
    assert _run([*argv, "--videos-dir", str(videos_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["batch"] == 3
    assert report["max_abs_diff"] <= MAX_ABS_DIFF
    assert Path(report["output"]).parent == tmp_path
    assert Path(report["output"]).name.endswith("_dynamic.onnx")


def test_cli_make_dynamic_given_unknown_model_should_fail_with_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run(["make-dynamic", "no_such_model", "--verify-batch", "0"]) == 1
    assert "no_such_model" in capsys.readouterr().err
