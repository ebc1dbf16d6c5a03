"""MoveNet SinglePose in onnxruntime: square person crops in, COCO-17 keypoints out."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edge.infer.session import select_providers
from edge.pose.types import KEYPOINT_COUNT, empty_keypoints
from models.manifest import resolve_model

logger = logging.getLogger(__name__)

DEFAULT_POSE_MODEL = "movenet_lightning"
_EMA_WEIGHT = 0.1  # weight of the newest run in the moving average of run time


class PoseEstimator(Protocol):
    """Estimates one person's keypoints per box of a frame."""

    def estimate(
        self,
        image: npt.NDArray[np.uint8],
        boxes_xyxy: npt.NDArray[np.float32],
        *,
        margins: npt.NDArray[np.float32],
    ) -> npt.NDArray[np.float32]: ...


def square_crops(
    boxes_xyxy: npt.NDArray[np.float32], margins: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Square regions around boxes: centred on each box, side = longer box side
    grown by `margin` on each end.

    Args:
        boxes_xyxy: (N, 4) boxes in pixels.
        margins: (N,) fraction of the longer side added on each end, >= 0.

    Returns:
        (N, 3) float32 rows (x0, y0, side) in pixels; regions may reach past
        the frame, where the crop is padded black.
    """
    centre = (boxes_xyxy[:, :2] + boxes_xyxy[:, 2:]) / 2.0
    longer = np.maximum(
        boxes_xyxy[:, 2] - boxes_xyxy[:, 0], boxes_xyxy[:, 3] - boxes_xyxy[:, 1]
    )
    side = np.maximum(longer, 1.0) * (1.0 + 2.0 * margins)
    return np.column_stack([centre - side[:, None] / 2.0, side]).astype(np.float32)


class MoveNetEstimator:
    """MoveNet SinglePose (Lightning or Thunder) on person crops.

    The model sees one person per run: each box is padded to a square with a
    margin, resized to the model input and its keypoints mapped back to frame
    pixels. Runs one crop at a time (the exported graph has batch 1).

    Attributes:
        name: Manifest name of the model.
        input_size_px: Side of the square model input.
        runs: Crops estimated so far.
        avg_ms: Moving average of one crop's preprocess + run time.
    """

    def __init__(
        self,
        *,
        model_path: Path,
        name: str = DEFAULT_POSE_MODEL,
        providers: Sequence[str] = (),
    ) -> None:
        """Load the model and warm it up.

        Raises:
            ValueError: The model does not take uint8 [1, S, S, 3] or does not
                return [1, 1, 17, 3].
        """
        self.name = name
        self._session = _open_session(model_path, providers)
        model_input = self._session.get_inputs()[0]
        self._input_name: str = model_input.name
        self.input_size_px = _check_io(self._session, model_path)
        self.runs = 0
        self.avg_ms = 0.0
        self._warm_up()
        logger.info(
            "pose model %s loaded from %s: providers %s, input %spx",
            name,
            model_path,
            self._session.get_providers(),
            self.input_size_px,
        )

    @classmethod
    def from_manifest(
        cls,
        name: str = DEFAULT_POSE_MODEL,
        models_dir: Path | None = None,
        providers: Sequence[str] = (),
    ) -> MoveNetEstimator:
        """Load the manifest model `name` (see `models.manifest.resolve_model`)."""
        return cls(
            model_path=resolve_model(name, models_dir), name=name, providers=providers
        )

    def estimate(
        self,
        image: npt.NDArray[np.uint8],
        boxes_xyxy: npt.NDArray[np.float32],
        *,
        margins: npt.NDArray[np.float32],
    ) -> npt.NDArray[np.float32]:
        """Keypoints of the person in each box.

        Args:
            image: BGR uint8 frame, (H, W, 3).
            boxes_xyxy: (N, 4) person boxes in pixels.
            margins: (N,) crop margin per box (see `square_crops`).

        Returns:
            (N, 17, 3) float32: x, y in frame pixels and score in [0, 1].
        """
        keypoints = empty_keypoints(len(boxes_xyxy))
        for i, (x0, y0, side) in enumerate(square_crops(boxes_xyxy, margins)):
            start = time.perf_counter()
            raw = self._run(self._crop(image, float(x0), float(y0), float(side)))
            keypoints[i, :, 0] = x0 + raw[:, 1] * side
            keypoints[i, :, 1] = y0 + raw[:, 0] * side
            keypoints[i, :, 2] = raw[:, 2]
            self._count((time.perf_counter() - start) * 1e3)
        return keypoints

    def _crop(
        self, image: npt.NDArray[np.uint8], x0: float, y0: float, side: float
    ) -> npt.NDArray[np.uint8]:
        size = self.input_size_px
        scale = size / side
        affine = np.array(
            [[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]], dtype=np.float32
        )
        crop = cv2.warpAffine(
            image, affine, (size, size), flags=cv2.INTER_LINEAR, borderValue=0
        )
        return np.asarray(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB), dtype=np.uint8)

    def _run(self, crop_rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        outputs = self._session.run(None, {self._input_name: crop_rgb[None]})
        raw: npt.NDArray[np.float32] = np.asarray(outputs[0], dtype=np.float32)
        return raw.reshape(KEYPOINT_COUNT, 3)

    def _count(self, elapsed_ms: float) -> None:
        self.runs += 1
        weight = 1.0 if self.runs == 1 else _EMA_WEIGHT
        self.avg_ms += weight * (elapsed_ms - self.avg_ms)

    def _warm_up(self) -> None:
        # The first run allocates arenas and picks kernels; paying it at load
        # keeps it out of the first fall a camera sees.
        size = self.input_size_px
        self._run(np.zeros((size, size, 3), dtype=np.uint8))


def _open_session(model_path: Path, providers: Sequence[str]) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # One small crop at a time on the analysis thread: more threads only add
    # synchronisation, and spinning would take CPU from the detector workers.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(
        str(model_path), options, providers=select_providers(list(providers))
    )


def _check_io(session: ort.InferenceSession, model_path: Path) -> int:
    model_input = session.get_inputs()[0]
    shape = list(model_input.shape)
    if (
        model_input.type != "tensor(uint8)"
        or len(shape) != 4
        or shape[3] != 3
        or not isinstance(shape[1], int)
        or shape[1] != shape[2]
    ):
        raise ValueError(
            f"pose model {model_path}: expected a uint8 [1, S, S, 3] input, got "
            f"{model_input.type} {shape}"
        )
    output_shape = list(session.get_outputs()[0].shape)
    if output_shape[-2:] != [KEYPOINT_COUNT, 3]:
        raise ValueError(
            f"pose model {model_path}: expected a [1, 1, 17, 3] output, got "
            f"{output_shape}"
        )
    size: int = shape[1]
    return size


class PoseModels:
    """A node's pose estimators by manifest name, each loaded once on first use
    and shared by its cameras (the analysis thread runs them one at a time)."""

    def __init__(
        self, *, models_dir: Path | None = None, providers: Sequence[str] = ()
    ) -> None:
        self._models_dir = models_dir
        self._providers = tuple(providers)
        self._loaded: dict[str, MoveNetEstimator] = {}

    def get(self, name: str) -> MoveNetEstimator:
        """The estimator of manifest model `name`, loading it on first use.

        Raises:
            models.manifest.UnknownEntryError: no such model in the manifest.
            FileNotFoundError, models.manifest.DownloadError: file not found.
            ValueError: the model is not a MoveNet-style pose model.
        """
        if name not in self._loaded:
            self._loaded[name] = MoveNetEstimator.from_manifest(
                name, self._models_dir, self._providers
            )
        return self._loaded[name]
