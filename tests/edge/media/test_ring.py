"""Frame ring: bounded by seconds and bytes; frames downscaled to even sides."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import pytest

from edge.media.ring import BufferedFrame, FrameRing
from edge.types import Frame


def _buffered(t: float, h: int = 4, w: int = 4) -> BufferedFrame:
    return BufferedFrame(captured_at=t, i420=np.zeros((h * 3 // 2, w), dtype=np.uint8))


@pytest.mark.parametrize(
    ("times", "max_age_s", "max_bytes", "kept"),
    [
        ([], 10.0, 1000, []),
        ([0.0, 1.0, 2.0], 10.0, 1000, [0.0, 1.0, 2.0]),
        ([0.0, 1.0, 2.0, 3.0], 1.5, 1000, [2.0, 3.0]),
        ([0.0, 1.0, 2.0, 3.0], 1.0, 1000, [2.0, 3.0]),  # exactly max_age_s old stays
        ([0.0, 1.0, 2.0, 3.0], 10.0, 72, [1.0, 2.0, 3.0]),  # 24 bytes each
        ([0.0, 1.0], 10.0, 1, [1.0]),  # the newest frame always stays
    ],
)
def test_frame_ring_given_pushes_should_keep_within_age_and_bytes(
    times: list[float], max_age_s: float, max_bytes: int, kept: list[float]
) -> None:
    ring = FrameRing(max_age_s=max_age_s, max_bytes=max_bytes)
    for t in times:
        ring.push(_buffered(t))
    assert [f.captured_at for f in ring.since(-1.0)] == kept
    assert len(ring) == len(kept)
    assert ring.nbytes == 24 * len(kept)
    assert ring.span_s() == (kept[-1] - kept[0] if kept else 0.0)


def test_frame_ring_given_start_should_return_frames_from_it() -> None:
    ring = FrameRing(max_age_s=10, max_bytes=10_000)
    for t in (1.0, 2.0, 3.0):
        ring.push(_buffered(t))
    assert [f.captured_at for f in ring.since(2.0)] == [2.0, 3.0]
    assert ring.since(3.5) == []


@pytest.mark.parametrize(
    ("kwargs", "expectation"),
    [
        ({"max_age_s": 1, "max_bytes": 1}, nullcontext()),
        ({"max_age_s": 0, "max_bytes": 1}, pytest.raises(ValueError, match="age")),
        ({"max_age_s": 1, "max_bytes": 0}, pytest.raises(ValueError, match="bytes")),
    ],
)
def test_frame_ring_given_bounds_should_validate(
    kwargs: dict[str, Any], expectation: AbstractContextManager[Any]
) -> None:
    with expectation:
        FrameRing(**kwargs)


@pytest.mark.parametrize(
    ("hw", "max_side_px", "expected_wh"),
    [
        ((432, 768), 960, (768, 432)),
        ((1080, 1920), 960, (960, 540)),
        ((481, 641), 960, (640, 480)),  # odd sides become even
        ((1080, 1920), 101, (100, 56)),
    ],
)
def test_buffered_frame_given_frame_should_downscale_to_even_sides(
    hw: tuple[int, int], max_side_px: int, expected_wh: tuple[int, int]
) -> None:
    image = np.full((*hw, 3), 200, dtype=np.uint8)
    frame = Frame(camera_id="c", index=0, captured_at=5.0, image=image)
    buffered = BufferedFrame.from_frame(frame, max_side_px=max_side_px)
    assert buffered.resolution_wh == expected_wh
    assert buffered.nbytes == expected_wh[0] * expected_wh[1] * 3 // 2
    bgr = buffered.to_bgr()
    assert bgr.shape == (expected_wh[1], expected_wh[0], 3)
    assert abs(int(bgr[2, 2, 0]) - 200) <= 2
    image[:] = 0  # the decoder reuses its buffer: the ring must hold a copy
    assert abs(int(buffered.to_bgr()[2, 2, 0]) - 200) <= 2


@pytest.mark.parametrize("shape", [(6, 3), (5, 4), (6, 4, 1), (0, 4)])
def test_buffered_frame_given_non_i420_shape_should_raise(
    shape: tuple[int, ...],
) -> None:
    with pytest.raises(ValueError, match="i420"):
        BufferedFrame(captured_at=0.0, i420=np.zeros(shape, dtype=np.uint8))
