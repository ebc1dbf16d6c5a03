"""Workers, their grids and duty rosters as an admin changes them: checked
(known grids and departments, the 1+1+N shape, valid duty windows), written and
audited in the caller's session (flushed, not committed).

1+1+N: an area has at most one active grid leader and one active full-time
worker; part-time workers (the N) and department staff are not limited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from central.auth.audit import AuditAction, record
from central.db.models import Area, Department, Worker, WorkerArea, WorkerRole
from central.tickets.duty import DutyWindow

# Roles an area has at most one active worker of (1+1+N).
ONE_PER_AREA = {
    WorkerRole.GRID_LEADER: "grid leader",
    WorkerRole.FULL_TIME: "full-time worker",
}
UPDATABLE = ("name", "phone", "role", "department_code", "areas", "active")


class WorkforceError(ValueError):
    """A worker change cannot be made as asked; the message says why."""


class UnknownWorker(WorkforceError):
    """No worker has this id."""


class WorkerConflict(WorkforceError):
    """The change clashes with what exists: a taken id, a second leader."""


class InvalidWorker(WorkforceError):
    """A value is unusable: an unknown grid or department, a bad duty window."""


@dataclass(frozen=True, slots=True)
class WorkerFields:
    """Everything a worker is, as an admin gives it."""

    name: str
    role: WorkerRole
    department_code: str | None = None
    phone: str | None = None
    areas: tuple[str, ...] = ()
    active: bool = True


@dataclass(frozen=True, slots=True)
class ChangedBy:
    """Who makes a change, for the audit log."""

    actor: str
    address: str | None = None


def normalise_duty(windows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Duty windows as stored: sorted ISO weekdays, `HH:MM` start and end (an end
    before the start runs past midnight). An empty roster means always on duty.

    Raises:
        InvalidWorker: a window that `DutyWindow.parse` refuses, or one whose
            start equals its end (it would cover no time); names the window.
    """
    stored = []
    for number, raw in enumerate(windows, start=1):
        try:
            window = DutyWindow.parse(dict(raw))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidWorker(f"duty window {number}: {exc}") from None
        if window.start == window.end:
            raise InvalidWorker(
                f"duty window {number}: start and end are both "
                f"{window.start:%H:%M}, so it covers no time"
            )
        stored.append(
            {
                "days": sorted(window.days),
                "start": window.start.isoformat(timespec="minutes"),
                "end": window.end.isoformat(timespec="minutes"),
            }
        )
    return stored


def find_worker(session: Session, worker_id: str) -> Worker:
    worker = session.get(Worker, worker_id)
    if worker is None:
        raise UnknownWorker(f"no worker {worker_id!r}")
    return worker


def areas_of(session: Session, worker_id: str) -> list[str]:
    return list(
        session.scalars(
            select(WorkerArea.area_code)
            .where(WorkerArea.worker_id == worker_id)
            .order_by(WorkerArea.area_code)
        )
    )


def create_worker(
    session: Session,
    worker_id: str,
    *,
    fields: WorkerFields,
    duty: Sequence[Mapping[str, Any]] = (),
    by: ChangedBy,
) -> Worker:
    """Add a worker with their areas and roster (`worker_created`).

    Raises:
        WorkerConflict: the id is taken, or an area already has this role's one.
        InvalidWorker: an unknown area or department, or a bad duty window.
    """
    if session.get(Worker, worker_id) is not None:
        raise WorkerConflict(f"worker id {worker_id!r} is taken")
    stored_duty = normalise_duty(duty)
    _check(session, worker_id, fields)
    worker = Worker(
        id=worker_id,
        name=fields.name,
        role=fields.role.value,
        department_code=fields.department_code,
        phone=fields.phone,
        duty=stored_duty,
        active=fields.active,
    )
    session.add(worker)
    session.flush()
    _replace_areas(session, worker_id, fields.areas)
    record(
        session,
        by.actor,
        AuditAction.WORKER_CREATED,
        worker_id,
        address=by.address,
        detail={**_as_detail(fields), "duty": stored_duty},
    )
    return worker


def update_worker(
    session: Session,
    worker_id: str,
    *,
    changes: Mapping[str, Any],
    by: ChangedBy,
) -> Worker:
    """Change some of a worker's `UPDATABLE` fields (`worker_updated`, with each
    changed field's old and new value; nothing is audited when nothing changes).

    Raises:
        UnknownWorker: no such worker.
        WorkerConflict: an area would get a second grid leader or full-time worker.
        InvalidWorker: an unknown field, area or department.
    """
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise InvalidWorker(f"cannot change {', '.join(unknown)}")
    worker = find_worker(session, worker_id)
    before = _fields_of(session, worker)
    after = _merged(before, changes)
    old, new = _as_detail(before), _as_detail(after)
    changed = {k: {"from": old[k], "to": new[k]} for k in new if old[k] != new[k]}
    if not changed:
        return worker
    _check(session, worker_id, after, changed=set(changed))
    worker.name, worker.role = after.name, after.role.value
    worker.department_code, worker.phone = after.department_code, after.phone
    worker.active = after.active
    if "areas" in changed:
        _replace_areas(session, worker_id, after.areas)
    session.flush()
    record(
        session,
        by.actor,
        AuditAction.WORKER_UPDATED,
        worker_id,
        address=by.address,
        detail={"changed": changed},
    )
    return worker


def set_duty(
    session: Session,
    worker_id: str,
    *,
    windows: Sequence[Mapping[str, Any]],
    by: ChangedBy,
) -> Worker:
    """Replace a worker's roster (`worker_duty_set`, old and new windows).

    Raises:
        UnknownWorker: no such worker.
        InvalidWorker: a bad window (named by its position, from 1).
    """
    worker = find_worker(session, worker_id)
    stored = normalise_duty(windows)
    previous = list(worker.duty or [])
    if stored == previous:
        return worker
    worker.duty = stored
    session.flush()
    record(
        session,
        by.actor,
        AuditAction.WORKER_DUTY_SET,
        worker_id,
        address=by.address,
        detail={"from": previous, "to": stored},
    )
    return worker


def _merged(before: WorkerFields, changes: Mapping[str, Any]) -> WorkerFields:
    merged = {**_as_detail(before), **changes}
    return WorkerFields(
        name=merged["name"],
        role=WorkerRole(merged["role"]),
        department_code=merged["department_code"],
        phone=merged["phone"],
        areas=_unique(merged["areas"]),
        active=bool(merged["active"]),
    )


def _unique(areas: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(areas or ()))


def _fields_of(session: Session, worker: Worker) -> WorkerFields:
    return WorkerFields(
        name=worker.name,
        role=WorkerRole(worker.role),
        department_code=worker.department_code,
        phone=worker.phone,
        areas=tuple(areas_of(session, worker.id)),
        active=worker.active,
    )


def _as_detail(fields: WorkerFields) -> dict[str, Any]:
    return {
        "name": fields.name,
        "role": fields.role.value,
        "department_code": fields.department_code,
        "phone": fields.phone,
        "areas": list(fields.areas),
        "active": fields.active,
    }


def _replace_areas(session: Session, worker_id: str, areas: Sequence[str]) -> None:
    session.execute(delete(WorkerArea).where(WorkerArea.worker_id == worker_id))
    session.add_all(
        WorkerArea(worker_id=worker_id, area_code=code) for code in _unique(areas)
    )
    session.flush()


def _check(
    session: Session,
    worker_id: str,
    fields: WorkerFields,
    *,
    changed: set[str] | None = None,
) -> None:
    """Known areas and department, a department for department staff, 1+1+N.

    With `changed` (an update), only what those fields can break is checked:
    a worker that was imported against the rules can still be renamed.
    """

    def touches(*names: str) -> bool:
        return changed is None or any(name in changed for name in names)

    areas = _unique(fields.areas)
    if touches("areas"):
        _check_areas_exist(session, areas)
    if touches("department_code", "role"):
        _check_department(session, fields)
    if touches("role", "areas", "active"):
        _check_one_per_area(session, worker_id, fields, areas)


def _check_areas_exist(session: Session, areas: Sequence[str]) -> None:
    known = set(session.scalars(select(Area.code).where(Area.code.in_(areas))))
    missing = [code for code in areas if code not in known]
    if missing:
        raise InvalidWorker(f"unknown area(s): {', '.join(missing[:5])}")


def _check_department(session: Session, fields: WorkerFields) -> None:
    if fields.department_code is not None and (
        session.get(Department, fields.department_code) is None
    ):
        raise InvalidWorker(f"unknown department {fields.department_code!r}")
    if fields.role is WorkerRole.DEPARTMENT_STAFF and fields.department_code is None:
        raise InvalidWorker("department staff need a department")


def _check_one_per_area(
    session: Session, worker_id: str, fields: WorkerFields, areas: Sequence[str]
) -> None:
    label = ONE_PER_AREA.get(fields.role)
    if label is None or not fields.active or not areas:
        return
    taken = session.execute(
        select(WorkerArea.area_code, Worker.id, Worker.name)
        .join(Worker, Worker.id == WorkerArea.worker_id)
        .where(
            WorkerArea.area_code.in_(areas),
            Worker.role == fields.role.value,
            Worker.active.is_(True),
            Worker.id != worker_id,
        )
        .order_by(WorkerArea.area_code)
    ).first()
    if taken is not None:
        code, other_id, other_name = taken
        raise WorkerConflict(
            f"area {code} already has a {label}: {other_id} ({other_name}); an "
            f"area has one (1+1+N): move or deactivate {other_id} first"
        )
