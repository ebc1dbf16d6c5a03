"""onnxruntime detector: provider choice, warm-up, batched run, per-stage timings."""

from __future__ import annotations

import ast
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edge.config import ModelConfig
from edge.infer.base import DetectorAdapter, adapter_type_for
from edge.infer.free_input import free_input_size
from edge.types import Detections
from models.manifest import UnknownEntryError, load_manifest, resolve_model

logger = logging.getLogger(__name__)

PREFERRED_PROVIDERS: tuple[str, ...] = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "OpenVINOExecutionProvider",
    "CPUExecutionProvider",
)


@dataclass(frozen=True, slots=True)
class InferTimings:
    """Wall time of the stages of one `detect_batch` call.

    Attributes:
        batch_size: Images in the call.
        preprocess_ms: Letterbox and tensor conversion, all images.
        infer_ms: onnxruntime run(s), all images.
        decode_ms: Decode, NMS and mapping back, all images.
    """

    batch_size: int
    preprocess_ms: float
    infer_ms: float
    decode_ms: float

    @property
    def total_ms(self) -> float:
        return self.preprocess_ms + self.infer_ms + self.decode_ms


def select_providers(
    requested: Sequence[str], available: Sequence[str] | None = None
) -> list[str]:
    """Execution providers to ask onnxruntime for, best first.

    Args:
        requested: Providers from config, in order; empty picks the best.
        available: What this onnxruntime build offers; default asks it.

    Returns:
        The requested providers this build has (CPU appended as the last
        resort), or, when none of them is available, the best available of
        TensorRT, CUDA, OpenVINO and CPU.
    """
    have = list(available if available is not None else ort.get_available_providers())
    chosen = [name for name in requested if name in have]
    missing = [name for name in requested if name not in have]
    if missing:
        logger.warning(
            "onnxruntime providers %s not available (have %s)", missing, have
        )
    if not chosen:
        chosen = [name for name in PREFERRED_PROVIDERS if name in have]
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def labels_from_metadata(session: ort.InferenceSession) -> list[str] | None:
    """Class names an ultralytics export stores in its metadata, if any."""
    raw = session.get_modelmeta().custom_metadata_map.get("names")
    if not raw:
        return None
    try:
        names = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        logger.warning("model metadata 'names' is not a literal: %.80s", raw)
        return None
    if not isinstance(names, dict):
        return None
    return [str(names[key]) for key in sorted(names)]


def _square_input_size(shape: Sequence[object], fallback: int) -> int:
    height, width = shape[2], shape[3]
    if isinstance(height, int) and isinstance(width, int):
        if height != width:
            raise ValueError(
                f"only square model inputs are supported, got {height}x{width}"
            )
        return height
    return fallback


class OnnxDetector:
    """A detector model in onnxruntime plus the adapter of its family.

    Attributes:
        name: Model name (config name).
        labels: Class names, index = class id.
        providers: Execution providers the session really uses.
        input_batch_is_dynamic: The model takes any batch in one run.
        input_size_px: Side of the square model input.
        last_timings: Stage timings of the last `detect_batch`, None before it.
    """

    def __init__(
        self,
        *,
        model_path: Path,
        config: ModelConfig,
        labels: Sequence[str] | None = None,
    ) -> None:
        """Load the model, pick providers, build the adapter and warm up.

        Args:
            model_path: ONNX file.
            config: Model settings (family, thresholds, providers, threads).
            labels: Class names; default from the model metadata (ultralytics).

        Raises:
            ValueError: no labels given or found, or the input is not square.
        """
        self.name = config.name
        adapter_type = adapter_type_for(config.family)
        providers = select_providers(config.providers)
        self.session = _open_session(model_path, config, providers)
        model_input = self.session.get_inputs()[0]
        self.input_size_px = _square_input_size(model_input.shape, config.input_size)
        found = (
            list(labels) if labels is not None else labels_from_metadata(self.session)
        )
        if not found:
            raise ValueError(
                f"model {model_path} needs class labels (none given or found)"
            )
        self.labels: list[str] = found
        self.adapter: DetectorAdapter = adapter_type(
            config=config, labels=self.labels, input_size_px=self.input_size_px
        )
        if (
            config.fit_input
            and adapter_type.free_input_stride is not None
            # TensorRT builds an engine per input shape: keep it one shape.
            and "TensorrtExecutionProvider" not in providers
        ):
            self._free_input(model_path, config, providers)
        self.providers: list[str] = list(self.session.get_providers())
        self._input_name: str = model_input.name
        self._output_names = [output.name for output in self.session.get_outputs()]
        self.input_batch_is_dynamic = not isinstance(model_input.shape[0], int)
        self.last_timings: InferTimings | None = None
        self._warm_up()
        logger.info(
            "model %s loaded from %s: providers %s, input %spx%s, dynamic batch %s",
            self.name,
            model_path,
            self.providers,
            self.input_size_px,
            " (fitted to the frame)" if self.adapter.fit_input else "",
            self.input_batch_is_dynamic,
        )

    @classmethod
    def from_config(
        cls, config: ModelConfig, models_dir: Path | None = None
    ) -> OnnxDetector:
        """Build from config: `config.path`, else the manifest file of `config.name`.

        Labels come from the manifest entry of `config.name` when it has one,
        else from the model's metadata.
        """
        try:
            entry = load_manifest().model(config.name)
        except UnknownEntryError:
            entry = None
        path = config.path or resolve_model(config.name, models_dir)
        labels = entry.classes if entry is not None and entry.classes else None
        return cls(model_path=path, config=config, labels=labels)

    def _free_input(
        self, model_path: Path, config: ModelConfig, providers: list[str]
    ) -> None:
        """Switch to a session that takes any input size, once a wide frame has
        been detected through it; keep the square session when it cannot."""
        try:
            freed = free_input_size(model_path)
            session = _open_session(freed.serialized, config, providers)
            fitted = type(self.adapter)(
                config=config,
                labels=self.labels,
                input_size_px=self.input_size_px,
                fit_input=True,
            )
            wide = np.zeros((9, 16, 3), dtype=np.uint8)
            tensor, metas = fitted.preprocess([wide])
            name = session.get_inputs()[0].name
            fitted.decode(session.run(None, {name: tensor}), metas)
        except Exception as error:
            logger.warning(
                "model %s: keeping the square %spx input (its graph does not take "
                "another size: %s)",
                self.name,
                self.input_size_px,
                error,
            )
            return
        self.session = session
        self.adapter = fitted

    def _warm_up(self) -> None:
        # The first run allocates memory arenas and picks kernels (TensorRT even
        # builds its engine), taking many times a normal run. Paying it at load
        # keeps it out of the first real frames, the timings and stall checks.
        size = self.input_size_px
        self.session.run(
            self._output_names,
            {self._input_name: np.zeros((1, 3, size, size), dtype=np.float32)},
        )

    def _run(self, tensor: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
        if self.input_batch_is_dynamic or tensor.shape[0] == 1:
            outputs: list[npt.NDArray[np.float32]] = self.session.run(
                self._output_names, {self._input_name: tensor}
            )
            return outputs
        singles = [
            self.session.run(self._output_names, {self._input_name: tensor[i : i + 1]})
            for i in range(tensor.shape[0])
        ]
        return [np.concatenate(parts) for parts in zip(*singles, strict=True)]

    def detect_batch(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        """Detect objects in several frames.

        One onnxruntime run serves the whole batch when the model's batch axis
        is dynamic; a batch-1 model runs once per image.

        Args:
            images: BGR uint8 frames, each (H, W, 3); sizes may differ.

        Returns:
            One `Detections` per frame, boxes in that frame's pixels.
        """
        if not images:
            return []
        start = time.perf_counter()
        tensor, metas = self.adapter.preprocess(images)
        prepared = time.perf_counter()
        outputs = self._run(tensor)
        inferred = time.perf_counter()
        detections = self.adapter.decode(outputs, metas)
        done = time.perf_counter()
        self.last_timings = InferTimings(
            batch_size=len(images),
            preprocess_ms=(prepared - start) * 1e3,
            infer_ms=(inferred - prepared) * 1e3,
            decode_ms=(done - inferred) * 1e3,
        )
        return detections

    def detect(self, image: npt.NDArray[np.uint8]) -> Detections:
        """Detect objects in one frame (see `detect_batch`)."""
        return self.detect_batch([image])[0]


def _open_session(
    model: Path | bytes, config: ModelConfig, providers: list[str]
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = config.intra_op_threads
    options.inter_op_num_threads = 1
    # Spinning costs idle CPU but wins throughput here (docs/benchmarks.md).
    options.add_session_config_entry(
        "session.intra_op.allow_spinning", "1" if config.intra_op_spinning else "0"
    )
    # Level 3 keeps onnxruntime's own warnings (e.g. initializers listed as
    # graph inputs in older exports) off stderr; errors still raise.
    options.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=providers)
