"""YOLOX adapter: BGR 0-255 top-left letterbox in, raw grid head out."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import ClassVar

import cv2
import numpy as np
import numpy.typing as npt

from edge.infer.base import Candidates, DetectorAdapter, empty_candidates
from edge.infer.letterbox import LetterboxSpec
from models.family import ModelFamily

STRIDES: tuple[int, ...] = (8, 16, 32)


@functools.lru_cache(maxsize=16)
def grid_and_strides(
    width: int, height: int | None = None, strides: Sequence[int] = STRIDES
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Cell origin and stride of every head row, in YOLOX's row order.

    Args:
        width: Input width in pixels.
        height: Input height in pixels; default `width` (a square).
        strides: Head strides, coarsest last.

    Returns:
        Cell (x, y) per row, shape (N, 2), float32, and stride per row,
        shape (N, 1), float32, with N = sum((width // s) * (height // s)).
        Cached: callers must not write into them.
    """
    rows = width if height is None else height
    grids: list[npt.NDArray[np.float32]] = []
    steps: list[npt.NDArray[np.float32]] = []
    for stride in strides:
        cols, lines = width // stride, rows // stride
        ys, xs = np.meshgrid(np.arange(lines), np.arange(cols), indexing="ij")
        grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32))
        steps.append(np.full((cols * lines, 1), stride, dtype=np.float32))
    return np.concatenate(grids), np.concatenate(steps)


class YoloxAdapter(DetectorAdapter):
    """YOLOX (Megvii) ONNX export with the decode left out of the graph.

    Input: BGR, 0-255, unnormalised, letterboxed top-left with grey 114.
    Output: (B, N, 5 + C) rows of dx, dy, log w, log h, objectness, class scores
    (both already sigmoided) over the stride 8/16/32 grids.
    """

    type_key: ClassVar[ModelFamily] = ModelFamily.YOLOX
    free_input_stride: ClassVar[int | None] = max(STRIDES)

    @staticmethod
    def letterbox_spec_for(size_px: int) -> LetterboxSpec:
        return LetterboxSpec(
            size_px=size_px,
            pad_value=114,
            center=False,
            interpolation=cv2.INTER_LINEAR,
        )

    def to_tensor(self, canvases: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        # Make the uint8 NCHW copy contiguous first: casting a strided view to
        # float is about twice as slow.
        return np.ascontiguousarray(canvases.transpose(0, 3, 1, 2)).astype(np.float32)

    def candidates(
        self,
        outputs: list[npt.NDArray[np.float32]],
        index: int,
        input_wh: tuple[int, int],
    ) -> Candidates:
        head = outputs[0][index]
        grid, strides = grid_and_strides(*input_wh)
        expected = (grid.shape[0], 5 + len(self.labels))
        if head.shape != expected:
            raise ValueError(
                f"YOLOX output per image must be {expected} for a "
                f"{input_wh[0]}x{input_wh[1]} input and {len(self.labels)} labels, "
                f"got {head.shape}"
            )
        threshold = self.config.conf_threshold
        # score = objectness * class score <= objectness, so rows below the
        # threshold on objectness alone can be dropped before any class work.
        rows = np.flatnonzero(head[:, 4] >= threshold)
        if rows.size == 0:
            return empty_candidates()
        picked = head[rows]
        score, class_id = self.best_class(picked[:, 5:])
        score = score * picked[:, 4]
        good = score >= threshold
        rows, picked = rows[good], picked[good]
        stride = strides[rows]
        center = (picked[:, 0:2] + grid[rows]) * stride
        half = np.exp(picked[:, 2:4]) * stride / 2.0
        xyxy = np.concatenate([center - half, center + half], axis=1)
        return Candidates(
            xyxy=xyxy.astype(np.float32, copy=False),
            confidence=score[good].astype(np.float32, copy=False),
            class_id=class_id[good],
        )
