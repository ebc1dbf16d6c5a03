"""Tests for edge/pose/appearance.py on synthesised frames."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from edge.pose.appearance import TEMPLATE_PX, appearance, similarity

BOX = np.array([100.0, 100.0, 200.0, 220.0], dtype=np.float32)


def _noise(seed: int) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, size=(300, 400, 3), dtype=np.uint8)


def test_appearance_given_textured_region_should_be_normalised() -> None:
    template = appearance(_noise(0), BOX)
    assert template is not None
    assert template.shape == (TEMPLATE_PX * TEMPLATE_PX,)
    assert float(template.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(np.linalg.norm(template)) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(
    ("image", "box"),
    [
        (np.full((300, 400, 3), 128, dtype=np.uint8), BOX),  # flat wall
        (_noise(0), np.array([397.0, 10.0, 500.0, 100.0], dtype=np.float32)),
        (_noise(0), np.array([-50.0, -50.0, -10.0, -10.0], dtype=np.float32)),
    ],
    ids=["flat", "3_px_inside", "outside"],
)
def test_appearance_given_no_usable_region_should_return_none(
    image: npt.NDArray[np.uint8], box: npt.NDArray[np.float32]
) -> None:
    assert appearance(image, box) is None


def test_similarity_given_same_brighter_and_other_region_should_rank_them() -> None:
    image = _noise(0)
    brighter = np.clip(image.astype(np.int16) + 40, 0, 255).astype(np.uint8)
    template = appearance(image, BOX)
    assert similarity(template, appearance(image, BOX)) == pytest.approx(1.0)
    assert similarity(template, appearance(brighter, BOX)) > 0.9
    assert similarity(template, appearance(_noise(1), BOX)) < 0.3
    assert similarity(template, None) == -1.0
