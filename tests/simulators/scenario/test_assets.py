"""Tests for simulators/scenario/assets.py on the shared real clips."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from simulators.scenario.assets import (
    OBJECT_SOURCES,
    PersonSource,
    Sprite,
    cut_object,
    cut_people,
    object_source,
    person_source,
    save_cutout,
)


@pytest.mark.parametrize("source", OBJECT_SOURCES, ids=lambda s: s.name)
def test_cut_object_given_real_object_should_keep_most_of_its_box(
    source: object, videos_dir: Path
) -> None:
    spec = object_source(getattr(source, "name", ""))
    cutout = cut_object(videos_dir, spec, seed=1)
    x1, y1, x2, y2 = spec.box
    height, width = cutout.alpha.shape
    # The whole object, not a part of it (a see-through bottle's label only).
    assert height >= 0.7 * (y2 - y1) and width >= 0.5 * (x2 - x1)
    assert cutout.bgr.shape == (height, width, 3)
    assert float(cutout.alpha.min()) >= 0.0 and float(cutout.alpha.max()) <= 1.0
    assert float(cutout.alpha.mean()) > 0.5
    assert spec.clip in cutout.origin


def test_cut_object_given_box_outside_frame_should_raise(videos_dir: Path) -> None:
    bad = replace(OBJECT_SOURCES[0], box=(600, 300, 700, 400))
    with pytest.raises(ValueError, match="outside"):
        cut_object(videos_dir, bad, seed=1)


def test_save_cutout_should_write_png_with_alpha(
    videos_dir: Path, tmp_path: Path
) -> None:
    path = save_cutout(cut_object(videos_dir, OBJECT_SOURCES[0], seed=1), tmp_path)
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.shape[2] == 4


@pytest.mark.parametrize("lookup", [object_source, person_source])
def test_source_lookup_given_unknown_name_should_raise(lookup: object) -> None:
    with pytest.raises(KeyError, match="nope"):
        lookup("nope")  # type: ignore[operator]


def test_cut_people_given_sources_of_two_clips_should_raise(videos_dir: Path) -> None:
    sources = [
        PersonSource("a", "one-by-one-person-detection.mp4", (9.0, 9.5), (0.0, 1.0)),
        PersonSource("b", "car-detection.mp4", (1.0, 1.5), (0.0, 1.0)),
    ]
    with pytest.raises(ValueError, match="one clip"):
        cut_people(videos_dir, sources, fps=10.0)


def test_cut_people_given_standing_visitor_should_cut_a_person(
    videos_dir: Path,
) -> None:
    source = PersonSource(
        "v1", "one-by-one-person-detection.mp4", (10.0, 10.5), (0.0, 2.0)
    )
    (sprite,) = cut_people(videos_dir, [source], fps=10.0)
    assert len(sprite.frames) == 5
    bgr, alpha = sprite.frames[0]
    assert 300 <= sprite.height_px <= 432  # a standing adult at the table
    assert bgr.shape[:2] == alpha.shape and 0.3 < float(alpha.mean()) < 0.9


def test_sprite_at_should_play_back_and_forth() -> None:
    frames = tuple(
        (np.full((2, 2, 3), i, dtype=np.uint8), np.ones((2, 2), dtype=np.float32))
        for i in range(3)
    )
    sprite = Sprite(name="s", frames=frames, fps=1.0, height_px=2.0, origin="")
    order = [int(sprite.at(float(t))[0][0, 0, 0]) for t in range(6)]
    assert order == [0, 1, 2, 1, 0, 1]
