"""The composite score of the three rates (三率) and its grade."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from central.config import CentralSettings, GradeBounds, ScoreSettings, ScoreWeights
from central.performance import EvaluationRow
from central.scores import grade_of, score_of, score_rows


def row(**rates: float | None) -> EvaluationRow:
    fields: dict[str, Any] = {
        name: 0 for name, f in EvaluationRow.model_fields.items() if f.annotation is int
    }
    fields |= {
        name: None
        for name, f in EvaluationRow.model_fields.items()
        if name not in fields
    }
    fields |= {"period_start": "2026-12-01", "key": "g1", "name": "Grid 1"}
    fields |= rates
    return EvaluationRow.model_validate(fields)


def test_score_should_renormalise_over_the_rates_that_exist() -> None:
    weights = ScoreWeights()
    assert (
        score_of(
            row(response_rate=1.0, resolution_rate=0.5, satisfaction_rate=1.0), weights
        )
        == 80.0
    )
    # nothing rated: the satisfaction weight drops out, not a zero
    assert score_of(
        row(response_rate=1.0, resolution_rate=0.5), weights
    ) == pytest.approx(71.4)
    assert score_of(row(), weights) is None
    only_satisfaction = ScoreWeights(response=0, resolution=0, satisfaction=1)
    assert score_of(row(response_rate=1.0), only_satisfaction) is None


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (100.0, "A"),
        (90.0, "A"),
        (89.9, "B"),
        (75.0, "B"),
        (60.0, "C"),
        (59.9, "D"),
        (0.0, "D"),
        (None, None),
    ],
)
def test_grade_should_follow_the_bounds(score: float | None, grade: str | None) -> None:
    assert grade_of(score, GradeBounds()) == grade


def test_score_rows_should_carry_the_rates_score_and_grade() -> None:
    [scored] = score_rows(
        [row(response_rate=0.5, resolution_rate=0.5, satisfaction_rate=0.5)],
        ScoreSettings(),
    )
    assert (scored.key, scored.score, scored.grade) == ("g1", 50.0, "D")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"weights": {"response": 0, "resolution": 0, "satisfaction": 0}},
            "at least one weight",
        ),
        ({"weights": {"response": -1}}, "greater than or equal to 0"),
        ({"grades": {"a": 70, "b": 75, "c": 60}}, "need a > b > c"),
        ({"grades": {"d": 10}}, "Extra inputs"),
    ],
)
def test_bad_score_settings_should_be_refused_naming_them(
    section: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        CentralSettings.model_validate({"scores": section})
