"""Let a detector graph exported at a fixed square size take any input size.

Fully convolutional detectors (YOLOX, YOLOv8) compute the same thing on any input
whose sides are multiples of their largest stride; the export only wrote the
square into the graph's declared shapes. Declaring the input's height and width
(and the outputs' sizes) symbolic lets onnxruntime run a 16:9 frame at 416x256
instead of padding it to 416x416. Graphs that really depend on the square (a
reshape to a literal cell count) fail the proof run, and the caller keeps the
square.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx

HEIGHT_AXIS = "height"
WIDTH_AXIS = "width"


class FixedInputError(ValueError):
    """The graph's input is not an image batch (B, C, H, W) this can free."""


@dataclass(frozen=True, slots=True)
class FreedModel:
    """A graph rewritten by `free_input_size`.

    Attributes:
        serialized: The model, for `onnxruntime.InferenceSession`.
        square_px: The side of the square the export declared, None if its
            height and width were not one fixed number.
    """

    serialized: bytes
    square_px: int | None


def free_input_size(model_path: Path) -> FreedModel:
    """The model at `model_path` with its input's height and width symbolic.

    Every output dimension after the batch becomes symbolic too, and the
    intermediate shapes the export recorded are dropped (onnxruntime infers
    them again), so no declared shape contradicts a non-square run.

    Raises:
        FixedInputError: the graph has not exactly one 4-D input.
        OSError, onnx.onnx_cpp2py_export.checker.ValidationError: unreadable file.
    """
    model = onnx.load(str(model_path))
    graph = model.graph
    initializers = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(inputs[0].type.tensor_type.shape.dim) != 4:
        raise FixedInputError(
            f"{model_path}: expected one (B, C, H, W) input, got "
            f"{[i.name for i in inputs]}"
        )
    dims = inputs[0].type.tensor_type.shape.dim
    height, width = dims[2].dim_value, dims[3].dim_value
    square_px = height if height and height == width else None
    dims[2].dim_param = HEIGHT_AXIS
    dims[3].dim_param = WIDTH_AXIS
    for output in graph.output:
        for axis, dim in enumerate(output.type.tensor_type.shape.dim):
            if axis > 0:
                dim.dim_param = f"{output.name}_{axis}"
    del graph.value_info[:]
    return FreedModel(serialized=model.SerializeToString(), square_px=square_px)
