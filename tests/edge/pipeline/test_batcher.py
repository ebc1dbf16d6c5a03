"""FrameBatcher: due frames across cameras, max batch, max wait, round-robin."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from edge.ingest.slot import FreshestFrameSlot
from edge.pipeline.batcher import FrameBatcher
from edge.types import Frame


def _frame(camera_id: str, index: int = 1) -> Frame:
    return Frame(
        camera_id=camera_id,
        index=index,
        captured_at=time.time(),
        image=np.zeros((4, 4, 3), dtype=np.uint8),
    )


def _batcher(
    cameras: list[str], *, max_batch: int, max_wait_ms: float = 0, interval_s: float = 0
) -> tuple[FrameBatcher, dict[str, FreshestFrameSlot]]:
    notify = threading.Condition()
    slots = {c: FreshestFrameSlot(c, notify) for c in cameras}
    batcher = FrameBatcher(
        slots=slots,
        analysis_interval_s=dict.fromkeys(cameras, interval_s),
        notify=notify,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
    )
    return batcher, slots


@pytest.mark.parametrize(
    ("cameras_with_frames", "max_batch", "expected_size"),
    [(1, 1, 1), (3, 1, 1), (3, 2, 2), (3, 8, 3), (8, 8, 8)],
)
def test_next_batch_given_frames_should_fill_up_to_max_batch(
    cameras_with_frames: int, max_batch: int, expected_size: int
) -> None:
    cameras = [f"c{i}" for i in range(8)]
    batcher, slots = _batcher(cameras, max_batch=max_batch, max_wait_ms=20)
    for camera_id in cameras[:cameras_with_frames]:
        slots[camera_id].put(_frame(camera_id))
    batch = batcher.next_batch(threading.Event())
    assert len(batch) == expected_size
    assert len({f.camera_id for f in batch}) == expected_size


def test_next_batch_given_stop_and_no_frames_should_return_empty() -> None:
    batcher, _ = _batcher(["c0"], max_batch=4)
    stop = threading.Event()
    stop.set()
    assert batcher.next_batch(stop) == []


def test_next_batch_given_camera_not_due_should_wait_for_its_interval() -> None:
    batcher, slots = _batcher(["c0"], max_batch=1, interval_s=0.3)
    slots["c0"].put(_frame("c0", 1))
    first = batcher.next_batch(threading.Event())
    assert first[0].index == 1
    batcher.release(first)
    slots["c0"].put(_frame("c0", 2))
    slots["c0"].put(_frame("c0", 3))  # replaces frame 2: only the freshest is kept
    started = time.monotonic()
    batch = batcher.next_batch(threading.Event())
    assert time.monotonic() - started >= 0.2
    assert [f.index for f in batch] == [3]
    assert slots["c0"].frames_dropped == 1


def test_next_batch_given_busy_cameras_should_serve_all_round_robin() -> None:
    cameras = ["a", "b", "c"]
    batcher, slots = _batcher(cameras, max_batch=1)
    served: list[str] = []
    for _ in range(6):
        for camera_id in cameras:
            if slots[camera_id].peek_time() is None:
                slots[camera_id].put(_frame(camera_id))
        batch = batcher.next_batch(threading.Event())
        served.append(batch[0].camera_id)
        batcher.release(batch)
    assert set(served) == set(cameras)
    assert max(served.count(c) for c in cameras) == 2


def test_next_batch_given_camera_in_flight_should_skip_it_until_released() -> None:
    batcher, slots = _batcher(["a", "b"], max_batch=1)
    slots["a"].put(_frame("a", 1))
    first = batcher.next_batch(threading.Event())
    slots["a"].put(_frame("a", 2))
    slots["b"].put(_frame("b", 1))
    second = batcher.next_batch(threading.Event())
    assert [f.camera_id for f in second] == ["b"], "a is still being inferred"
    batcher.release(first)
    third = batcher.next_batch(threading.Event())
    assert [(f.camera_id, f.index) for f in third] == [("a", 2)]


@pytest.mark.parametrize("max_batch", [0, -1])
def test_batcher_given_bad_max_batch_should_raise(max_batch: int) -> None:
    with pytest.raises(ValueError, match="max_batch"):
        _batcher(["c0"], max_batch=max_batch)
