"""Tests for the pure parts of simulators/scenario/compositing.py and writing.py."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from gridwatch.contract import EventType
from simulators.scenario.compositing import (
    ObjectTruth,
    SceneTruth,
    _source_indices,
    paste,
)
from simulators.scenario.scenes import Background, Drop, SceneSpec, littering_rule
from simulators.scenario.writing import (
    WINDOW_AFTER_S,
    WINDOW_BEFORE_S,
    Mp4Writer,
    expected_section,
)


def _spec(*segments: tuple[float, float], lead_in_s: float = 0.0) -> SceneSpec:
    return SceneSpec(
        name="t",
        kind="positive",
        description="",
        background=Background(
            clip="c.mp4",
            segments=segments,
            plate=None,
            floor=((0, 0), (1, 0), (1, 1)),
            lead_in_s=lead_in_s,
        ),
        rules=(littering_rule(),),
        drops=(Drop("bottle_blue", (1.0, 0.5, 0.9), 2.0, expect=EventType.LITTERING),),
        fps=2.0,
    )


@pytest.mark.parametrize(
    ("segments", "lead_in", "indices"),
    [
        (((0.0, 2.0),), 0.0, [0, 5, 10, 15]),
        (((1.0, 2.0), (2.0, 1.0)), 0.0, [10, 15, 20, 15]),
        (((0.0, 1.0),), 1.0, [-1, -1, 0, 5]),
    ],
)
def test_source_indices_given_segments_should_map_written_frames(
    segments: tuple[tuple[float, float], ...], lead_in: float, indices: list[int]
) -> None:
    spec = _spec(*segments, lead_in_s=lead_in)
    assert _source_indices(spec, Fraction(10)) == indices


def test_paste_given_partly_outside_and_hidden_should_blend_only_visible() -> None:
    canvas = np.zeros((4, 4, 3), dtype=np.float32)
    patch = np.full((2, 2, 3), 100, dtype=np.uint8)
    alpha = np.array([[1.0, 0.5], [1.0, 1.0]], dtype=np.float32)
    hidden = np.zeros((4, 4), dtype=np.bool_)
    hidden[3, 3] = True
    paste(canvas, patch, alpha, top_left=(3, 2), hidden=hidden)
    assert canvas[2, 3, 0] == 100.0
    assert canvas[3, 3, 0] == 0.0  # hidden by something in front
    assert canvas[:, :3].sum() == 0.0
    paste(canvas, patch, alpha, top_left=(10, 10))  # fully outside: no-op


def _truth(away: float | None) -> SceneTruth:
    obj = ObjectTruth(
        asset="bottle_blue",
        origin="x",
        expect=EventType.LITTERING,
        ground_box=(100.0, 200.0, 120.0, 260.0),
        drop_s=2.0,
        pick_s=None,
        owner_away_from_s=away,
    )
    return SceneTruth(
        resolution_wh=(400, 300),
        fps=2.0,
        frame_count=60,
        objects=(obj,),
        real_people=(0,) * 60,
    )


@pytest.mark.parametrize(("away", "due"), [(10.0, 15.0), (2.0, 7.0)])
def test_expected_section_given_drop_and_owner_away_should_window_the_due_time(
    away: float, due: float
) -> None:
    # littering_rule(): static_s 3, owner_away_s 5: due at max(2 + 3, away + 5).
    section = expected_section(_spec((0.0, 30.0)), _truth(away))
    (event,) = section["events"]
    assert event["type"] == "littering"
    assert event["window"] == [due - WINDOW_BEFORE_S, due + WINDOW_AFTER_S]
    assert event["region"] == [0.22, 0.637, 0.33, 0.897]
    assert "counts" not in section


def test_expected_section_given_owner_never_away_should_raise() -> None:
    with pytest.raises(ValueError, match="never went away"):
        expected_section(_spec((0.0, 30.0)), _truth(None))


def test_mp4_writer_given_odd_size_or_wrong_frame_should_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        Mp4Writer(tmp_path / "a.mp4", resolution_wh=(33, 20), fps=10)
    with Mp4Writer(tmp_path / "b.mp4", resolution_wh=(32, 20), fps=10) as writer:
        writer.write(np.zeros((20, 32, 3), dtype=np.uint8))
        with pytest.raises(ValueError, match="shape"):
            writer.write(np.zeros((20, 30, 3), dtype=np.uint8))
    assert (tmp_path / "b.mp4").stat().st_size > 0
