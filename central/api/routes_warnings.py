"""Hotspot early warnings (`central/warnings/`): list them, acknowledge one.

Staff only (operators, supervisors, administrators): a warning is about an
area's trend, not about one worker's ticket. Each change is also pushed live
on the staff ticket stream as a `warning` event.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, status

from central.api.deps import ContextDep, StaffDep
from central.api.routes_auth import client_address
from central.warnings.notice import WarningPublic, WarningsPublic
from central.warnings.store import (
    AlreadyAcknowledged,
    UnknownArea,
    WarningNotFound,
    WarningState,
    acknowledge,
    list_warnings,
)

router = APIRouter(prefix="/api/v1", tags=["warnings"])

MAX_ROW_ID = 2**31 - 1  # an INTEGER column (PostgreSQL) holds no more


@router.get(
    "/warnings",
    response_model=WarningsPublic,
    summary="Hotspot early warnings, newest first (staff)",
    description="Grid × category series whose recent tickets rose above their own "
    "baseline (docs/central.md, Hotspot early warning). Filter by state (repeat "
    "the parameter for several) and by area (a grid, community, street, district "
    "or the city).",
    responses={404: {"description": "No area with this code"}},
)
def warnings_list(
    context: ContextDep,
    _actor: StaffDep,
    state: Annotated[
        list[WarningState] | None,
        Query(description="open, acknowledged or resolved; all when left out."),
    ] = None,
    area: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=15,
            pattern=r"^[0-9]+$",
            description="An area code: warnings of the grids under it.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> WarningsPublic:
    with context.sessions() as session:
        try:
            rows, total = list_warnings(
                session,
                states=[s.value for s in state or []],
                area_code=area,
                limit=limit,
            )
        except UnknownArea as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        return WarningsPublic(
            data=[WarningPublic.model_validate(row) for row in rows], count=total
        )


@router.post(
    "/warnings/{warning_id}/ack",
    response_model=WarningPublic,
    summary="Acknowledge an open hotspot warning (staff; audited)",
    description="Once: a warning already acknowledged or resolved answers 409. "
    "The warning stays on the map until the job finds its series back to normal.",
    responses={
        404: {"description": "No such warning"},
        409: {"description": "Acknowledged or resolved already"},
    },
)
def warning_ack(
    request: Request,
    context: ContextDep,
    actor: StaffDep,
    warning_id: Annotated[
        int, Path(ge=1, le=MAX_ROW_ID, description="Warning number.")
    ],
) -> WarningPublic:
    with context.sessions.begin() as session:
        try:
            row = acknowledge(
                session,
                warning_id=warning_id,
                by=actor.name,
                now=context.clock.now(),
                address=client_address(request),
            )
        except WarningNotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        except AlreadyAcknowledged as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        return WarningPublic.model_validate(row)
