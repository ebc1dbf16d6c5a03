"""Rewrite an ONNX graph's fixed batch of 1 into a symbolic batch axis, and prove it."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

logger = logging.getLogger(__name__)

BATCH_AXIS = "batch"
DEFAULT_TOLERANCE = 1e-3


class BatchRewriteError(ValueError):
    """The graph hard-codes its batch in a way this tool cannot rewrite."""


class BatchMismatchError(RuntimeError):
    """The batch-dynamic model's outputs differ from the original's."""


@dataclass(frozen=True, slots=True)
class RewriteSummary:
    """What `make_batch_dynamic` changed.

    Attributes:
        inputs: Graph inputs whose first axis became symbolic.
        outputs: Graph outputs whose first axis became symbolic.
        reshapes: Reshape nodes whose literal batch 1 became 0 (copy input dim).
        resizes: Resize nodes whose fixed `sizes` now take the batch from the input.
        initializer_inputs_dropped: Initializers removed from the graph inputs.
    """

    inputs: int
    outputs: int
    reshapes: int
    resizes: int
    initializer_inputs_dropped: int


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Per-image comparison of a batch-dynamic model with its original.

    Attributes:
        batch: Images in the compared batch.
        max_abs_diff: Largest absolute difference over all outputs and images.
        per_output: Largest absolute difference per output name.
    """

    batch: int
    max_abs_diff: float
    per_output: dict[str, float]


def _input_dependent(graph: onnx.GraphProto, real_inputs: set[str]) -> set[str]:
    """Names of all tensors computed from the real graph inputs."""
    dependent = set(real_inputs)
    for node in graph.node:  # ONNX graphs are stored topologically sorted
        if any(name in dependent for name in node.input):
            dependent.update(node.output)
    return dependent


def _constant_values(graph: onnx.GraphProto) -> dict[str, npt.NDArray[np.generic]]:
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if (
            node.op_type == "Constant"
            and node.attribute
            and node.attribute[0].name == "value"
        ):
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def _set_batch_dim(value: onnx.ValueInfoProto) -> None:
    dims = value.type.tensor_type.shape.dim
    if not dims:
        raise BatchRewriteError(f"{value.name!r} has no shape to make batch-dynamic")
    if dims[0].HasField("dim_value") and dims[0].dim_value != 1:
        raise BatchRewriteError(
            f"{value.name!r} has batch {dims[0].dim_value}; only batch 1 is rewritten"
        )
    dims[0].Clear()
    dims[0].dim_param = BATCH_AXIS


def _rewrite_reshapes(
    graph: onnx.GraphProto,
    dependent: set[str],
    constants: dict[str, npt.NDArray[np.generic]],
) -> int:
    """Replace a leading literal 1 in Reshape targets by 0 ("copy the input dim")."""
    rewritten: dict[str, str] = {}
    count = 0
    for node in graph.node:
        if node.op_type != "Reshape" or node.input[0] not in dependent:
            continue
        shape = constants.get(node.input[1])
        if shape is None:
            if node.input[1] in dependent:
                continue  # computed from the input at run time: already follows it
            raise BatchRewriteError(f"Reshape {node.name!r} has a non-constant shape")
        if shape.size == 0 or int(shape[0]) != 1:
            continue
        allow_zero = any(a.name == "allowzero" and a.i == 1 for a in node.attribute)
        if allow_zero:
            raise BatchRewriteError(f"Reshape {node.name!r} sets allowzero=1")
        name = rewritten.get(node.input[1])
        if name is None:
            name = f"{node.input[1]}__batch"
            new_shape = shape.astype(np.int64).copy()
            new_shape[0] = 0
            graph.initializer.append(numpy_helper.from_array(new_shape, name))
            rewritten[node.input[1]] = name
        node.input[1] = name
        count += 1
    return count


def _rewrite_resizes(
    graph: onnx.GraphProto,
    dependent: set[str],
    constants: dict[str, npt.NDArray[np.generic]],
) -> int:
    """Make fixed Resize `sizes` take their first entry from the input's shape."""
    count = 0
    new_nodes: list[tuple[int, list[onnx.NodeProto]]] = []
    for index, node in enumerate(graph.node):
        if node.op_type != "Resize" or len(node.input) < 4 or not node.input[3]:
            continue
        sizes = constants.get(node.input[3])
        if sizes is None or node.input[0] not in dependent or int(sizes[0]) != 1:
            continue
        prefix = f"{node.name or node.output[0]}__batch"
        tail = numpy_helper.from_array(sizes[1:].astype(np.int64), f"{prefix}_tail")
        first = numpy_helper.from_array(np.array([0], dtype=np.int64), f"{prefix}_at0")
        graph.initializer.extend([tail, first])
        nodes = [
            helper.make_node("Shape", [node.input[0]], [f"{prefix}_shape"]),
            helper.make_node(
                "Gather", [f"{prefix}_shape", first.name], [f"{prefix}_n"], axis=0
            ),
            helper.make_node(
                "Concat", [f"{prefix}_n", tail.name], [f"{prefix}_sizes"], axis=0
            ),
        ]
        node.input[3] = f"{prefix}_sizes"
        new_nodes.append((index, nodes))
        count += 1
    for index, nodes in reversed(new_nodes):
        for offset, extra in enumerate(nodes):
            graph.node.insert(index + offset, extra)
    return count


def _drop_unused_initializers(graph: onnx.GraphProto) -> None:
    used = {name for node in graph.node for name in node.input}
    used.update(out.name for out in graph.output)
    keep = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


def make_batch_dynamic(
    model: onnx.ModelProto,
) -> tuple[onnx.ModelProto, RewriteSummary]:
    """Return a copy of `model` whose batch axis is the symbol `batch`.

    Rewrites the first axis of inputs and outputs, Reshape targets that
    hard-code batch 1, and Resize nodes with fixed `sizes`; drops initializers
    listed as graph inputs (old exporters did this; it also blocks constant
    folding); clears stale intermediate shapes, then checks the graph and runs
    shape inference.

    Raises:
        BatchRewriteError: the graph hard-codes its batch in another way, or
            the checker or shape inference rejects the result.
    """
    result = onnx.ModelProto()
    result.CopyFrom(model)
    graph = result.graph
    init_names = {init.name for init in graph.initializer}
    real_inputs = [value for value in graph.input if value.name not in init_names]
    dropped = len(graph.input) - len(real_inputs)
    del graph.input[:]
    graph.input.extend(real_inputs)
    dependent = _input_dependent(graph, {value.name for value in real_inputs})
    constants = _constant_values(graph)
    for value in [*graph.input, *graph.output]:
        _set_batch_dim(value)
    reshapes = _rewrite_reshapes(graph, dependent, constants)
    resizes = _rewrite_resizes(graph, dependent, constants)
    _drop_unused_initializers(graph)
    del graph.value_info[:]
    result = _check_and_infer(result)
    summary = RewriteSummary(
        inputs=len(graph.input),
        outputs=len(graph.output),
        reshapes=reshapes,
        resizes=resizes,
        initializer_inputs_dropped=dropped,
    )
    return result, summary


def _check_and_infer(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        onnx.checker.check_model(model)
        inferred = onnx.shape_inference.infer_shapes(
            model, check_type=True, strict_mode=True
        )
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise BatchRewriteError(f"rewritten graph is invalid: {error}") from None
    for output in inferred.graph.output:
        first = output.type.tensor_type.shape.dim[0]
        if first.dim_param != BATCH_AXIS:
            raise BatchRewriteError(f"output {output.name!r} lost the batch axis")
    return inferred


def _cpu_session(model: onnx.ModelProto | Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the originals warn about initializer inputs
    source = (
        model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    )
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def verify_same_outputs(
    original: onnx.ModelProto | Path,
    dynamic: onnx.ModelProto | Path,
    batch: npt.NDArray[np.float32],
) -> VerifyResult:
    """Run `batch` through `dynamic` at once and through `original` image by image.

    Args:
        original: The batch-1 model.
        dynamic: The batch-dynamic model.
        batch: Preprocessed input, shape (K, C, H, W), float32, K different images.

    Returns:
        The largest absolute difference per output and overall.
    """
    fixed, flexible = _cpu_session(original), _cpu_session(dynamic)
    input_name = fixed.get_inputs()[0].name
    names = [out.name for out in fixed.get_outputs()]
    batched = flexible.run(names, {flexible.get_inputs()[0].name: batch})
    singles = [
        fixed.run(names, {input_name: batch[i : i + 1]}) for i in range(batch.shape[0])
    ]
    per_output: dict[str, float] = {}
    for index, name in enumerate(names):
        reference = np.concatenate([single[index] for single in singles])
        if reference.shape != batched[index].shape:
            raise BatchMismatchError(
                f"output {name!r}: batched shape {batched[index].shape}, "
                f"per-image shape {reference.shape}"
            )
        per_output[name] = float(np.max(np.abs(reference - batched[index])))
    return VerifyResult(
        batch=int(batch.shape[0]),
        max_abs_diff=max(per_output.values()),
        per_output=per_output,
    )


def read_frames(videos: list[Path], count: int) -> list[npt.NDArray[np.uint8]]:
    """Read `count` different frames spread over the given videos.

    Args:
        videos: Video files (any OpenCV-readable format).
        count: Frames wanted, at least 1.

    Returns:
        BGR uint8 frames; sizes may differ between videos.

    Raises:
        ValueError: the videos yield fewer than `count` frames.
    """
    frames: list[npt.NDArray[np.uint8]] = []
    per_video = -(-count // max(len(videos), 1))
    for video in videos:
        capture = cv2.VideoCapture(str(video))
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or per_video
        for position in np.linspace(0, max(total - 1, 0), per_video + 2)[1:-1]:
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(position))
            ok, frame = capture.read()
            if ok and len(frames) < count:
                frames.append(np.ascontiguousarray(frame, dtype=np.uint8))
        capture.release()
    if len(frames) < count:
        raise ValueError(f"wanted {count} frames, got {len(frames)} from {videos}")
    return frames


@dataclass(frozen=True, slots=True)
class DynamicBatchReport:
    """Outcome of `convert`.

    Attributes:
        source: The batch-1 model.
        output: The batch-dynamic model written.
        summary: What the rewrite changed.
        verify: Comparison with the original, None when skipped.
    """

    source: Path
    output: Path
    summary: RewriteSummary
    verify: VerifyResult | None


def convert(
    source: Path,
    output: Path,
    *,
    make_batch: Callable[[], npt.NDArray[np.float32]] | None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> DynamicBatchReport:
    """Write a batch-dynamic copy of `source` to `output` after verifying it.

    Args:
        source: ONNX model with batch 1.
        output: Where the dynamic model goes; written only when it passes.
        make_batch: Builds the preprocessed test batch (K, C, H, W); None skips
            the comparison.
        tolerance: Largest allowed absolute difference.

    Raises:
        BatchRewriteError: the graph cannot be rewritten.
        BatchMismatchError: outputs differ by more than `tolerance`.
    """
    original = onnx.load(str(source))
    dynamic, summary = make_batch_dynamic(original)
    result = None
    if make_batch is not None:
        result = verify_same_outputs(original, dynamic, make_batch())
        logger.info(
            "%s: batch %s max abs diff %.3g",
            source.name,
            result.batch,
            result.max_abs_diff,
        )
        if not result.max_abs_diff <= tolerance:
            raise BatchMismatchError(
                f"{source.name}: batch-{result.batch} outputs differ from per-image "
                f"outputs by {result.max_abs_diff:.3g} > {tolerance:g} "
                f"({result.per_output})"
            )
    _save_atomic(dynamic, output)
    return DynamicBatchReport(
        source=source, output=output, summary=summary, verify=result
    )


def _save_atomic(model: onnx.ModelProto, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, part = tempfile.mkstemp(
        dir=output.parent, prefix=f".{output.name}.", suffix=".part"
    )
    os.close(handle)
    try:
        onnx.save(model, part)
        os.replace(part, output)
    finally:
        Path(part).unlink(missing_ok=True)
