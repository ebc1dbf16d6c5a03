"""Who gets a ticket: the grid's on-duty workers first, then up the hierarchy.

Order: the on-duty full-time worker of the grid with the fewest open tickets, else
an on-duty part-time worker, else the grid leader (each assigned to the grid or to
its community), else any on-duty worker of the street, then of the district.
Department staff are not dispatched to by area; they are notified by escalation.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from central.db.models import Ticket, Worker, WorkerArea, WorkerRole
from central.tickets.duty import DutyWindow, on_duty, parse_duty
from central.tickets.states import OPEN_STATES


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    id: str
    role: WorkerRole
    department_code: str | None
    duty: tuple[DutyWindow, ...]


def area_chain(grid_code: str) -> list[str]:
    """The grid's code and its community, street and district codes."""
    return [grid_code[:n] for n in (15, 12, 9, 6) if len(grid_code) >= n]


class WorkerDirectory:
    """Workers by the area codes they cover, loaded once and refreshed on demand."""

    def __init__(self, timezone: str = "UTC") -> None:
        self.zone = ZoneInfo(timezone)
        self._by_area: dict[str, list[WorkerInfo]] = {}
        self._by_id: dict[str, WorkerInfo] = {}
        self._lock = threading.Lock()

    def load(self, session: Session) -> None:
        workers = {
            w.id: WorkerInfo(
                w.id, WorkerRole(w.role), w.department_code, parse_duty(w.duty)
            )
            for w in session.scalars(select(Worker).where(Worker.active.is_(True)))
        }
        by_area: dict[str, list[WorkerInfo]] = defaultdict(list)
        for worker_id, area_code in session.execute(
            select(WorkerArea.worker_id, WorkerArea.area_code)
        ):
            if worker_id in workers:
                by_area[area_code].append(workers[worker_id])
        with self._lock:
            self._by_area = dict(by_area)
            self._by_id = workers

    def get(self, worker_id: str) -> WorkerInfo | None:
        return self._by_id.get(worker_id)

    def covering(self, area_code: str) -> list[WorkerInfo]:
        return self._by_area.get(area_code, [])

    def department_staff(self, department_code: str) -> list[WorkerInfo]:
        return [
            w
            for w in self._by_id.values()
            if w.role is WorkerRole.DEPARTMENT_STAFF
            and w.department_code == department_code
        ]

    def is_on_duty(self, worker: WorkerInfo, now: datetime) -> bool:
        return on_duty(worker.duty, now.astimezone(self.zone))

    def candidates(self, grid_code: str) -> list[WorkerInfo]:
        """Every worker who could take a ticket in this grid (before duty checks)."""
        seen: dict[str, WorkerInfo] = {}
        for code in area_chain(grid_code):
            for worker in self.covering(code):
                seen.setdefault(worker.id, worker)
        return list(seen.values())

    def leaders_of(self, grid_code: str) -> list[WorkerInfo]:
        return [
            w
            for code in area_chain(grid_code)[:2]
            for w in self.covering(code)
            if w.role is WorkerRole.GRID_LEADER
        ]

    def street_workers(self, grid_code: str) -> list[WorkerInfo]:
        return self.covering(grid_code[:9]) if len(grid_code) >= 9 else []

    def escalation_recipients(
        self, level: int, grid_code: str | None, department_code: str | None
    ) -> list[str]:
        """Who hears of an escalation to `level`: 3 the handling department's
        staff, 2 the street's workers, otherwise the grid leaders."""
        if level >= 3 and department_code:
            workers = self.department_staff(department_code)
        elif level == 2 and grid_code:
            workers = self.street_workers(grid_code)
        elif grid_code:
            workers = self.leaders_of(grid_code)
        else:
            workers = []
        return list(dict.fromkeys(w.id for w in workers))


def open_ticket_counts(
    db: Session | Connection, worker_ids: Iterable[str]
) -> dict[str, int]:
    """Open tickets of each worker (0 for those without any)."""
    ids = list(set(worker_ids))
    if not ids:
        return {}
    rows = db.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.assignee_id.in_(ids), Ticket.state.in_(list(OPEN_STATES)))
        .group_by(Ticket.assignee_id)
    )
    counts = dict.fromkeys(ids, 0)
    for worker_id, count in rows:
        if worker_id is not None:
            counts[worker_id] = int(count)
    return counts


def choose_worker(
    directory: WorkerDirectory,
    grid_code: str,
    now: datetime,
    open_counts: Mapping[str, int],
    exclude: Sequence[str] = (),
) -> str | None:
    """The worker to dispatch to, or None when nobody up the hierarchy is on duty."""

    def pick(
        workers: Iterable[WorkerInfo], roles: set[WorkerRole] | None
    ) -> str | None:
        ready = [
            w
            for w in workers
            if (roles is None or w.role in roles)
            and w.role is not WorkerRole.DEPARTMENT_STAFF
            and w.id not in exclude
            and directory.is_on_duty(w, now)
        ]
        if not ready:
            return None
        return min(ready, key=lambda w: (open_counts.get(w.id, 0), w.id)).id

    chain = area_chain(grid_code)
    # The grid's own people: those assigned to the grid or to its community.
    local = [w for code in chain[:2] for w in directory.covering(code)]
    return (
        pick(local, {WorkerRole.FULL_TIME})
        or pick(local, {WorkerRole.PART_TIME})
        or pick(local, {WorkerRole.GRID_LEADER})
        or next(
            (
                chosen
                for code in chain[2:]
                if (chosen := pick(directory.covering(code), None)) is not None
            ),
            None,
        )
    )
