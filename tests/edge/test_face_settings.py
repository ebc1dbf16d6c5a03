"""Tests for edge/face_settings.py."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest

from edge.face_settings import FaceBlurSettings


@pytest.mark.parametrize(
    ("kwargs", "expectation"),
    [
        ({}, nullcontext()),
        ({"score_threshold": 0.0}, pytest.raises(ValueError, match="score")),
        ({"score_threshold": 1.0}, pytest.raises(ValueError, match="score")),
        ({"margin": -0.1}, pytest.raises(ValueError, match="margin")),
        ({"max_passes": 0}, pytest.raises(ValueError, match="max_passes")),
    ],
)
def test_face_blur_settings_given_values_should_validate(
    kwargs: dict[str, Any], expectation: AbstractContextManager[Any]
) -> None:
    with expectation:
        FaceBlurSettings(**kwargs)
