"""What a new ticket, a history row and a worker notice are, for every ticket source.

The set-based ingest path (many AI events per statement) and the single-ticket
service (citizen and patrol reports, the API) both open tickets as `NewTicket`,
move them with the transition table of `central.tickets.states`, record
`HistoryEntry` rows and tell workers with `ticket_notice`; they differ only in how
they store them (bulk rows or ORM objects).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from central.db.models import Ticket, TicketHistory, TicketSource
from central.matters import Matter, MatterList
from central.tickets.states import (
    CREATED_STATE,
    TicketAction,
    TicketState,
    next_state,
)
from gridwatch.contract import EventMessage, TicketNotice

SYSTEM_ACTOR = "system"


class HoldReason(StrEnum):
    """Why a new ticket waits in review instead of going to a worker."""

    UNASSIGNED_GRID = "unassigned_grid"  # outside every grid
    REVIEW_POLICY = "review_policy"  # the matter asks operators first
    NO_WORKER = "no_worker"  # nobody on duty for the grid
    CITIZEN_REPORT = "citizen_report"  # from outside: an operator looks first


@dataclass
class ManualTicket:
    """A ticket reported by a person (citizen, patrol) rather than a camera."""

    matter_key: str
    title: str
    description: str = ""
    source: TicketSource = TicketSource.CITIZEN
    lat: float | None = None
    lon: float | None = None
    grid_code: str | None = None
    reporter: str | None = None
    photo_sha256: str | None = None


@dataclass(slots=True)
class NewTicket:
    """A ticket about to be stored: the columns every new ticket starts with.

    It starts in the state `create` leads to (review) and leaves it only
    through the transition table (`dispatch`).
    """

    source: str
    event_type: str | None
    matter_key: str
    matter_version: str
    category_code: str
    category_name: str
    department_code: str | None
    priority: str
    time_limit_min: int
    title: str
    description: str
    grid_code: str | None
    lat: float | None
    lon: float | None
    found_at: datetime
    created_at: datetime
    last_observed_at: datetime
    confidence: float | None = None
    node_id: str | None = None
    camera_id: str | None = None
    snapshot_sha256: str | None = None
    reporter: str | None = None
    state: str = CREATED_STATE.value
    review_reason: str | None = None
    assignee_id: str | None = None
    escalation_level: int = 0
    overdue: bool = False
    observations: int = 1
    rework_count: int = 0
    dispatched_at: datetime | None = None
    due_at: datetime | None = None
    version: int = 1
    # Not a column: the history note of the `create` entry.
    opening_note: str = field(default="", compare=False)

    @classmethod
    def from_event(
        cls,
        message: EventMessage,
        *,
        matter: Matter,
        matters: MatterList,
        departments: Mapping[str, str],
        grid_code: str | None,
        now: datetime,
    ) -> NewTicket:
        """A ticket opened by an AI event; its title comes from the matter list."""
        event_type = str(message.type)
        snapshot = message.media.snapshot
        return cls(
            **_matter_columns(matter, matters, departments),
            source=TicketSource.AI.value,
            event_type=event_type,
            title=f"{matters.title_of(event_type)} ({message.camera_id})",
            description=describe_event(message),
            grid_code=grid_code,
            lat=message.location.lat,
            lon=message.location.lon,
            confidence=message.confidence,
            node_id=message.node_id,
            camera_id=message.camera_id,
            snapshot_sha256=snapshot.sha256 if snapshot else None,
            found_at=message.started_at,
            created_at=now,
            last_observed_at=message.detected_at,
            opening_note=f"AI event from {message.node_id}/{message.camera_id}",
        )

    @classmethod
    def from_report(
        cls,
        spec: ManualTicket,
        *,
        matter: Matter,
        matters: MatterList,
        departments: Mapping[str, str],
        grid_code: str | None,
        now: datetime,
    ) -> NewTicket:
        """A ticket a person reported (citizen, patrol), found now. Who reported
        it stays in the `reporter` column, which retention can erase, never in
        the append-only history."""
        return cls(
            **_matter_columns(matter, matters, departments),
            source=spec.source.value,
            event_type=None,
            title=spec.title,
            description=spec.description,
            grid_code=grid_code,
            lat=spec.lat,
            lon=spec.lon,
            snapshot_sha256=spec.photo_sha256,
            reporter=spec.reporter,
            found_at=now,
            created_at=now,
            last_observed_at=now,
            opening_note=f"{spec.source.value} report",
        )

    @classmethod
    def from_citizen(
        cls,
        spec: ManualTicket,
        *,
        matter: Matter,
        matters: MatterList,
        departments: Mapping[str, str],
        grid_code: str | None,
        now: datetime,
    ) -> NewTicket:
        """A ticket from outside (the public page, an Open311 client). Unlike
        `from_report` it never writes who reported it into the ticket or its
        history: a citizen's contact is kept apart (`citizen_reports.contact`)
        for staff only, and erased by retention."""
        new = cls.from_report(
            replace(spec, reporter=None),
            matter=matter,
            matters=matters,
            departments=departments,
            grid_code=grid_code,
            now=now,
        )
        new.opening_note = f"{spec.source.value} report"
        return new

    @property
    def is_dispatched(self) -> bool:
        return self.state == TicketState.DISPATCHED.value

    def dispatch_or_hold(
        self,
        *,
        needs_review: bool,
        pick_worker: Callable[[str], str | None],
        now: datetime,
    ) -> None:
        """Send the ticket to the worker `pick_worker` names for its grid, or hold
        it in review, saying why."""
        if self.grid_code is None:
            self.hold(HoldReason.UNASSIGNED_GRID)
        elif needs_review:
            self.hold(HoldReason.REVIEW_POLICY)
        elif (worker_id := pick_worker(self.grid_code)) is None:
            self.hold(HoldReason.NO_WORKER)
        else:
            self.dispatch(worker_id, now)

    def hold(self, reason: HoldReason) -> None:
        """Keep the ticket in review, saying why."""
        self.review_reason = reason.value

    def dispatch(self, worker_id: str, now: datetime) -> None:
        """Hand the ticket to a worker; its time limit starts now."""
        self.state = next_state(
            None, TicketAction.DISPATCH, TicketState(self.state)
        ).value
        self.assignee_id = worker_id
        self.dispatched_at = now
        self.due_at = now + timedelta(minutes=self.time_limit_min)

    def to_row(self) -> dict[str, Any]:
        """The ticket's columns, for a bulk insert."""
        return {name: getattr(self, name) for name in _TICKET_COLUMNS}

    def to_orm(self) -> Ticket:
        """The ticket as an ORM object (the ORM numbers its versions itself)."""
        row = self.to_row()
        del row["version"]
        return Ticket(**row)

    def opening_history(
        self, ticket_id: int, *, at: datetime, actor: str = SYSTEM_ACTOR
    ) -> list[HistoryEntry]:
        """How the ticket came to be: created in review, then dispatched if it was."""
        pending = CREATED_STATE.value
        note = self.opening_note
        if self.source == TicketSource.AI.value and not self.is_dispatched:
            # The review queue shows why a camera's ticket waits for an operator.
            note += f"; awaits review: {self.review_reason}"
        created = HistoryEntry(
            ticket_id=ticket_id,
            at=at,
            actor=actor,
            action=TicketAction.CREATE,
            from_state=None,
            to_state=pending,
            note=note,
            assignee_id=None,
            escalation_level=0,
        )
        if not self.is_dispatched:
            return [created]
        dispatched = HistoryEntry(
            ticket_id=ticket_id,
            at=at,
            actor=actor,
            action=TicketAction.DISPATCH,
            from_state=pending,
            to_state=self.state,
            note=f"to {self.assignee_id}",
            assignee_id=self.assignee_id,
            escalation_level=0,
        )
        return [created, dispatched]


_TICKET_COLUMNS = tuple(f.name for f in fields(NewTicket) if f.name != "opening_note")


def _matter_columns(
    matter: Matter, matters: MatterList, departments: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "matter_key": matter.key,
        "matter_version": matters.version,
        "category_code": matter.category.code,
        "category_name": matter.category.name,
        "department_code": departments.get(matter.department),
        "priority": matter.priority.value,
        "time_limit_min": matter.time_limit_min,
    }


def describe_event(message: EventMessage) -> str:
    """The description of an AI ticket: what was seen, where, how sure."""
    m = message
    parts = [f"{m.type} seen by camera {m.camera_id} on {m.node_id}"]
    if m.zone_id:
        parts.append(f"zone {m.zone_id}")
    for key in ("count", "threshold", "dwell_s", "label"):
        if key in m.attributes:
            parts.append(f"{key} {m.attributes[key]}")
    parts.append(f"confidence {m.confidence:.2f}")
    return ", ".join(parts)


class TicketFacts(Protocol):
    """What a ticket history row and a notice read: a stored or a new ticket."""

    @property
    def state(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def category_code(self) -> str: ...
    @property
    def category_name(self) -> str: ...
    @property
    def priority(self) -> str: ...
    @property
    def grid_code(self) -> str | None: ...
    @property
    def lat(self) -> float | None: ...
    @property
    def lon(self) -> float | None: ...
    @property
    def assignee_id(self) -> str | None: ...
    @property
    def escalation_level(self) -> int: ...
    @property
    def overdue(self) -> bool: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def found_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One row of a ticket's append-only history."""

    ticket_id: int
    at: datetime
    actor: str
    action: TicketAction
    from_state: str | None
    to_state: str
    note: str | None
    assignee_id: str | None
    escalation_level: int

    @classmethod
    def after(
        cls,
        ticket_id: int,
        ticket: TicketFacts,
        *,
        at: datetime,
        actor: str,
        action: TicketAction,
        from_state: str | None,
        note: str | None = None,
    ) -> HistoryEntry:
        """The entry of `action`, read from the ticket as the action left it."""
        return cls(
            ticket_id=ticket_id,
            at=at,
            actor=actor,
            action=action,
            from_state=from_state,
            to_state=ticket.state,
            note=note,
            assignee_id=ticket.assignee_id,
            escalation_level=ticket.escalation_level,
        )

    def to_row(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id,
            "at": self.at,
            "actor": self.actor,
            "action": self.action.value,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "note": self.note,
            "assignee_id": self.assignee_id,
            "escalation_level": self.escalation_level,
        }

    def to_orm(self) -> TicketHistory:
        return TicketHistory(**self.to_row())


def ticket_notice(
    ticket_id: int,
    ticket: TicketFacts,
    *,
    action: str,
    event_ids: Sequence[str] = (),
    note: str | None = None,
) -> TicketNotice:
    """The notice that tells worker terminals and consoles about a ticket."""
    return TicketNotice(
        ticket_id=ticket_id,
        action=action,
        state=ticket.state,
        title=ticket.title,
        category_code=ticket.category_code,
        category_name=ticket.category_name,
        priority=ticket.priority,
        grid_code=ticket.grid_code,
        lat=ticket.lat,
        lon=ticket.lon,
        assignee_id=ticket.assignee_id,
        escalation_level=ticket.escalation_level,
        overdue=ticket.overdue,
        due_at=ticket.due_at,
        found_at=ticket.found_at,
        event_ids=list(event_ids),
        note=note,
    )
