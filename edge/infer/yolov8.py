"""YOLOv8 / YOLO11 adapter (ultralytics ONNX export): [B, 4 + C, N] out."""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np
import numpy.typing as npt

from edge.infer.base import Candidates, DetectorAdapter, empty_candidates
from edge.infer.letterbox import LetterboxSpec
from models.family import ModelFamily


class Yolov8Adapter(DetectorAdapter):
    """Ultralytics YOLOv8/YOLO11 detection export (`format=onnx`, no NMS).

    Input: RGB scaled to 0-1, letterboxed centred with grey 114 (ultralytics
    `LetterBox`: rounded size, INTER_LINEAR). Output: (B, 4 + C, N), each column
    cx, cy, w, h in input pixels followed by C class scores (already sigmoided).
    """

    type_key: ClassVar[ModelFamily] = ModelFamily.YOLOV8
    # Boxes are decoded inside the graph, in input pixels, whatever its size.
    free_input_stride: ClassVar[int | None] = 32

    @staticmethod
    def letterbox_spec_for(size_px: int) -> LetterboxSpec:
        return LetterboxSpec(
            size_px=size_px,
            pad_value=114,
            center=True,
            round_size=True,
            interpolation=cv2.INTER_LINEAR,
        )

    def to_tensor(self, canvases: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        rgb_chw = np.ascontiguousarray(canvases[..., ::-1].transpose(0, 3, 1, 2))
        tensor = rgb_chw.astype(np.float32)
        np.multiply(tensor, np.float32(1.0 / 255.0), out=tensor)
        return tensor

    def candidates(
        self,
        outputs: list[npt.NDArray[np.float32]],
        index: int,
        input_wh: tuple[int, int],
    ) -> Candidates:
        head = outputs[0][index]
        num_classes = len(self.labels)
        if head.ndim != 2 or head.shape[0] != 4 + num_classes:
            raise ValueError(
                f"YOLOv8 output per image must be (4 + {num_classes}, N), "
                f"got {head.shape}"
            )
        columns, score, class_id = self.best_class_above(
            head[4:].T, self.config.conf_threshold
        )
        if columns.size == 0:
            return empty_candidates()
        boxes = head[:4, columns].T
        center, half = boxes[:, 0:2], boxes[:, 2:4] / 2.0
        xyxy = np.concatenate([center - half, center + half], axis=1)
        return Candidates(
            xyxy=xyxy.astype(np.float32, copy=False),
            confidence=score.astype(np.float32, copy=False),
            class_id=class_id,
        )
