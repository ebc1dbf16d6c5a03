"""Small answers about the area hierarchy, for pages that must not load it whole
(a Guangzhou-scale city has 24,000 areas): how many each level has, the names
of given codes, and the grid that holds a point."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from central.api.deps import ContextDep, MemberDep
from central.api.routes_reference import AreaOut
from central.db.models import Area, AreaLevel

router = APIRouter(prefix="/api/v1", tags=["reference"])


class AreaCounts(BaseModel):
    """Areas per level of the hierarchy."""

    city: int = 0
    district: int = 0
    street: int = 0
    community: int = 0
    grid: int = 0


class GridAt(BaseModel):
    lat: float
    lon: float
    grid: AreaOut | None = Field(
        description="The grid a ticket placed here goes to (inside it, or the "
        "nearest within `ingest.nearest_grid_m`); null: outside every grid."
    )


@router.get(
    "/areas/counts",
    response_model=AreaCounts,
    summary="How many areas each level of the hierarchy has",
    description="Tells a page whether the whole hierarchy is small enough to load "
    "at once, or should be asked for by level, prefix or code.",
)
def area_counts(context: ContextDep, _actor: MemberDep) -> AreaCounts:
    with context.sessions() as session:
        rows = session.execute(
            select(Area.level, func.count()).group_by(Area.level)
        ).all()
    found = {str(level): int(count) for level, count in rows}
    return AreaCounts(**{level.value: found.get(level.value, 0) for level in AreaLevel})


@router.get(
    "/grids/at",
    response_model=GridAt,
    summary="The grid that holds a point",
    description="The same lookup that places a ticket or an event by its position.",
)
def grid_at(
    context: ContextDep,
    _actor: MemberDep,
    lat: Annotated[
        float, Query(ge=-90, le=90, allow_inf_nan=False, description="Degrees.")
    ],
    lon: Annotated[
        float, Query(ge=-180, le=180, allow_inf_nan=False, description="Degrees.")
    ],
) -> GridAt:
    code = context.lookup_grid(lat, lon)
    grid = None
    if code is not None:
        with context.sessions() as session:
            area = session.get(Area, code)
        if area is not None:
            grid = AreaOut(
                code=area.code,
                level=area.level,
                name=area.name,
                parent=area.parent_code,
            )
    return GridAt(lat=lat, lon=lon, grid=grid)
