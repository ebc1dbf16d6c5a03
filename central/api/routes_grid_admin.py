"""Running the grid (admin only): workers with their grids, role and duty roster;
grid import with a preview. Every change is audited (`central.workforce`,
`central.grid_import`) and the process's worker directory or grid index is
reloaded at once, so the next dispatch follows it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from central.api.deps import AdminDep, ContextDep
from central.api.routes_auth import client_address
from central.context import CentralContext
from central.db.models import Department, Ticket, User, Worker, WorkerArea, WorkerRole
from central.grid_import import (
    MAX_LISTED_CHANGES,
    Change,
    GridImportPlan,
    apply_grid_import,
    plan_grid_import,
)
from central.grids.geojson import GridFileError
from central.tickets.duty import on_duty, parse_duty
from central.tickets.states import OPEN_STATES
from central.workforce import (
    ChangedBy,
    WorkerFields,
    create_worker,
    find_worker,
    set_duty,
    update_worker,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/admin", tags=["grid admin"])

WORKER_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
AREA_CODE = r"^\d{6,15}$"
HH_MM = r"^([01]\d|2[0-3]):[0-5]\d$"
MAX_AREAS = 200
MAX_WINDOWS = 21
MAX_LIST = 1000

AreaCode = Annotated[str, Field(pattern=AREA_CODE)]
IsoWeekday = Annotated[int, Field(ge=1, le=7)]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such worker"}}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "Unknown grid or department, or a bad duty window"}
}


class DutyWindowIn(BaseModel):
    days: list[IsoWeekday] = Field(
        min_length=1,
        max_length=7,
        description="ISO weekdays, 1 = Monday … 7 = Sunday.",
    )
    start: str = Field(pattern=HH_MM, description="Local time HH:MM.")
    end: str = Field(
        pattern=HH_MM,
        description="Local time HH:MM; before the start: the window runs past "
        "midnight into the next day.",
    )


class DutyRosterIn(BaseModel):
    windows: list[DutyWindowIn] = Field(
        max_length=MAX_WINDOWS,
        description="Empty: always on duty.",
    )


class WorkerCreate(BaseModel):
    id: str = Field(pattern=WORKER_ID, description="Stable id, e.g. w00021.")
    name: str = Field(min_length=1, max_length=200)
    role: WorkerRole
    department_code: str | None = Field(default=None, min_length=1, max_length=32)
    phone: str | None = Field(default=None, max_length=64)
    areas: list[AreaCode] = Field(
        default_factory=list,
        max_length=MAX_AREAS,
        description="Codes of the grids (or community, street, district) covered.",
    )
    active: bool = True
    duty: list[DutyWindowIn] = Field(default_factory=list, max_length=MAX_WINDOWS)


class WorkerUpdate(BaseModel):
    """Only the fields sent change; `department_code` and `phone` may be null."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: WorkerRole | None = None
    department_code: str | None = Field(default=None, min_length=1, max_length=32)
    phone: str | None = Field(default=None, max_length=64)
    areas: list[AreaCode] | None = Field(default=None, max_length=MAX_AREAS)
    active: bool | None = None


class DutyWindowOut(BaseModel):
    days: list[int]
    start: str
    end: str


class WorkerAdminOut(BaseModel):
    id: str
    name: str
    role: str = Field(
        description="grid_leader, full_time, part_time or department_staff."
    )
    department_code: str | None = None
    phone: str | None = None
    active: bool
    areas: list[str]
    duty: list[DutyWindowOut] = Field(description="Empty: always on duty.")
    on_duty: bool = Field(description="Active and within a duty window now.")
    open_tickets: int
    login: str | None = Field(default=None, description="The worker's username.")


class WorkersAdminOut(BaseModel):
    data: list[WorkerAdminOut]
    count: int = Field(description="Workers shown.")
    total: int = Field(description="Workers matching the filters.")


class DepartmentOut(BaseModel):
    code: str
    name: str
    kind: str


class AreaChangeOut(BaseModel):
    code: str
    level: str
    name: str
    change: Change
    fields: list[str] = Field(description="Columns an update changes.")


class GridImportOut(BaseModel):
    file: str
    sha256: str
    dry_run: bool
    applied: bool
    can_apply: bool = Field(description="false: the file has problems (refused).")
    counts: dict[str, dict[str, int]] = Field(
        description="Per level (city … grid): created, updated, unchanged."
    )
    changes: list[AreaChangeOut] = Field(
        description=f"Created and updated areas (at most {MAX_LISTED_CHANGES})."
    )
    refused: list[str] = Field(
        description="The file's problems, each naming a feature."
    )


def _by(admin: AdminDep, request: Request) -> ChangedBy:
    return ChangedBy(admin.name, client_address(request))


def _worker_out(
    context: CentralContext, session: Session, worker: Worker
) -> WorkerAdminOut:
    return _workers_out(context, session, [worker])[0]


def _workers_out(
    context: CentralContext, session: Session, workers: list[Worker]
) -> list[WorkerAdminOut]:
    ids = [w.id for w in workers]
    areas: dict[str, list[str]] = defaultdict(list)
    for worker_id, code in session.execute(
        select(WorkerArea.worker_id, WorkerArea.area_code)
        .where(WorkerArea.worker_id.in_(ids))
        .order_by(WorkerArea.area_code)
    ):
        areas[worker_id].append(code)
    counts: dict[str | None, int] = {
        worker_id: int(count)
        for worker_id, count in session.execute(
            select(Ticket.assignee_id, func.count())
            .where(Ticket.assignee_id.in_(ids), Ticket.state.in_(list(OPEN_STATES)))
            .group_by(Ticket.assignee_id)
        )
    }
    logins: dict[str | None, str] = {
        worker_id: username
        for worker_id, username in session.execute(
            select(User.worker_id, User.username).where(User.worker_id.in_(ids))
        )
    }
    local = context.clock.now().astimezone(context.directory.zone)
    return [
        WorkerAdminOut(
            id=w.id,
            name=w.name,
            role=w.role,
            department_code=w.department_code,
            phone=w.phone,
            active=w.active,
            areas=areas.get(w.id, []),
            duty=[DutyWindowOut(**window) for window in w.duty or []],
            on_duty=w.active and on_duty(parse_duty(w.duty or []), local),
            open_tickets=int(counts.get(w.id, 0)),
            login=logins.get(w.id),
        )
        for w in workers
    ]


def _contains(text: str) -> str:
    """A LIKE pattern (escape character `\\`) matching `text` anywhere."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@router.get(
    "/workers",
    response_model=WorkersAdminOut,
    summary="Workers with their grids, role and duty roster (admin)",
)
def list_workers(
    context: ContextDep,
    _admin: AdminDep,
    q: Annotated[
        str | None,
        Query(max_length=100, description="Part of the id, name or phone."),
    ] = None,
    role: Annotated[WorkerRole | None, Query()] = None,
    area: Annotated[
        str | None,
        Query(pattern=r"^\d{1,15}$", description="Covering an area with this prefix."),
    ] = None,
    active: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> WorkersAdminOut:
    query = select(Worker)
    if q:
        pattern = _contains(q)
        query = query.where(
            or_(
                Worker.id.ilike(pattern, escape="\\"),
                Worker.name.ilike(pattern, escape="\\"),
                Worker.phone.ilike(pattern, escape="\\"),
            )
        )
    if role is not None:
        query = query.where(Worker.role == role.value)
    if active is not None:
        query = query.where(Worker.active.is_(active))
    if area:
        covering = select(WorkerArea.worker_id).where(
            WorkerArea.area_code.startswith(area, autoescape=True)
        )
        query = query.where(Worker.id.in_(covering))
    with context.sessions() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        page = list(
            session.scalars(query.order_by(Worker.id).offset(offset).limit(limit))
        )
        data = _workers_out(context, session, page)
    return WorkersAdminOut(data=data, count=len(data), total=total)


@router.get(
    "/workers/{worker_id}",
    response_model=WorkerAdminOut,
    summary="One worker (admin)",
    responses=_NOT_FOUND,
)
def get_worker(context: ContextDep, _admin: AdminDep, worker_id: str) -> WorkerAdminOut:
    with context.sessions() as session:
        return _worker_out(context, session, find_worker(session, worker_id))


def _committed(
    context: CentralContext, session: Session, worker: Worker
) -> WorkerAdminOut:
    """Commit, reload the dispatch directory, answer with the worker as stored."""
    session.commit()
    context.directory.load(session)
    return _worker_out(context, session, worker)


@router.post(
    "/workers",
    response_model=WorkerAdminOut,
    status_code=201,
    summary="Create a worker (admin)",
    description="Dispatch follows at once. An area has at most one active grid "
    "leader and one active full-time worker (1+1+N): a second is refused (409).",
    responses={409: {"description": "Id taken, or the area has one"}, **_INVALID},
)
def create_worker_route(
    context: ContextDep, request: Request, admin: AdminDep, body: WorkerCreate
) -> WorkerAdminOut:
    fields = WorkerFields(
        name=body.name,
        role=body.role,
        department_code=body.department_code,
        phone=body.phone,
        areas=tuple(body.areas),
        active=body.active,
    )
    with context.sessions() as session:
        worker = create_worker(
            session,
            body.id,
            fields=fields,
            duty=[w.model_dump() for w in body.duty],
            by=_by(admin, request),
        )
        return _committed(context, session, worker)


@router.patch(
    "/workers/{worker_id}",
    response_model=WorkerAdminOut,
    summary="Change a worker's name, phone, role, department, grids or active state "
    "(admin)",
    description="Only the fields sent change. A deactivated worker gets no new "
    "tickets; their open ones stay with them until reassigned.",
    responses={
        **_NOT_FOUND,
        409: {"description": "The area would have two"},
        **_INVALID,
    },
)
def update_worker_route(
    context: ContextDep,
    request: Request,
    admin: AdminDep,
    worker_id: str,
    body: WorkerUpdate,
) -> WorkerAdminOut:
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "role", "areas", "active"):
        if required in changes and changes[required] is None:
            raise HTTPException(422, f"{required} cannot be null")
    with context.sessions() as session:
        worker = update_worker(
            session, worker_id, changes=changes, by=_by(admin, request)
        )
        return _committed(context, session, worker)


@router.put(
    "/workers/{worker_id}/duty",
    response_model=WorkerAdminOut,
    summary="Set a worker's duty roster (admin)",
    description="Replaces the windows. Days are ISO weekdays; an end before the "
    "start runs past midnight (22:00–06:00). No windows: always on duty. "
    "Dispatch follows at once.",
    responses={**_NOT_FOUND, **_INVALID},
)
def set_duty_route(
    context: ContextDep,
    request: Request,
    admin: AdminDep,
    worker_id: str,
    body: DutyRosterIn,
) -> WorkerAdminOut:
    with context.sessions() as session:
        worker = set_duty(
            session,
            worker_id,
            windows=[w.model_dump() for w in body.windows],
            by=_by(admin, request),
        )
        return _committed(context, session, worker)


@router.get(
    "/departments",
    response_model=list[DepartmentOut],
    summary="Departments, for department staff (admin)",
)
def departments(context: ContextDep, _admin: AdminDep) -> list[DepartmentOut]:
    with context.sessions() as session:
        rows = session.scalars(select(Department).order_by(Department.code))
        return [DepartmentOut(code=d.code, name=d.name, kind=d.kind) for d in rows]


def _import_out(
    plan: GridImportPlan, *, file: str, dry_run: bool, applied: bool
) -> GridImportOut:
    listed = [c for c in plan.changes if c.change is not Change.UNCHANGED]
    return GridImportOut(
        file=file,
        sha256=plan.sha256,
        dry_run=dry_run,
        applied=applied,
        can_apply=plan.can_apply,
        counts=plan.counts,
        changes=[
            AreaChangeOut(
                code=c.code,
                level=c.level,
                name=c.name,
                change=c.change,
                fields=list(c.fields),
            )
            for c in listed[:MAX_LISTED_CHANGES]
        ],
        refused=list(plan.refused),
    )


@router.post(
    "/grids/import",
    response_model=GridImportOut,
    summary="Import grids from a GeoJSON file, or preview what it would change (admin)",
    description="`dry_run=true`: what would be created, updated or left unchanged "
    "and what is refused; nothing is written. Otherwise the grids are imported "
    "(all or nothing; a file with any problem is refused, 422) and audited "
    "(`grids_imported`, with the file's SHA-256); point-to-grid lookup and the "
    "map follow at once. Existing grids are updated, none removed.",
    responses={422: {"description": "The file has problems (not on a dry run)"}},
)
def import_grids_route(
    context: ContextDep,
    request: Request,
    admin: AdminDep,
    file: Annotated[UploadFile, File(description="A GeoJSON FeatureCollection.")],
    dry_run: Annotated[bool, Query(description="Preview only.")] = False,
) -> GridImportOut:
    content = file.file.read()
    name = (file.filename or "upload.geojson")[:200]
    with context.sessions() as session:
        if dry_run:
            plan = plan_grid_import(session, content, source=name)
            return _import_out(plan, file=name, dry_run=True, applied=False)
        try:
            plan = apply_grid_import(
                session,
                content,
                source=name,
                actor=admin.name,
                address=client_address(request),
            )
        except GridFileError as exc:
            raise HTTPException(422, str(exc)) from None
        session.commit()
    context.reload_reference_data()
    log.info("grids imported from %s by %s: %s", name, admin.name, plan.counts)
    return _import_out(plan, file=name, dry_run=False, applied=True)
