"""Tests for edge.infer.letterbox."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import cv2
import numpy as np
import pytest

from edge.infer.letterbox import LetterboxMeta, LetterboxSpec, letterbox


def _image(width: int, height: int, value: int = 200) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.uint8)


def _zoo_letterbox_scale(height: int, width: int, size: int) -> list[int]:
    """`letterbox_scale` of opencv_zoo's nanodet demo.py, copied arithmetic."""
    top, left, newh, neww = 0, 0, size, size
    if height != width:
        hw_scale = height / width
        if hw_scale > 1:
            newh, neww = size, int(size / hw_scale)
            left = int((size - neww) * 0.5)
        else:
            newh, neww = int(size * hw_scale), size
            top = int((size - newh) * 0.5)
    return [top, left, newh, neww]


@pytest.mark.parametrize(
    ("resolution_wh", "center", "expected_pad_xy", "expected_scale_xy"),
    [
        ((768, 432), False, (0, 0), (416 / 768, 234 / 432)),
        ((768, 432), True, (0, 91), (416 / 768, 234 / 432)),
        ((432, 768), True, (91, 0), (234 / 432, 416 / 768)),
        ((416, 416), True, (0, 0), (1.0, 1.0)),
        ((208, 104), False, (0, 0), (2.0, 2.0)),
    ],
)
def test_letterbox_given_frame_should_place_it_with_expected_pad_and_scale(
    resolution_wh: tuple[int, int],
    center: bool,
    expected_pad_xy: tuple[int, int],
    expected_scale_xy: tuple[float, float],
) -> None:
    spec = LetterboxSpec(size_px=416, pad_value=114, center=center)
    canvas, meta = letterbox(_image(*resolution_wh), spec)
    assert canvas.shape == (416, 416, 3)
    assert (meta.pad_x_px, meta.pad_y_px) == expected_pad_xy
    assert meta.scale_x == pytest.approx(expected_scale_xy[0])
    assert meta.scale_y == pytest.approx(expected_scale_xy[1])
    assert meta.resolution_wh == resolution_wh


@pytest.mark.parametrize("center", [False, True])
def test_letterbox_given_wide_frame_should_fill_padding_with_pad_value(
    center: bool,
) -> None:
    spec = LetterboxSpec(size_px=416, pad_value=114, center=center)
    canvas, meta = letterbox(_image(768, 432, value=7), spec)
    top, bottom = meta.pad_y_px, meta.pad_y_px + 234
    assert (canvas[top:bottom] == 7).all()
    assert (canvas[:top] == 114).all()
    assert (canvas[bottom:] == 114).all()


@pytest.mark.parametrize(
    "resolution_wh", [(768, 432), (640, 480), (1280, 720), (480, 640), (333, 777)]
)
def test_letterbox_given_nanodet_spec_should_match_opencv_zoo_demo(
    resolution_wh: tuple[int, int],
) -> None:
    width, height = resolution_wh
    spec = LetterboxSpec(
        size_px=416, pad_value=0, center=True, interpolation=cv2.INTER_AREA
    )
    _, meta = letterbox(_image(width, height), spec)
    top, left, newh, neww = _zoo_letterbox_scale(height, width, 416)
    assert (meta.pad_y_px, meta.pad_x_px) == (top, left)
    assert meta.scale_x == pytest.approx(neww / width)
    assert meta.scale_y == pytest.approx(newh / height)


def test_letterbox_given_preallocated_out_should_write_into_it() -> None:
    spec = LetterboxSpec(size_px=64)
    out = np.zeros((64, 64, 3), dtype=np.uint8)
    canvas, _ = letterbox(_image(128, 64, value=9), spec, out=out)
    assert canvas is out
    assert (out[:32] == 9).all()


@pytest.mark.parametrize(
    ("image", "out", "expectation"),
    [
        (_image(8, 8), None, nullcontext()),
        (np.zeros((0, 8, 3), np.uint8), None, pytest.raises(ValueError, match="shape")),
        (np.zeros((8, 8), np.uint8), None, pytest.raises(ValueError, match="shape")),
        (
            _image(8, 8),
            np.zeros((32, 32, 3), np.uint8),
            pytest.raises(ValueError, match="out"),
        ),
    ],
)
def test_letterbox_given_bad_input_should_raise(
    image: np.ndarray,
    out: np.ndarray | None,
    expectation: AbstractContextManager[object],
) -> None:
    with expectation:
        letterbox(image, LetterboxSpec(size_px=16), out=out)


@pytest.mark.parametrize(
    ("size_px", "pad_value", "expectation"),
    [
        (416, 114, nullcontext()),
        (0, 114, pytest.raises(ValueError, match="size_px")),
        (416, 256, pytest.raises(ValueError, match="pad_value")),
    ],
)
def test_letterbox_spec_given_values_should_validate(
    size_px: int, pad_value: int, expectation: AbstractContextManager[object]
) -> None:
    with expectation:
        LetterboxSpec(size_px=size_px, pad_value=pad_value)


@pytest.mark.parametrize("center", [False, True])
def test_to_original_given_box_mapped_into_input_should_come_back(center: bool) -> None:
    spec = LetterboxSpec(size_px=416, center=center)
    _, meta = letterbox(_image(768, 432), spec)
    original = np.array([[100.0, 50.0, 300.0, 400.0]], dtype=np.float32)
    scale = np.array([meta.scale_x, meta.scale_y] * 2)
    pad = np.array([meta.pad_x_px, meta.pad_y_px] * 2)
    back = meta.to_original((original * scale + pad).astype(np.float32))
    np.testing.assert_allclose(back, original, atol=1e-3)


@pytest.mark.parametrize(
    ("xyxy", "expected"),
    [
        ([[-10.0, -5.0, 50.0, 60.0]], [[0.0, 0.0, 50.0, 50.0]]),
        ([[90.0, 40.0, 130.0, 80.0]], [[90.0, 40.0, 100.0, 50.0]]),
        (np.zeros((0, 4)), np.zeros((0, 4))),
    ],
)
def test_to_original_given_box_outside_frame_should_clip(
    xyxy: list[list[float]], expected: list[list[float]]
) -> None:
    meta = LetterboxMeta(
        resolution_wh=(100, 50), scale_x=1.0, scale_y=1.0, pad_x_px=0, pad_y_px=0
    )
    result = meta.to_original(np.asarray(xyxy, dtype=np.float32))
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, np.asarray(expected, dtype=np.float32))
