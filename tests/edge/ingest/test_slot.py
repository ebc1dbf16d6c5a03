"""FreshestFrameSlot keeps only the newest frame and counts replaced ones."""

from __future__ import annotations

import threading

import numpy as np

from edge.ingest.slot import FreshestFrameSlot
from edge.types import Frame


def _frame(index: int) -> Frame:
    return Frame("c", index, float(index), np.zeros((2, 2, 3), dtype=np.uint8))


def test_slot_given_no_frame_should_take_none() -> None:
    slot = FreshestFrameSlot("c", threading.Condition())
    assert slot.take() is None
    assert slot.peek_time() is None


def test_slot_given_frames_faster_than_taken_should_keep_newest_and_count_drops() -> (
    None
):
    slot = FreshestFrameSlot("c", threading.Condition())
    for index in range(1, 6):
        slot.put(_frame(index))
    taken = slot.take()
    assert taken is not None and taken.index == 5
    assert slot.frames_in == 5
    assert slot.frames_dropped == 4
    assert slot.take() is None
