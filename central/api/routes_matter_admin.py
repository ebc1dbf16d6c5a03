"""The matter list from the console: staff read the list in force and its
versions; an admin checks a new text (a dry run: the problems, or what it would
change) and applies it as a new version (`central/matter_store.py`). Applying
is audited (`matter_list_applied`, with the text's SHA-256 and the diff); this
process switches at once, other replicas within seconds (`central/reference_watch.py`).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from central.api.deps import AdminDep, ContextDep, StaffDep
from central.api.routes_auth import client_address
from central.context import CentralContext
from central.db.models import MatterListVersion
from central.matter_store import (
    MatterDiff,
    MatterListEdit,
    MatterListRefused,
    MatterVersionTaken,
    apply_edit,
    check_edit,
    newest_version,
    parse_matter_text,
    parse_stored,
)
from central.matters import Matter, MatterList

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/matter-list", tags=["matter list"])

MAX_TEXT = 200_000
MAX_NOTE = 500
MAX_MOVES = 100
MAX_VERSIONS = 500
MatterKey = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")]

# One edit at a time in this process: each is checked against the list it replaces.
_APPLY_LOCK = threading.Lock()


class MatterSummary(BaseModel):
    key: str
    category_code: str
    category_name: str
    department: str
    time_limit_min: int
    priority: str
    review_mode: str
    review_below_confidence: float
    merge_distance_m: float = Field(description="In force (the default if unset).")
    merge_window_min: float = Field(description="In force (the default if unset).")
    escalate_after_min: list[float] = Field(description="In force.")
    camera_check: str | None = None
    event_types: list[str]


class VersionOut(BaseModel):
    id: int
    version: str
    sha256: str
    created_by: str
    created_at: datetime
    note: str


class VersionsOut(BaseModel):
    data: list[VersionOut] = Field(description="Newest first.")
    count: int


class VersionTextOut(VersionOut):
    text: str = Field(description="The YAML as stored.")


class CurrentOut(VersionTextOut):
    matters: list[MatterSummary]


class MatterChangeOut(BaseModel):
    key: str
    fields: list[str]


class DiffOut(BaseModel):
    added: list[str]
    removed: list[str]
    changed: list[MatterChangeOut]
    defaults_changed: bool


class MatterListIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The YAML.")
    moves: dict[MatterKey, MatterKey] = Field(
        default_factory=dict,
        max_length=MAX_MOVES,
        description="Removed matter → the matter its open tickets move to.",
    )


class MatterListApply(MatterListIn):
    version: str = Field(
        min_length=1,
        max_length=32,
        description="The new version string; the text's `version` must match.",
    )
    note: str = Field(
        default="", max_length=MAX_NOTE, pattern=r"^[^\x00]*$", description="Why."
    )


class CheckOut(BaseModel):
    can_apply: bool
    version: str | None = Field(description="The text's version (null: invalid).")
    problems: list[str] = Field(description="Each names its matter or field.")
    diff: DiffOut | None = Field(description="Against the list in force.")
    moved_tickets: dict[str, int] = Field(
        description="Open tickets each move would move."
    )


def _summary(matters: MatterList, matter: Matter) -> MatterSummary:
    merge = matters.merge_policy(matter)
    return MatterSummary(
        key=matter.key,
        category_code=matter.category.code,
        category_name=matter.category.name,
        department=matter.department,
        time_limit_min=matter.time_limit_min,
        priority=matter.priority.value,
        review_mode=matter.review.mode,
        review_below_confidence=matter.review.below_confidence,
        merge_distance_m=merge.distance_m,
        merge_window_min=merge.window_min,
        escalate_after_min=matters.escalation_steps(matter),
        camera_check=matter.camera_check,
        event_types=list(matter.event_types),
    )


def _version_out(row: MatterListVersion) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": row.version,
        "sha256": row.sha256,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "note": row.note,
    }


def _diff_out(diff: MatterDiff) -> DiffOut:
    return DiffOut.model_validate(diff.as_dict())


def _newest(context: CentralContext) -> tuple[MatterListVersion, MatterList]:
    with context.sessions() as session:
        row = newest_version(session)
    if row is None:  # the start stores the first version; a wiped table is a fault
        raise HTTPException(503, "no matter list version is stored")
    return row, parse_stored(row)


@router.get(
    "",
    response_model=CurrentOut,
    summary="The matter list in force: its YAML, version and matters (staff)",
)
def current(context: ContextDep, _staff: StaffDep) -> CurrentOut:
    row, matters = _newest(context)
    return CurrentOut(
        **_version_out(row),
        text=row.text,
        matters=[_summary(matters, m) for m in matters.matters],
    )


@router.get(
    "/versions",
    response_model=VersionsOut,
    summary="Every stored version of the matter list, newest first (staff)",
)
def versions(context: ContextDep, _staff: StaffDep) -> VersionsOut:
    with context.sessions() as session:
        rows = session.scalars(
            select(MatterListVersion)
            .order_by(MatterListVersion.id.desc())
            .limit(MAX_VERSIONS)
        )
        data = [VersionOut(**_version_out(r)) for r in rows]
    return VersionsOut(data=data, count=len(data))


@router.get(
    "/versions/{version_id}",
    response_model=VersionTextOut,
    summary="One stored version with its YAML (staff)",
    responses={404: {"description": "No such version"}},
)
def one_version(
    context: ContextDep,
    _staff: StaffDep,
    version_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> VersionTextOut:
    with context.sessions() as session:
        row = session.get(MatterListVersion, version_id)
        if row is None:
            raise HTTPException(404, f"no matter list version {version_id}")
        return VersionTextOut(**_version_out(row), text=row.text)


def _check_out(context: CentralContext, body: MatterListIn) -> CheckOut:
    _, in_force = _newest(context)
    edit = MatterListEdit(text=body.text, moves=body.moves)
    with context.sessions() as session:
        check = check_edit(session, current=in_force, edit=edit)
    return CheckOut(
        can_apply=check.can_apply,
        version=check.matters.version if check.matters else None,
        problems=list(check.problems),
        diff=_diff_out(check.diff) if check.diff else None,
        moved_tickets=dict(check.moved_tickets),
    )


@router.post(
    "/check",
    response_model=CheckOut,
    summary="Check a new matter list without applying it (admin)",
    description="A dry run: the problems (each naming its matter or field), or "
    "what it would change against the list in force. Nothing is written.",
)
def check(context: ContextDep, _admin: AdminDep, body: MatterListIn) -> CheckOut:
    return _check_out(context, body)


@router.put(
    "",
    response_model=CurrentOut,
    summary="Apply a new matter list version (admin)",
    description="Validated like a dry run and refused (422) with its problems; a "
    "version string already stored is refused (409). A removed matter that open "
    "tickets use must be moved (`moves`). Audited (`matter_list_applied`); new "
    "tickets follow at once, other replicas within seconds.",
    responses={
        409: {"description": "The version is already stored"},
        422: {"description": "The text is invalid or would orphan open tickets"},
    },
)
def apply(
    context: ContextDep, request: Request, admin: AdminDep, body: MatterListApply
) -> CurrentOut:
    edit = MatterListEdit(text=body.text, note=body.note, moves=body.moves)
    with _APPLY_LOCK:
        _, in_force = _newest(context)
        with context.sessions() as session:
            try:
                _check_version(body)
                row, matters, diff = apply_edit(
                    session,
                    current=in_force,
                    edit=edit,
                    by=admin.name,
                    address=client_address(request),
                    now=context.clock.now(),
                )
            except MatterVersionTaken as exc:
                raise HTTPException(409, str(exc)) from None
            except MatterListRefused as exc:
                raise HTTPException(422, str(exc)) from None
            session.commit()
            out = CurrentOut(
                **_version_out(row),
                text=row.text,
                matters=[_summary(matters, m) for m in matters.matters],
            )
        context.set_matters(matters)
    log.info(
        "matter list %s applied by %s: %s", matters.version, admin.name, diff.as_dict()
    )
    return out


def _check_version(body: MatterListApply) -> None:
    """The request's version must be the text's: what the admin typed is what
    gets stored."""
    try:
        stated = parse_matter_text(body.text).version
    except MatterListRefused:
        return  # apply_edit names the text's problems
    if stated != body.version:
        raise MatterListRefused(
            [f"the text's version is {stated!r}, not {body.version!r}"]
        )
