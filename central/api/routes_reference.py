"""Reference data: grids, areas, cameras, workers, the matter list; user admin."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from central.api.deps import AdminDep, ContextDep, MemberDep, StaffDep
from central.auth.passwords import WeakPasswordError
from central.auth.users import UserError, UserExists, create_user, issue_token
from central.db.models import (
    Area,
    AreaLevel,
    Camera,
    Ticket,
    User,
    UserRole,
    Worker,
    WorkerArea,
)
from central.tickets.states import OPEN_STATES

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["reference"])

CODE_PREFIX = r"^\d{1,15}$"
AREA_CODE = re.compile(r"[0-9]{1,15}")
MAX_AREA_CODES = 500


# -- grids and areas -------------------------------------------------------------


class GridProperties(BaseModel):
    code: str = Field(description="15-digit grid code.")
    name: str
    level: str = Field(description="Always `grid`.")
    parent: str | None = Field(default=None, description="Community code.")
    centroid_lat: float | None = None
    centroid_lon: float | None = None


class GridFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon.")
    properties: GridProperties


class GridCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[GridFeature]


class AreaOut(BaseModel):
    code: str
    level: str = Field(description="city, district, street, community or grid.")
    name: str
    parent: str | None = Field(default=None, description="Code of the area above it.")


@router.get(
    "/grids",
    response_model=GridCollection,
    summary="Grid polygons as a GeoJSON FeatureCollection",
)
def grids(
    context: ContextDep,
    _actor: MemberDep,
    prefix: Annotated[
        str | None,
        Query(
            pattern=CODE_PREFIX,
            description="Only grids whose code starts with this (district, "
            "street or community code).",
        ),
    ] = None,
) -> GridCollection:
    query = (
        select(Area)
        .where(Area.level == AreaLevel.GRID.value, Area.geometry.is_not(None))
        .order_by(Area.code)
    )
    if prefix:
        query = query.where(Area.code.startswith(prefix, autoescape=True))
    with context.sessions() as session:
        features = [
            GridFeature(
                id=area.code,
                geometry=area.geometry or {},
                properties=GridProperties(
                    code=area.code,
                    name=area.name,
                    level=area.level,
                    parent=area.parent_code,
                    centroid_lat=area.centroid_lat,
                    centroid_lon=area.centroid_lon,
                ),
            )
            for area in session.scalars(query)
        ]
    return GridCollection(features=features)


@router.get(
    "/areas",
    response_model=list[AreaOut],
    summary="The area hierarchy (district → street → community → grid)",
)
def areas(
    context: ContextDep,
    _actor: MemberDep,
    level: Annotated[
        list[AreaLevel] | None,
        Query(description="Only these levels (repeat the key for several)."),
    ] = None,
    prefix: Annotated[
        str | None, Query(pattern=CODE_PREFIX, description="Code prefix.")
    ] = None,
    code: Annotated[
        list[str] | None,
        Query(
            description=f"Only these codes (repeat the key; at most {MAX_AREA_CODES})."
        ),
    ] = None,
) -> list[AreaOut]:
    query = select(Area.code, Area.level, Area.name, Area.parent_code).order_by(
        Area.code
    )
    if level:
        query = query.where(Area.level.in_([lvl.value for lvl in level]))
    if prefix:
        query = query.where(Area.code.startswith(prefix, autoescape=True))
    if code is not None:
        query = query.where(Area.code.in_(_checked_codes(code)))
    with context.sessions() as session:
        rows = session.execute(query).all()
    return [
        AreaOut(code=code, level=lvl, name=name, parent=parent)
        for code, lvl, name, parent in rows
    ]


def _checked_codes(codes: list[str]) -> set[str]:
    """The area codes asked for, or 422 naming the bad ones."""
    if len(codes) > MAX_AREA_CODES:
        raise HTTPException(
            422, f"at most {MAX_AREA_CODES} codes per request, got {len(codes)}"
        )
    bad = [c for c in codes if not AREA_CODE.fullmatch(c)]
    if bad:
        raise HTTPException(422, f"not area codes (1-15 digits): {bad[:5]}")
    return set(codes)


# -- cameras and workers ---------------------------------------------------------


class CameraOut(BaseModel):
    node_id: str
    camera_id: str
    name: str = ""
    kind: str = Field(default="camera", description="camera or checkpoint.")
    lat: float | None = None
    lon: float | None = None
    grid_code: str | None = None
    health: str | None = Field(default=None, description="online, stalled or offline.")
    fps_in: float | None = None
    fps_analysed: float | None = None
    status_at: datetime | None = None
    status_error: str | None = None
    last_event_at: datetime | None = None
    occupancy: dict[str, dict[str, int]] | None = Field(
        default=None, description="Latest count per zone and label (live)."
    )
    occupancy_at: datetime | None = None


@router.get(
    "/cameras",
    response_model=list[CameraOut],
    summary="Cameras and their last reported health (staff)",
)
def cameras(
    context: ContextDep,
    _actor: StaffDep,
    node_id: Annotated[str | None, Query(description="Only this edge node.")] = None,
    grid: Annotated[
        str | None, Query(pattern=CODE_PREFIX, description="Grid code prefix.")
    ] = None,
) -> list[CameraOut]:
    query = select(Camera).order_by(Camera.node_id, Camera.camera_id)
    if node_id:
        query = query.where(Camera.node_id == node_id)
    if grid:
        query = query.where(Camera.grid_code.startswith(grid, autoescape=True))
    with context.sessions() as session:
        rows = list(session.scalars(query))
    result = []
    for c in rows:
        live = context.live.occupancy(c.node_id, c.camera_id)
        result.append(
            CameraOut(
                node_id=c.node_id,
                camera_id=c.camera_id,
                name=c.name,
                kind=c.kind,
                lat=c.lat,
                lon=c.lon,
                grid_code=c.grid_code,
                health=c.health,
                fps_in=c.fps_in,
                fps_analysed=c.fps_analysed,
                status_at=c.status_at,
                status_error=c.status_error,
                last_event_at=c.last_event_at,
                occupancy=live.zones if live else None,
                occupancy_at=live.at if live else None,
            )
        )
    return result


class WorkerOut(BaseModel):
    id: str
    name: str
    role: str = Field(
        description="grid_leader, full_time, part_time or department_staff."
    )
    department_code: str | None = None
    phone: str | None = None
    active: bool
    areas: list[str] = Field(description="Area codes the worker covers.")
    open_tickets: int = Field(description="Open tickets assigned to the worker.")
    on_duty: bool = Field(description="Within their duty hours now.")


@router.get(
    "/workers",
    response_model=list[WorkerOut],
    summary="Workers with their areas and open ticket counts (staff)",
)
def workers(
    context: ContextDep,
    _actor: StaffDep,
    area: Annotated[
        str | None,
        Query(
            pattern=CODE_PREFIX,
            description="Only workers covering areas whose code starts with this.",
        ),
    ] = None,
) -> list[WorkerOut]:
    now = context.clock.now()
    with context.sessions() as session:
        area_rows = session.execute(
            select(WorkerArea.worker_id, WorkerArea.area_code).order_by(
                WorkerArea.area_code
            )
        ).all()
        counts: dict[str | None, int] = {
            worker_id: int(count)
            for worker_id, count in session.execute(
                select(Ticket.assignee_id, func.count())
                .where(
                    Ticket.assignee_id.is_not(None),
                    Ticket.state.in_([s.value for s in OPEN_STATES]),
                )
                .group_by(Ticket.assignee_id)
            )
        }
        people = list(session.scalars(select(Worker).order_by(Worker.id)))
    areas_of: dict[str, list[str]] = defaultdict(list)
    for worker_id, code in area_rows:
        areas_of[worker_id].append(code)
    result = []
    for w in people:
        covered = areas_of.get(w.id, [])
        if area and not any(code.startswith(area) for code in covered):
            continue
        info = context.directory.get(w.id)
        result.append(
            WorkerOut(
                id=w.id,
                name=w.name,
                role=w.role,
                department_code=w.department_code,
                phone=w.phone,
                active=w.active,
                areas=covered,
                open_tickets=counts.get(w.id, 0),
                on_duty=bool(
                    w.active
                    and info is not None
                    and context.directory.is_on_duty(info, now)
                ),
            )
        )
    return result


# -- the matter list -------------------------------------------------------------


class MatterOut(BaseModel):
    key: str = Field(description="What tickets and manual reports name it by.")
    event_types: list[str] = Field(description="AI event types mapped to it.")
    category_code: str
    category_name: str
    department: str = Field(description="Kind of the handling department.")
    department_code: str | None = Field(
        default=None, description="This city's department of that kind."
    )
    time_limit_min: int
    priority: str
    review_mode: str = Field(description="auto, or review (operators first).")
    review_below_confidence: float = Field(
        description="AI events below this confidence wait for review."
    )
    escalate_after_min: list[float] = Field(
        description="Minutes past due at which escalation levels 1, 2, 3 start."
    )


class MatterListOut(BaseModel):
    version: str
    matters: list[MatterOut]


@router.get(
    "/matters",
    response_model=MatterListOut,
    summary="The matter list: categories, departments, time limits",
)
def matters(context: ContextDep, _actor: MemberDep) -> MatterListOut:
    ml = context.matters
    return MatterListOut(
        version=ml.version,
        matters=[
            MatterOut(
                key=m.key,
                event_types=list(m.event_types),
                category_code=m.category.code,
                category_name=m.category.name,
                department=m.department,
                department_code=context.departments.get(m.department),
                time_limit_min=m.time_limit_min,
                priority=m.priority.value,
                review_mode=m.review.mode,
                review_below_confidence=m.review.below_confidence,
                escalate_after_min=ml.escalation_steps(m),
            )
            for m in ml.matters
        ],
    )


class EventTypeOut(BaseModel):
    type: str = Field(description="The event type an edge rule sends.")
    label: str = Field(description="Its short name on the pages.")
    title: str = Field(description="How an AI ticket's title names it.")
    matter_key: str = Field(description="The matter its tickets open under.")


class EventTypesOut(BaseModel):
    version: str = Field(description="Version of the matter list they come from.")
    event_types: list[EventTypeOut]


@router.get(
    "/event-types",
    response_model=EventTypesOut,
    summary="Event types and the words the pages show for them",
    description="From the matter list. A type not listed here reads as its name "
    "with the first letter capitalised and `_` as spaces.",
)
def event_types(context: ContextDep, _actor: MemberDep) -> EventTypesOut:
    ml = context.matters
    return EventTypesOut(
        version=ml.version,
        event_types=[
            EventTypeOut(
                type=event_type,
                label=ml.label_of(event_type),
                title=ml.title_of(event_type),
                matter_key=matter.key,
            )
            for event_type, matter in ml.by_event_type().items()
        ],
    )


# -- users and tokens (admin) ----------------------------------------------------


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str | None = Field(
        default=None,
        description="At least 8 characters; null for a token-only user (an edge node).",
    )
    role: UserRole
    worker_id: str | None = Field(default=None, description="Required for role worker.")
    node_id: str | None = Field(
        default=None, description="Required for role edge_node."
    )
    display_name: str = Field(default="", max_length=200)


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    worker_id: str | None = None
    node_id: str | None = None
    display_name: str = ""
    active: bool
    created_at: datetime


MAX_TOKEN_TTL_H = 10 * 366 * 24


class TokenIn(BaseModel):
    label: str = Field(default="", max_length=100, description="What the token is for.")
    ttl_h: float | None = Field(
        default=None,
        gt=0,
        le=MAX_TOKEN_TTL_H,
        description="Hours until it expires (at most ten years; for a person, at "
        "most `http.max_token_ttl_h`); omitted or null: it never expires, until "
        "revoked (edge nodes only).",
    )


class IssuedToken(BaseModel):
    token: str = Field(description="The bearer token. Shown only this once.")
    username: str
    label: str
    expires_at: datetime | None = Field(description="null: never.")


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    summary="Create a user (admin)",
    responses={
        409: {"description": "Username taken"},
        422: {"description": "Invalid user"},
    },
)
def create_user_route(context: ContextDep, actor: AdminDep, body: UserIn) -> UserOut:
    with context.sessions() as session:
        try:
            user = create_user(
                session,
                body.username,
                body.password,
                body.role,
                worker_id=body.worker_id,
                node_id=body.node_id,
                display_name=body.display_name,
                now=context.clock.now(),
                by=actor.name,
            )
        except UserExists as exc:
            raise HTTPException(409, str(exc)) from None
        except (UserError, WeakPasswordError) as exc:
            raise HTTPException(422, str(exc)) from None
        session.commit()
        return UserOut(
            id=user.id,
            username=user.username,
            role=user.role,
            worker_id=user.worker_id,
            node_id=user.node_id,
            display_name=user.display_name,
            active=user.active,
            created_at=user.created_at,
        )


@router.post(
    "/users/{username}/tokens",
    response_model=IssuedToken,
    status_code=201,
    summary="Issue an API token for an edge node, or for yourself (admin)",
    description="The token is returned once; only its digest is stored. Not for "
    "another person (403): an admin never acts as someone else; people log in.",
    responses={
        403: {"description": "Another person's account"},
        404: {"description": "No such user"},
        409: {"description": "The user is disabled"},
        422: {"description": "A lifetime a person's token may not have"},
    },
)
def issue_user_token(
    context: ContextDep,
    actor: AdminDep,
    username: str,
    body: TokenIn | None = None,
) -> IssuedToken:
    spec = body or TokenIn()
    now = context.clock.now()
    ttl = timedelta(hours=spec.ttl_h) if spec.ttl_h is not None else None
    label = spec.label or f"by {actor.name}"
    with context.sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise HTTPException(404, f"no user {username!r}")
        if user.role != UserRole.EDGE_NODE.value and user.username != actor.name:
            raise HTTPException(
                403,
                f"{username!r} is a person ({user.role}): an admin may not take a "
                "token for someone else; they log in themselves",
            )
        try:
            token = issue_token(
                session,
                user,
                now=now,
                ttl=ttl,
                label=label,
                max_person_ttl=timedelta(hours=context.settings.http.max_token_ttl_h),
                by=actor.name,
            )
        except UserError as exc:
            raise HTTPException(409, str(exc)) from None
        session.commit()
    log.info("token %r issued for user %s by %s", label, username, actor.name)
    return IssuedToken(
        token=token,
        username=username,
        label=label,
        expires_at=now + ttl if ttl is not None else None,
    )
