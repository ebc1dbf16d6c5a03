"""Tests for edge/track/bytetrack.py."""

from __future__ import annotations

import warnings
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import pytest

from edge.track.bytetrack import ObjectTracker, TrackerSettings
from edge.types import Detections

T0 = 1_700_000_000.0


def _box_at(
    x: float, y: float = 100.0, w: float = 40.0, h: float = 100.0
) -> list[float]:
    return [x, y, x + w, y + h]


@pytest.mark.parametrize(
    ("fps", "step_px"),
    [(2.0, 12.0), (5.0, 6.0), (10.0, 3.0)],
)
def test_object_tracker_given_moving_box_should_keep_one_track_id(
    fps: float, step_px: float
) -> None:
    tracker = ObjectTracker("cam-1", analysis_fps=fps)
    ids = []
    for i in range(15):
        dets = Detections.from_lists([_box_at(50.0 + i * step_px)], [0.9], [0])
        ids.append(int(tracker.update(dets, timestamp=T0 + i / fps).tracker_id[0]))
    assert ids[0] == -1  # not confirmed on its first frame
    assert len(set(ids[1:])) == 1
    assert ids[1] >= 0


def test_object_tracker_given_variable_frame_gaps_should_keep_one_track_id() -> None:
    tracker = ObjectTracker("cam-1", analysis_fps=5.0)
    gaps = [0.2, 0.1, 0.4, 0.2, 0.5, 0.1, 0.3, 0.2]
    times = T0 + np.cumsum([0.0, *gaps])
    ids = set()
    for i, t in enumerate(times):
        dets = Detections.from_lists([_box_at(50.0 + 20.0 * (t - T0))], [0.9], [0])
        ids.add(int(tracker.update(dets, timestamp=float(t)).tracker_id[0]))
        if i == 0:
            ids.clear()
    assert len(ids) == 1
    assert min(ids) >= 0


def test_object_tracker_given_empty_input_should_return_empty() -> None:
    tracker = ObjectTracker("cam-1")
    out = tracker.update(Detections.empty(), timestamp=T0)
    assert len(out) == 0
    assert out.tracker_id.shape == (0,)


def test_object_tracker_given_detections_should_return_new_rows_in_input_order() -> (
    None
):
    tracker = ObjectTracker("cam-1", analysis_fps=5.0)
    boxes = [_box_at(10.0), _box_at(300.0), _box_at(150.0)]
    for i in range(3):
        dets = Detections.from_lists(boxes, [0.9, 0.8, 0.95], [0, 0, 0])
        out = tracker.update(dets, timestamp=T0 + i * 0.2)
    assert out is not dets
    np.testing.assert_array_equal(out.xyxy, dets.xyxy)
    np.testing.assert_array_equal(dets.tracker_id, [-1, -1, -1])  # caller untouched
    assert len(set(out.tracker_id.tolist())) == 3
    assert (out.tracker_id >= 0).all()


def test_object_tracker_given_same_box_two_classes_should_track_each_class() -> None:
    tracker = ObjectTracker("cam-1", analysis_fps=5.0)
    for i in range(4):
        dets = Detections.from_lists(
            [_box_at(100.0), _box_at(102.0)], [0.9, 0.9], [0, 1]
        )
        out = tracker.update(dets, timestamp=T0 + i * 0.2)
    person_id, bicycle_id = out.tracker_id.tolist()
    assert person_id >= 0
    assert bicycle_id >= 0
    assert person_id != bicycle_id


def test_object_tracker_given_low_confidence_box_should_leave_it_untracked() -> None:
    tracker = ObjectTracker("cam-1", analysis_fps=5.0)
    for i in range(5):
        dets = Detections.from_lists([_box_at(100.0)], [0.2], [0])
        out = tracker.update(dets, timestamp=T0 + i * 0.2)
    assert out.tracker_id.tolist() == [-1]


def test_object_tracker_given_backward_timestamps_should_track_quietly() -> None:
    tracker = ObjectTracker("cam-1", analysis_fps=5.0)
    times = [T0, T0 + 0.2, T0 + 0.2, T0 + 0.1, T0 + 0.4]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i, t in enumerate(times):
            dets = Detections.from_lists([_box_at(100.0 + i)], [0.9], [0])
            out = tracker.update(dets, timestamp=t)
    assert out.tracker_id[0] >= 0


def test_object_tracker_given_object_gone_past_lost_time_should_give_new_id() -> None:
    tracker = ObjectTracker(
        "cam-1", analysis_fps=5.0, settings=TrackerSettings(lost_track_s=1.0)
    )
    first = []
    for i in range(3):
        dets = Detections.from_lists([_box_at(100.0)], [0.9], [0])
        first.append(int(tracker.update(dets, timestamp=T0 + i * 0.2).tracker_id[0]))
    for i in range(3, 15):  # 2.4 s with nothing
        tracker.update(Detections.empty(), timestamp=T0 + i * 0.2)
    assert tracker.active_track_count == 0
    later = []
    for i in range(15, 18):
        dets = Detections.from_lists([_box_at(100.0)], [0.9], [0])
        later.append(int(tracker.update(dets, timestamp=T0 + i * 0.2).tracker_id[0]))
    assert later[-1] >= 0
    assert later[-1] != first[-1]


@pytest.mark.parametrize(
    ("kwargs", "expectation"),
    [
        ({}, nullcontext()),
        ({"lost_track_s": 0.0}, nullcontext()),
        ({"lost_track_s": -1.0}, pytest.raises(ValueError, match="lost_track_s")),
        ({"minimum_consecutive_frames": 0}, pytest.raises(ValueError, match="minimum")),
        (
            {"track_activation_threshold": 1.5},
            pytest.raises(ValueError, match="track_"),
        ),
    ],
)
def test_tracker_settings_given_values_should_validate(
    kwargs: dict[str, Any], expectation: AbstractContextManager[Any]
) -> None:
    with expectation:
        TrackerSettings(**kwargs)


def test_object_tracker_given_zero_fps_should_raise() -> None:
    with pytest.raises(ValueError, match="analysis_fps"):
        ObjectTracker("cam-1", analysis_fps=0.0)
