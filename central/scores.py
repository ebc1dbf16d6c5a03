"""A composite score and grade from the three rates cities are judged by (三率).

score = 100 × the weighted mean of the response, resolution and satisfaction
rates (weights in `scores.weights`); a rate with nothing to measure (no ticket
due, nothing rated) drops out and the others' weights are renormalised, so a
grid with no rated ticket is not marked down for it. Grades follow the CJ/T 292 /
GB/T 30428.4 tradition: A from 90, B from 75, C from 60, D below (the bounds in
`scores.grades`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from central.config import GradeBounds, ScoreSettings, ScoreWeights
from central.performance import EvaluationRow

Grade = Literal["A", "B", "C", "D"]


class ScoreRow(BaseModel):
    """One evaluation row's three rates, its score and grade."""

    period_start: str
    key: str | None
    name: str | None
    tickets: int
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    score: float | None = Field(
        description="0-100; null when none of the three rates has anything to measure."
    )
    grade: Grade | None


def score_of(row: EvaluationRow, weights: ScoreWeights) -> float | None:
    """The weighted mean of the rates that exist, × 100 (None when none does)."""
    parts = [
        (row.response_rate, weights.response),
        (row.resolution_rate, weights.resolution),
        (row.satisfaction_rate, weights.satisfaction),
    ]
    present = [(rate, weight) for rate, weight in parts if rate is not None]
    total = sum(weight for _, weight in present)
    if not present or total <= 0:
        return None
    return round(100 * sum(rate * weight for rate, weight in present) / total, 1)


def grade_of(score: float | None, bounds: GradeBounds) -> Grade | None:
    if score is None:
        return None
    if score >= bounds.a:
        return "A"
    if score >= bounds.b:
        return "B"
    if score >= bounds.c:
        return "C"
    return "D"


def score_rows(
    rows: Sequence[EvaluationRow], settings: ScoreSettings
) -> list[ScoreRow]:
    """Scores of evaluation rows, in their order."""
    result = []
    for row in rows:
        score = score_of(row, settings.weights)
        result.append(
            ScoreRow(
                period_start=row.period_start,
                key=row.key,
                name=row.name,
                tickets=row.tickets,
                response_rate=row.response_rate,
                resolution_rate=row.resolution_rate,
                satisfaction_rate=row.satisfaction_rate,
                score=score,
                grade=grade_of(score, settings.grades),
            )
        )
    return result
