"""Tests for harness/accuracy/perturb.py: camera conditions as frame transforms."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from harness.accuracy.match import TypeTally
from harness.accuracy.perturb import (
    PERTURBATIONS,
    TimedFrame,
    drop_burst,
    parse_perturbations,
    perturbed,
    read_clip,
    uneven_fps,
    write_clip,
)
from harness.accuracy.perturb_run import ConditionOutcome, SceneOutcome, format_table

FPS = 10
W, H = 96, 64


def _frames(seconds: float = 10.0) -> Iterator[TimedFrame]:
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, size=(H, W, 3), dtype=np.uint8)
    for i in range(round(seconds * FPS)):
        yield TimedFrame(i / FPS, np.roll(texture, i, axis=1))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "moving.mp4"
    write_clip(_frames(), path)
    return path


def test_write_clip_then_read_clip_should_keep_times_and_size(clip: Path) -> None:
    frames = list(read_clip(clip))

    assert len(frames) == 100
    assert frames[0].image.shape == (H, W, 3)
    assert [round(f.t_s, 3) for f in frames[:3]] == [0.0, 0.1, 0.2]


def test_write_clip_given_gap_should_keep_it(tmp_path: Path) -> None:
    path = tmp_path / "gap.mp4"
    frames = [f for f in _frames(4.0) if not 1.0 <= f.t_s < 2.5]

    write_clip(iter(frames), path)

    times = [round(f.t_s, 2) for f in read_clip(path)]
    assert 0.9 in times and 2.5 in times and 1.5 not in times


def test_drop_burst_should_lose_one_second_every_eight() -> None:
    kept = [f.t_s for f in drop_burst(_frames(20.0), np.random.default_rng(0))]

    assert len(kept) == 200 - 3 * FPS  # bursts at 2-3, 10-11 and 18-19 s
    assert not [t for t in kept if 2.0 <= t < 3.0 or 10.0 <= t < 11.0]
    assert 1.9 in kept and 3.0 in kept and 17.9 in kept and 19.0 in kept


def test_uneven_fps_should_leave_irregular_gaps_of_0_1_to_0_45_s() -> None:
    kept = [f.t_s for f in uneven_fps(_frames(60.0), np.random.default_rng(1))]
    gaps = np.diff(kept)

    assert gaps.min() >= 0.1 - 1e-6 and gaps.max() <= 0.5 + 1e-6
    assert 2.0 < len(kept) / 60.0 < 5.0  # ~3.6 fps
    assert gaps.std() > 0.05  # uneven, not a lower steady rate


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_every_perturbation_should_give_bgr_frames_in_time_order(
    clip: Path, name: str
) -> None:
    frames = list(perturbed(clip, PERTURBATIONS[name]))
    again = list(perturbed(clip, PERTURBATIONS[name]))

    assert frames, name
    times = [f.t_s for f in frames]
    assert times == sorted(times)
    assert all(f.image.dtype == np.uint8 and f.image.ndim == 3 for f in frames)
    # seeded: the same pixels on every run
    assert np.array_equal(frames[-1].image, again[-1].image)


def test_perturbations_should_change_the_pixels_as_named(clip: Path) -> None:
    original = list(read_clip(clip))[50].image.astype(np.float32)

    def frame_50(name: str) -> np.ndarray:
        frames = list(perturbed(clip, PERTURBATIONS[name]))
        return frames[50].image.astype(np.float32)

    assert frame_50("half_res").shape == (H // 2, W // 2, 3)
    assert frame_50("low_light").mean() < 0.5 * original.mean()
    assert np.abs(frame_50("h264") - original).mean() > 2.0  # lossy
    assert np.abs(frame_50("shake") - original).mean() > 2.0
    assert np.array_equal(frame_50("none"), original)


def test_parse_perturbations_should_accept_all_and_lists_and_name_bad_ones() -> None:
    assert [p.name for p in parse_perturbations("all")] == list(PERTURBATIONS)
    assert [p.name for p in parse_perturbations("shake, none")] == ["shake", "none"]
    with pytest.raises(ValueError, match=r"unknown perturbation 'fog' \(known: none"):
        parse_perturbations("shake,fog")


def test_format_table_should_give_prf_per_type_and_counts_per_condition() -> None:
    scenes = (
        SceneOutcome("a", {"fall": TypeTally(tp=1, fp=1)}, (), ()),
        SceneOutcome(
            "b", {"fall": TypeTally(fn=1), "crowding": TypeTally(tp=2)}, (), ()
        ),
    )
    outcome = ConditionOutcome(PERTURBATIONS["shake"], scenes, seconds=3.0)

    table = format_table([outcome])

    assert table.splitlines()[0] == "| condition | crowding | fall | count MAE / bias |"
    assert (
        "| shake | 1.00 / 1.00 / 1.00 (2/0/0) | 0.50 / 0.50 / 0.50 (1/1/1) | – |"
        in table
    )
    row = outcome.to_dict()
    assert row["by_type"]["fall"]["f1"] == 0.5 and row["count_bias"] is None
