"""Letterbox frames into a model input and map boxes back to the frame.

The input is a square by default; a model whose input size is free takes the
smallest canvas, in multiples of its largest stride, that holds the resized
frame plus a margin of padding (`canvas_size`; the node keeps `FIT_MARGIN_PX`,
as detection near the frame's edge needs it), so a wide frame does not pay for
rows of padding it does not need.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class LetterboxSpec:
    """How one model family letterboxes a frame into its square input.

    Attributes:
        size_px: Side of the square model input in pixels.
        pad_value: Grey level (0-255) of the padding.
        center: Pad evenly on both sides (True) or only right/bottom (False).
        round_size: Round the resized side to the nearest pixel (True) or truncate.
        interpolation: OpenCV interpolation flag used to resize.
    """

    size_px: int
    pad_value: int = 114
    center: bool = False
    round_size: bool = False
    interpolation: int = cv2.INTER_LINEAR

    def __post_init__(self) -> None:
        if self.size_px < 1:
            raise ValueError(f"size_px must be >= 1, got {self.size_px}")
        if not 0 <= self.pad_value <= 255:
            raise ValueError(f"pad_value must be in 0..255, got {self.pad_value}")


@dataclass(frozen=True, slots=True)
class LetterboxMeta:
    """Where a frame landed inside the model input.

    Attributes:
        resolution_wh: Original frame size (width, height) in pixels.
        scale_x: Input pixels per original pixel along x.
        scale_y: Input pixels per original pixel along y.
        pad_x_px: Left padding in input pixels.
        pad_y_px: Top padding in input pixels.
        input_wh: Size (width, height) of the model input the frame landed in.
    """

    resolution_wh: tuple[int, int]
    scale_x: float
    scale_y: float
    pad_x_px: int
    pad_y_px: int
    input_wh: tuple[int, int] = (0, 0)

    def to_original(self, xyxy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Map boxes from model-input pixels to original-frame pixels.

        Args:
            xyxy: Boxes in input pixels, shape (N, 4), float32.

        Returns:
            New array of boxes in frame pixels, clipped to the frame, shape (N, 4).
        """
        offset = np.array(
            [self.pad_x_px, self.pad_y_px, self.pad_x_px, self.pad_y_px],
            dtype=np.float32,
        )
        inv_scale = np.array(
            [1.0 / self.scale_x, 1.0 / self.scale_y] * 2, dtype=np.float32
        )
        out = (xyxy - offset) * inv_scale
        width, height = self.resolution_wh
        np.clip(out[:, 0::2], 0.0, float(width), out=out[:, 0::2])
        np.clip(out[:, 1::2], 0.0, float(height), out=out[:, 1::2])
        return out.astype(np.float32, copy=False)


def resized_size(width: int, height: int, spec: LetterboxSpec) -> tuple[int, int]:
    """Resized (width, height): the longer side becomes `size_px`.

    Truncating specs use opencv_zoo's NanoDet arithmetic (aspect ratio h/w, then
    int); rounding specs use ultralytics' (ratio r, then round(side * r)).
    """
    size = spec.size_px
    if spec.round_size:
        ratio = min(size / width, size / height)
        new_w, new_h = round(width * ratio), round(height * ratio)
    else:
        hw_scale = height / width
        if hw_scale > 1:
            new_w, new_h = int(size / hw_scale), size
        else:
            new_w, new_h = size, int(size * hw_scale)
    return max(1, min(new_w, size)), max(1, min(new_h, size))


def check_image(image: npt.NDArray[np.uint8]) -> None:
    """Raise ValueError unless `image` is a non-empty (H, W, C) array."""
    if image.ndim != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image must have shape (H, W, C), got {image.shape}")


def canvas_size(
    sizes_wh: Iterable[tuple[int, int]],
    spec: LetterboxSpec,
    stride: int,
    margin_px: int = 0,
) -> tuple[int, int]:
    """The smallest input (width, height) that holds every frame resized by `spec`
    and, along a side shorter than `spec.size_px`, `margin_px` of padding; each
    side a multiple of `stride` and at most `spec.size_px`.

    Args:
        sizes_wh: Frame sizes (width, height) that share one input.
        spec: The family's letterbox policy (the longer side becomes `size_px`).
        stride: The model's largest stride; the input must be a multiple of it.
        margin_px: Least padding kept beside the frame on a fitted side.

    Raises:
        ValueError: no sizes, or a stride below 1.
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    resized = [resized_size(width, height, spec) for width, height in sizes_wh]
    if not resized:
        raise ValueError("canvas_size needs at least one frame size")

    def fit(side: int) -> int:
        if side >= spec.size_px:
            return spec.size_px
        return min(spec.size_px, -(-(side + margin_px) // stride) * stride)

    return fit(max(w for w, _ in resized)), fit(max(h for _, h in resized))


def letterbox(
    image: npt.NDArray[np.uint8],
    spec: LetterboxSpec,
    out: npt.NDArray[np.uint8] | None = None,
) -> tuple[npt.NDArray[np.uint8], LetterboxMeta]:
    """Resize keeping the aspect ratio and pad to the canvas.

    Args:
        image: Frame, shape (H, W, C), uint8.
        spec: Size, padding and resize policy of the model family.
        out: Optional preallocated canvas, uint8, overwritten: shape (S, S, C) by
            default, or any (h, w, C) that holds the resized frame and is no
            larger (`canvas_size`).

    Returns:
        The canvas (`out`, or a new (S, S, C) square), and where the frame landed.

    Raises:
        ValueError: the image is empty or not (H, W, C), or `out` has the wrong
            channels, is too small for the resized frame, or is larger than the
            square.
    """
    check_image(image)
    height, width, channels = image.shape
    size = spec.size_px
    new_w, new_h = resized_size(width, height, spec)
    if out is None:
        out = np.empty((size, size, channels), dtype=np.uint8)
    elif (
        out.ndim != 3
        or out.shape[2] != channels
        or not new_h <= out.shape[0] <= size
        or not new_w <= out.shape[1] <= size
    ):
        raise ValueError(
            f"out must have shape {(size, size, channels)} or one between the "
            f"resized {new_w}x{new_h} frame and it, got {out.shape}"
        )
    canvas_h, canvas_w = out.shape[0], out.shape[1]
    pad_x = (canvas_w - new_w) // 2 if spec.center else 0
    pad_y = (canvas_h - new_h) // 2 if spec.center else 0
    out[...] = spec.pad_value
    region = out[pad_y : pad_y + new_h, pad_x : pad_x + new_w]
    if (new_w, new_h) == (width, height):
        region[...] = image
    else:
        resized = cv2.resize(
            image, (new_w, new_h), dst=region, interpolation=spec.interpolation
        )
        if resized is not region:  # older OpenCV may not write into a view
            region[...] = resized
    meta = LetterboxMeta(
        resolution_wh=(width, height),
        scale_x=new_w / width,
        scale_y=new_h / height,
        pad_x_px=pad_x,
        pad_y_px=pad_y,
        input_wh=(canvas_w, canvas_h),
    )
    return out, meta
