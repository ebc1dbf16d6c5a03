"""The workers' points table (积分, `central.worker_points`): a worker's own month
on the terminal, every worker's month for staff."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field

from central.api.csv_safety import neutralise_rows
from central.api.deps import ContextDep, StaffDep, WorkerDep
from central.context import CentralContext
from central.worker_points import (
    MONTH_PATTERN,
    PointWeights,
    WorkerPoints,
    month_of,
    worker_points,
)

router = APIRouter(prefix="/api/v1", tags=["statistics"])

MonthParam = Annotated[
    str | None,
    Query(
        pattern=MONTH_PATTERN,
        description="YYYY-MM in the city's timezone; this month when left out.",
    ),
]


class PointsTable(BaseModel):
    month: str
    timezone: str = Field(description="Timezone the month is cut in.")
    weights: dict[str, int] = Field(
        description="Points per case found, handled on time, rated satisfied, "
        "and per reworked case."
    )
    rows: list[WorkerPoints] = Field(description="Most points first.")


def _month(context: CentralContext, month: str | None) -> str:
    return month or month_of(context.clock.now(), context.directory.zone)


def _table(
    context: CentralContext, month: str | None, worker_ids: list[str] | None
) -> PointsTable:
    zone = context.directory.zone
    chosen = _month(context, month)
    weights = PointWeights(**context.settings.points.weights.model_dump())
    with context.sessions() as session:
        rows = worker_points(
            session, month=chosen, zone=zone, worker_ids=worker_ids, weights=weights
        )
    return PointsTable(
        month=chosen, timezone=zone.key, weights=weights.as_dict(), rows=rows
    )


_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The table; CSV (header + one line per worker) when format=csv.",
    }
}


def points_csv(table: PointsTable) -> Response:
    """The rows as a spreadsheet download (text cells neutralised)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(WorkerPoints.model_fields)
    for row in neutralise_rows(table.rows):
        writer.writerow(row.model_dump().values())
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="points-{table.month}.csv"'
        },
    )


@router.get(
    "/stats/points",
    response_model=PointsTable,
    responses=_CSV,
    summary="Points table of the grid workers for a month (staff)",
    description="Per active worker: cases found on patrol, tickets handled (on "
    "time), citizens' ratings (satisfied) and rework, and the points they make.",
)
def points_table(
    context: ContextDep,
    _actor: StaffDep,
    month: MonthParam = None,
    fmt: Annotated[
        Literal["json", "csv"],
        Query(alias="format", description="json, or csv for a spreadsheet."),
    ] = "json",
) -> PointsTable | Response:
    table = _table(context, month, None)
    return points_csv(table) if fmt == "csv" else table


@router.get(
    "/me/points",
    response_model=PointsTable,
    summary="My month (worker): my row of the points table",
    responses={404: {"description": "The login is not a grid worker's"}},
)
def my_points(
    context: ContextDep, actor: WorkerDep, month: MonthParam = None
) -> PointsTable:
    if actor.worker_id is None:
        raise HTTPException(404, "this login is not linked to a grid worker")
    table = _table(context, month, [actor.worker_id])
    if not table.rows:
        raise HTTPException(404, f"no worker {actor.worker_id!r}")
    return table
