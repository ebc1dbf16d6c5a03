"""Class-aware non-maximum suppression in vectorised numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def _check_inputs(
    xyxy: npt.NDArray[np.floating],
    confidence: npt.NDArray[np.floating],
    class_id: npt.NDArray[np.integer],
    iou_threshold: float,
) -> None:
    if xyxy.ndim != 2 or xyxy.shape[1] != 4:
        raise ValueError(f"xyxy must have shape (N, 4), got {xyxy.shape}")
    n = xyxy.shape[0]
    if confidence.shape != (n,):
        raise ValueError(f"confidence must have shape ({n},), got {confidence.shape}")
    if class_id.shape != (n,):
        raise ValueError(f"class_id must have shape ({n},), got {class_id.shape}")
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")


def nms_class_aware(
    xyxy: npt.NDArray[np.floating],
    confidence: npt.NDArray[np.floating],
    class_id: npt.NDArray[np.integer],
    iou_threshold: float,
) -> npt.NDArray[np.int64]:
    """Greedy NMS run separately per class.

    Boxes of different classes never suppress each other: each class is shifted
    to its own region of the plane, so one pass handles all classes.

    Args:
        xyxy: Boxes (x1, y1, x2, y2), shape (N, 4), any float dtype, pixels.
        confidence: Scores, shape (N,).
        class_id: Class per box, shape (N,), integer.
        iou_threshold: A box is dropped when its IoU with a better box of the
            same class is above this value.

    Returns:
        Indices of the kept boxes into the inputs, best score first, shape (K,),
        int64.

    Raises:
        ValueError: the shapes disagree or the threshold is outside [0, 1].
    """
    _check_inputs(xyxy, confidence, class_id, iou_threshold)
    if xyxy.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-confidence, kind="stable")
    boxes = xyxy[order].astype(np.float64)
    span = float(boxes.max() - min(boxes.min(), 0.0)) + 1.0
    boxes += (class_id[order].astype(np.float64) * span)[:, None]
    areas = np.maximum(boxes[:, 2] - boxes[:, 0], 0.0) * np.maximum(
        boxes[:, 3] - boxes[:, 1], 0.0
    )
    suppressed = np.zeros(boxes.shape[0], dtype=np.bool_)
    keep: list[int] = []
    for i in range(boxes.shape[0]):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = boxes[i + 1 :]
        inter_w = np.minimum(boxes[i, 2], rest[:, 2]) - np.maximum(
            boxes[i, 0], rest[:, 0]
        )
        inter_h = np.minimum(boxes[i, 3], rest[:, 3]) - np.maximum(
            boxes[i, 1], rest[:, 1]
        )
        inter = np.maximum(inter_w, 0.0) * np.maximum(inter_h, 0.0)
        union = areas[i] + areas[i + 1 :] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        suppressed[i + 1 :] |= iou > iou_threshold
    return order[np.asarray(keep, dtype=np.int64)].astype(np.int64)
