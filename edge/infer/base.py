"""Detector adapter plugin base: preprocess frames, decode raw outputs, registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from edge.config import ModelConfig
from edge.infer.letterbox import (
    LetterboxMeta,
    LetterboxSpec,
    canvas_size,
    check_image,
    letterbox,
)
from edge.infer.nms import nms_class_aware
from edge.types import Detections
from models.family import ModelFamily

_REGISTRY: dict[ModelFamily, type[DetectorAdapter]] = {}


class BatchDetector(Protocol):
    """What the runner needs from a detector."""

    name: str

    @property
    def labels(self) -> list[str]: ...

    def detect_batch(
        self, images: Sequence[npt.NDArray[np.uint8]]
    ) -> list[Detections]: ...


class UnknownFamilyError(LookupError):
    """No adapter is registered for a model family."""


@dataclass(frozen=True, slots=True)
class Candidates:
    """Boxes above the confidence threshold of one image, before NMS.

    Attributes:
        xyxy: Boxes in model-input pixels, shape (N, 4), float32.
        confidence: Scores, shape (N,), float32.
        class_id: Model class index, shape (N,), int64.
    """

    xyxy: npt.NDArray[np.float32]
    confidence: npt.NDArray[np.float32]
    class_id: npt.NDArray[np.int64]


# Padding kept beside a frame on a fitted side: the detectors were trained on
# squares with grey below or beside a wide frame, and their deepest features see
# hundreds of pixels; with none, scores of small people fell (docs/edge.md).
FIT_MARGIN_PX = 32


class DetectorAdapter(ABC):
    """Turns frames into a model batch and raw model outputs into `Detections`.

    One subclass per model family; subclasses register themselves by `type_key`.
    Instances keep no per-call state, so one adapter may serve several threads.
    """

    type_key: ClassVar[ModelFamily]
    # The family's largest stride when its decode works on any input of multiples
    # of it (so a wide frame can skip the square's padding), else None.
    free_input_stride: ClassVar[int | None] = None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        key = cls.__dict__.get("type_key")
        if key is None:
            return
        if key in _REGISTRY:
            raise TypeError(
                f"two adapters for family {key!r}: {_REGISTRY[key]} and {cls}"
            )
        _REGISTRY[key] = cls

    def __init__(
        self,
        *,
        config: ModelConfig,
        labels: Sequence[str],
        input_size_px: int | None = None,
        fit_input: bool = False,
    ) -> None:
        """Set thresholds, labels, the input size and the letterbox spec.

        Args:
            config: Model settings (thresholds, label filter, input size).
            labels: Class names of the model, index = class id.
            input_size_px: Square input side; defaults to `config.input_size`.
            fit_input: Letterbox into the smallest canvas of multiples of
                `free_input_stride` instead of the square (the session must take
                any input size); ignored by families without a free input.

        Raises:
            ValueError: `labels` is empty, or `config.labels` names a label the
                model does not have.
        """
        if not labels:
            raise ValueError("a detector adapter needs the model's class labels")
        self.config = config
        self.labels = list(labels)
        self.input_size_px = input_size_px or config.input_size
        self.allowed_class_ids = _allowed_class_ids(self.labels, config.labels)
        self.letterbox_spec = self.letterbox_spec_for(self.input_size_px)
        self.fit_input = fit_input and self.free_input_stride is not None

    @staticmethod
    @abstractmethod
    def letterbox_spec_for(size_px: int) -> LetterboxSpec:
        """How this family letterboxes frames into a `size_px` square input."""

    @abstractmethod
    def to_tensor(self, canvases: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Turn letterboxed BGR canvases (B, S, S, 3) into the model input tensor."""

    @abstractmethod
    def candidates(
        self,
        outputs: list[npt.NDArray[np.float32]],
        index: int,
        input_wh: tuple[int, int],
    ) -> Candidates:
        """Boxes above the threshold of image `index` of the batch, in input pixels.

        `input_wh` is the size of the batch's input (the square, or the fitted
        canvas).
        """

    def input_wh_for(self, sizes_wh: Sequence[tuple[int, int]]) -> tuple[int, int]:
        """The model input (width, height) a batch of frames of these sizes gets:
        the square, or with `fit_input` the smallest canvas that holds them all."""
        if self.fit_input and self.free_input_stride is not None:
            return canvas_size(
                sizes_wh,
                self.letterbox_spec,
                self.free_input_stride,
                margin_px=FIT_MARGIN_PX,
            )
        return self.input_size_px, self.input_size_px

    def preprocess(
        self, images: Sequence[npt.NDArray[np.uint8]]
    ) -> tuple[npt.NDArray[np.float32], list[LetterboxMeta]]:
        """Letterbox and convert frames into one batch tensor.

        Args:
            images: BGR uint8 frames, each shape (H, W, 3); sizes may differ.

        Returns:
            The input tensor, shape (B, 3, S, S), float32 (or (B, 3, h, w) with
            `fit_input`: the smallest canvas that holds every image of the batch),
            and one meta per image.

        Raises:
            ValueError: `images` is empty or an image is not (H, W, 3).
        """
        if not images:
            raise ValueError("preprocess needs at least one image")
        spec = self.letterbox_spec
        if self.fit_input:
            for image in images:
                check_image(image)
        width, height = self.input_wh_for(
            [(image.shape[1], image.shape[0]) for image in images]
        )
        canvases = np.empty((len(images), height, width, 3), dtype=np.uint8)
        metas = [
            letterbox(image, spec, out=canvases[i])[1] for i, image in enumerate(images)
        ]
        return self.to_tensor(canvases), metas

    def decode(
        self, outputs: list[npt.NDArray[np.float32]], metas: list[LetterboxMeta]
    ) -> list[Detections]:
        """Convert raw outputs of one batch into detections per image.

        Args:
            outputs: Model outputs in session order, each with batch dim first.
            metas: Letterbox meta per image, as returned by `preprocess`.

        Returns:
            One `Detections` per image, boxes in original-frame pixels.
        """
        return [
            self._finish(self.candidates(outputs, i, meta.input_wh), meta)
            for i, meta in enumerate(metas)
        ]

    def _finish(self, found: Candidates, meta: LetterboxMeta) -> Detections:
        if found.confidence.shape[0] == 0:
            return Detections.empty()
        keep = nms_class_aware(
            found.xyxy, found.confidence, found.class_id, self.config.nms_iou
        )
        xyxy = meta.to_original(found.xyxy[keep])
        has_area = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        return Detections(
            xyxy=xyxy[has_area],
            confidence=found.confidence[keep][has_area].astype(np.float32),
            class_id=found.class_id[keep][has_area],
        )

    def best_class(
        self, class_scores: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Best allowed class per row.

        Args:
            class_scores: Scores per class, shape (N, C), float32.

        Returns:
            Score of the best allowed class, shape (N,), and its id, shape (N,).
        """
        allowed = self.allowed_class_ids
        if allowed is not None:
            class_scores = class_scores[:, allowed]
        best = class_scores.argmax(axis=1)
        score = np.take_along_axis(class_scores, best[:, None], axis=1)[:, 0]
        ids = allowed[best] if allowed is not None else best.astype(np.int64)
        return score, ids

    def best_class_above(
        self, class_scores: npt.NDArray[np.float32], threshold: float
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Rows whose best allowed class reaches `threshold`, with that class.

        Rows are screened first so that the argmax runs on the few survivors.

        Args:
            class_scores: Scores per class, shape (N, C), float32 (may be a view).
            threshold: Lowest score kept.

        Returns:
            Row indices (K,), their best allowed score (K,) and class id (K,).
        """
        allowed = self.allowed_class_ids
        usable = class_scores if allowed is None else class_scores[:, allowed]
        if usable.flags.c_contiguous:
            # numpy reduces short contiguous rows slowly (~0.25 ms for 2704 x 80);
            # comparing all scores and mapping hits to rows is ~8x faster.
            hits = np.flatnonzero(usable >= threshold)
            rows = np.unique(hits // usable.shape[1]).astype(np.int64)
        else:  # a transposed (C, N) head reduces fast along its long axis
            rows = np.flatnonzero(usable.max(axis=1) >= threshold).astype(np.int64)
        score, class_id = self.best_class(class_scores[rows])
        return rows, score, class_id


def _allowed_class_ids(
    labels: list[str], keep: list[str]
) -> npt.NDArray[np.int64] | None:
    if not keep:
        return None
    unknown = sorted(set(keep) - set(labels))
    if unknown:
        raise ValueError(
            f"labels {unknown} are not classes of the model (known: {labels})"
        )
    return np.array(sorted({labels.index(name) for name in keep}), dtype=np.int64)


def empty_candidates() -> Candidates:
    """A `Candidates` with no boxes."""
    return Candidates(
        xyxy=np.zeros((0, 4), dtype=np.float32),
        confidence=np.zeros(0, dtype=np.float32),
        class_id=np.zeros(0, dtype=np.int64),
    )


def adapter_type_for(family: ModelFamily) -> type[DetectorAdapter]:
    """The adapter class registered for a model family.

    Raises:
        UnknownFamilyError: no adapter is registered for `family`.
    """
    try:
        return _REGISTRY[family]
    except KeyError:
        known = sorted(str(key) for key in _REGISTRY)
        raise UnknownFamilyError(
            f"no detector adapter for family {family!r} (registered: {known})"
        ) from None
