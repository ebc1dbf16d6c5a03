"""The closed loop: every ticket action, its permission check and its history row."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from central.auth.audit import AuditAction, record
from central.clock import Clock
from central.db.models import (
    CitizenReport,
    Event,
    MediaObject,
    PatrolReport,
    Ticket,
    TicketMerge,
    TicketSource,
    User,
    UserRole,
)
from central.matters import MatterList
from central.notify import Notifier
from central.tickets.dispatch import WorkerDirectory, choose_worker, open_ticket_counts
from central.tickets.merging import (
    MergeTarget,
    find_open_ticket,
    merge_into,
    sighting_of,
)
from central.tickets.model import HistoryEntry, HoldReason, NewTicket, ticket_notice
from central.tickets.model import (  # the API names reports by this module
    ManualTicket as ManualTicket,
)
from central.tickets.patrol import (
    HANDLED_ON_PATROL,
    PatrolOutcome,
    PatrolReportIn,
    find_reported,
)
from central.tickets.states import (
    OPEN_STATES,
    TicketAction,
    TicketState,
    next_state,
)

log = logging.getLogger(__name__)

GridLookup = Callable[[float, float], str | None]
MERGE_TRIES = 3  # a report joining a ticket that others change at the same time
_T = TypeVar("_T")
STAFF_ROLES = frozenset({UserRole.ADMIN, UserRole.OPERATOR, UserRole.SUPERVISOR})


class TicketNotFound(LookupError):
    """No such ticket, or not one this user may see."""


class PermissionDenied(PermissionError):
    """The user's role may not do this."""


class ConcurrentChange(RuntimeError):
    """Someone else changed the ticket first; reload and retry."""


class InvalidRequest(ValueError):
    """The request names something that does not exist or is inconsistent."""


@dataclass(frozen=True)
class Actor:
    name: str
    role: UserRole
    worker_id: str | None = None
    node_id: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


SYSTEM = Actor("system", UserRole.ADMIN)


def add_history(
    session: Session,
    ticket: Ticket,
    *,
    at: datetime,
    actor: str,
    action: TicketAction,
    from_state: str | None,
    note: str | None = None,
) -> None:
    """Record `action`, read from the ticket as the action left it."""
    entry = HistoryEntry.after(
        ticket.id,
        ticket,
        at=at,
        actor=actor,
        action=action,
        from_state=from_state,
        note=note,
    )
    session.add(entry.to_orm())


class TicketService:
    """Ticket actions for the API and the scheduler (the ingest path bulk-inserts)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        matters: MatterList,
        directory: WorkerDirectory,
        notifier: Notifier,
        grid_lookup: GridLookup | None = None,
        departments: Mapping[str, str] | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.matters = matters
        self.directory = directory
        self.notifier = notifier
        self.grid_lookup = grid_lookup
        # department kind (matter list) → the city's department code; the
        # context's own mapping, which it refills when reference data reloads
        self.departments = departments if departments is not None else {}
        # Called with each ticket a worker resolved, after the commit (the
        # camera check of central/verify/); a failing hook is logged.
        self.resolve_hooks: list[Callable[[Ticket], None]] = []

    # -- reading ---------------------------------------------------------------

    def visible(self, session: Session, actor: Actor, ticket_id: int) -> Ticket:
        """The ticket if the actor may see it: staff see all, workers their own."""
        ticket = session.get(Ticket, ticket_id)
        if ticket is None or not self._may_see(actor, ticket):
            raise TicketNotFound(f"ticket {ticket_id} not found")
        return ticket

    @staticmethod
    def _may_see(actor: Actor, ticket: Ticket) -> bool:
        if actor.is_staff:
            return True
        return actor.role is UserRole.WORKER and ticket.assignee_id == actor.worker_id

    # -- worker actions ----------------------------------------------------------

    def accept(self, actor: Actor, ticket_id: int) -> Ticket:
        return self._worker_action(actor, ticket_id, TicketAction.ACCEPT, None)

    def resolve(
        self, actor: Actor, ticket_id: int, note: str, photo_sha256: str | None
    ) -> Ticket:
        if not note.strip():
            raise InvalidRequest("a resolution needs a note saying what was done")
        ticket = self._worker_action(
            actor, ticket_id, TicketAction.RESOLVE, note, photo_sha256=photo_sha256
        )
        for hook in self.resolve_hooks:
            try:
                hook(ticket)
            except Exception:
                log.exception("ticket %s: a resolve hook failed", ticket_id)
        return ticket

    def _worker_action(
        self,
        actor: Actor,
        ticket_id: int,
        action: TicketAction,
        note: str | None,
        photo_sha256: str | None = None,
    ) -> Ticket:
        with self._write() as session:
            ticket = self.visible(session, actor, ticket_id)
            if (
                actor.role is not UserRole.WORKER
                or ticket.assignee_id != actor.worker_id
            ):
                raise PermissionDenied(
                    f"only the assigned worker may {action.value} ticket {ticket_id}"
                )
            now = self.clock.now()
            self._move(session, ticket, action, actor, now, note)
            if action is TicketAction.ACCEPT:
                ticket.accepted_at = ticket.accepted_at or now
            else:
                ticket.resolved_at = now
                ticket.resolution_note = note
                ticket.resolution_photo_sha256 = photo_sha256
            session.flush()
        return ticket

    # -- staff actions ------------------------------------------------------------

    def confirm(
        self, actor: Actor, ticket_id: int, worker_id: str | None = None
    ) -> Ticket:
        """An operator confirms an AI-flagged event: the ticket is dispatched."""
        return self._dispatch_action(
            actor, ticket_id, TicketAction.CONFIRM, worker_id, None
        )

    def reassign(
        self,
        actor: Actor,
        ticket_id: int,
        worker_id: str | None = None,
        grid_code: str | None = None,
        note: str | None = None,
    ) -> Ticket:
        return self._dispatch_action(
            actor, ticket_id, TicketAction.REASSIGN, worker_id, note, grid_code
        )

    def close(self, actor: Actor, ticket_id: int, note: str | None = None) -> Ticket:
        def closed(ticket: Ticket, now: datetime) -> None:
            ticket.closed_at = now

        ticket = self._staff_move(
            actor, ticket_id, TicketAction.CLOSE, note, "closed", closed
        )
        self._tell_reporters(ticket, "closed", note)
        return ticket

    def return_for_rework(self, actor: Actor, ticket_id: int, reason: str) -> Ticket:
        if not reason.strip():
            raise InvalidRequest("returning a ticket needs a reason")

        def returned(ticket: Ticket, _now: datetime) -> None:
            ticket.rework_count += 1
            ticket.return_reason = reason

        return self._staff_move(
            actor, ticket_id, TicketAction.RETURN, reason, "returned", returned
        )

    def reject(self, actor: Actor, ticket_id: int, reason: str) -> Ticket:
        """A false positive (or not a case): the ticket ends here."""
        if not reason.strip():
            raise InvalidRequest("rejecting a ticket needs a reason")

        def rejected(ticket: Ticket, now: datetime) -> None:
            ticket.rejected_at = now
            ticket.reject_reason = reason

        ticket = self._staff_move(
            actor, ticket_id, TicketAction.REJECT, reason, "rejected", rejected
        )
        self._tell_reporters(ticket, "rejected", reason)
        return ticket

    def create_manual(self, actor: Actor, spec: ManualTicket) -> Ticket:
        """A ticket from a citizen report or a patrol, dispatched like an AI one."""
        if not actor.is_staff:
            raise PermissionDenied("only operators create tickets by hand")
        try:
            matter = self.matters.by_key(spec.matter_key)
        except KeyError as exc:
            raise InvalidRequest(str(exc.args[0])) from exc
        grid_code = spec.grid_code
        if grid_code is None and spec.lat is not None and spec.lon is not None:
            grid_code = (
                self.grid_lookup(spec.lat, spec.lon) if self.grid_lookup else None
            )
        now = self.clock.now()
        new = NewTicket.from_report(
            spec,
            matter=matter,
            matters=self.matters,
            departments=self.departments,
            grid_code=grid_code,
            now=now,
        )
        with self._write() as session:
            new.dispatch_or_hold(
                needs_review=False,  # a person reported it: no AI review policy
                pick_worker=lambda grid: self._pick_worker(session, grid, now),
                now=now,
            )
            ticket = new.to_orm()
            session.add(ticket)
            session.flush()
            for entry in new.opening_history(ticket.id, at=now, actor=actor.name):
                session.add(entry.to_orm())
            session.flush()
        if new.assignee_id:
            self._notify(ticket, "dispatched", [new.assignee_id])
        return ticket

    def report_on_patrol(self, actor: Actor, report: PatrolReportIn) -> PatrolOutcome:
        """A case a worker found on patrol: dispatched through the matter list,
        or (`handle_self`) opened, accepted and resolved by the worker at once.
        A report for dispatch joins an open ticket of the same problem nearby
        instead (`central.tickets.merging`). A report whose key this worker
        sent before returns that ticket.

        Raises:
            PermissionDenied: the actor is not a worker.
            InvalidRequest: unknown matter, a place outside every grid, or
                handling it yourself without saying what was done.
        """
        if actor.role is not UserRole.WORKER or actor.worker_id is None:
            raise PermissionDenied("only grid workers report from patrol")
        worker_id = actor.worker_id
        if report.handle_self and not (report.resolution_note or "").strip():
            raise InvalidRequest("handling it yourself needs a note of what was done")
        try:
            matter = self.matters.by_key(report.matter_key)
        except KeyError as exc:
            raise InvalidRequest(str(exc.args[0])) from exc
        lookup = self.grid_lookup
        grid_code = lookup(report.lat, report.lon) if lookup else None
        if grid_code is None:
            raise InvalidRequest(
                f"the position {report.lat:.6f}, {report.lon:.6f} is outside "
                "the city's grids"
            )
        now = self.clock.now()
        new = NewTicket.from_report(
            report.as_manual(actor.name),
            matter=matter,
            matters=self.matters,
            departments=self.departments,
            grid_code=grid_code,
            now=now,
        )

        def store() -> PatrolOutcome:
            with self._write() as session:
                known = find_reported(
                    session, worker_id=worker_id, client_key=report.client_key
                )
                if known is not None:
                    return PatrolOutcome(known, replayed=True)
                # Handled on the spot, it is the reporter's own case: no merge.
                target = (
                    None if report.handle_self else self._merge_target(session, new)
                )
                if target is not None:
                    joined = self._join_patrol(session, target, new, actor, report)
                    return PatrolOutcome(joined, replayed=False, merged=True)
                opened = self._store_patrol(session, new, actor, report, now)
                return PatrolOutcome(opened, replayed=False)

        try:
            outcome = self._merging(store)
        except IntegrityError:
            # The same report arrived twice at once: the other one stored it.
            with self.sessions() as session:
                known = find_reported(
                    session, worker_id=worker_id, client_key=report.client_key
                )
            if known is None:
                raise
            return PatrolOutcome(known, replayed=True)
        if outcome.replayed:
            return outcome
        ticket = outcome.ticket
        if outcome.merged:
            self._notify(ticket, "merged", [ticket.assignee_id])
        elif report.handle_self:
            self._notify(ticket, "resolved", [])
        elif new.assignee_id:
            self._notify(ticket, "dispatched", [new.assignee_id])
        return outcome

    def _store_patrol(
        self,
        session: Session,
        new: NewTicket,
        actor: Actor,
        report: PatrolReportIn,
        now: datetime,
    ) -> Ticket:
        """Dispatch (or hold) and store a patrol ticket; handled by the reporter,
        it is dispatched to them, accepted and resolved, each by the table."""
        worker_id = actor.worker_id or ""
        if report.handle_self:
            new.dispatch(worker_id, now)
        else:
            new.dispatch_or_hold(
                needs_review=False,  # a person found it: no AI review policy
                pick_worker=lambda grid: self._pick_worker(session, grid, now),
                now=now,
            )
        ticket = new.to_orm()
        session.add(ticket)
        session.flush()
        for entry in new.opening_history(ticket.id, at=now, actor=actor.name):
            session.add(entry.to_orm())
        if report.handle_self:
            self._move(
                session, ticket, TicketAction.ACCEPT, actor, now, HANDLED_ON_PATROL
            )
            ticket.accepted_at = now
            note = (report.resolution_note or "").strip()
            self._move(session, ticket, TicketAction.RESOLVE, actor, now, note)
            ticket.resolved_at = now
            ticket.resolution_note = note
            ticket.resolution_photo_sha256 = report.after_photo_sha256
        session.add(
            PatrolReport(
                ticket_id=ticket.id,
                worker_id=worker_id,
                client_key=report.client_key,
                handled_self=report.handle_self,
                created_at=now,
            )
        )
        session.flush()
        return ticket

    def open_from_outside(
        self,
        new: NewTicket,
        *,
        actor_name: str,
        review_first: bool,
        attach: Callable[[Session, Ticket], int],
    ) -> Ticket:
        """Store a ticket reported from outside (the citizen page, an Open311
        client): held for an operator when `review_first` (or outside every
        grid), else dispatched like a manual ticket; or, when an open ticket of
        the same problem is near, join that one. `attach` adds what belongs to
        it (the citizen report row) in the same transaction and returns its id."""

        def store() -> tuple[Ticket, bool]:
            with self._write() as session:
                target = self._merge_target(session, new)
                if target is not None:
                    self._join_outside(session, target, new, actor_name, attach)
                    return target.ticket, True
                return self._open_outside(
                    session, new, actor_name, review_first, attach
                ), False

        ticket, merged = self._merging(store)
        if merged:
            self._notify(ticket, "merged", [ticket.assignee_id])
        elif new.assignee_id:
            self._notify(ticket, "dispatched", [new.assignee_id])
        return ticket

    def _join_outside(
        self,
        session: Session,
        target: MergeTarget,
        new: NewTicket,
        actor_name: str,
        attach: Callable[[Session, Ticket], int],
    ) -> None:
        sighting = sighting_of(new)
        assert sighting is not None  # it found the target
        report_id = attach(session, target.ticket)
        merge_into(
            session,
            target,
            sighting,
            actor_name=actor_name,
            citizen_report_id=report_id,
        )
        session.flush()

    def _open_outside(
        self,
        session: Session,
        new: NewTicket,
        actor_name: str,
        review_first: bool,
        attach: Callable[[Session, Ticket], int],
    ) -> Ticket:
        now = new.created_at
        if review_first and new.grid_code is not None:
            new.hold(HoldReason.CITIZEN_REPORT)
        else:
            new.dispatch_or_hold(
                needs_review=False,
                pick_worker=lambda grid: self._pick_worker(session, grid, now),
                now=now,
            )
        ticket = new.to_orm()
        session.add(ticket)
        session.flush()
        for entry in new.opening_history(ticket.id, at=now, actor=actor_name):
            session.add(entry.to_orm())
        attach(session, ticket)
        session.flush()
        return ticket

    @staticmethod
    def _merging(store: Callable[[], _T]) -> _T:
        """`store` again when the ticket a report joined changed meanwhile
        (another report or event joined it first): the report is never lost
        to a race. Only joining can meet a changed ticket; opening one cannot."""
        for attempt in range(1, MERGE_TRIES + 1):
            try:
                return store()
            except ConcurrentChange:
                if attempt == MERGE_TRIES:
                    raise
        raise AssertionError("unreachable")

    # -- one ticket per problem ---------------------------------------------------

    def _merge_target(self, session: Session, new: NewTicket) -> MergeTarget | None:
        """The open ticket the new report joins under its matter's merge
        policy, or None."""
        sighting = sighting_of(new)
        if sighting is None:
            return None
        policy = self.matters.merge_policy(self.matters.by_key(new.matter_key))
        return find_open_ticket(session, policy, sighting)

    def _join_patrol(
        self,
        session: Session,
        target: MergeTarget,
        new: NewTicket,
        actor: Actor,
        report: PatrolReportIn,
    ) -> Ticket:
        """A patrol report joins the open ticket of its problem."""
        sighting = sighting_of(new)
        assert sighting is not None  # it found the target
        row = PatrolReport(
            ticket_id=target.ticket.id,
            worker_id=actor.worker_id or "",
            client_key=report.client_key,
            handled_self=False,
            created_at=sighting.at,
        )
        session.add(row)
        session.flush()
        merge_into(
            session, target, sighting, actor_name=actor.name, patrol_report_id=row.id
        )
        session.flush()
        return target.ticket

    def split(
        self,
        actor: Actor,
        ticket_id: int,
        merge_id: int,
        reason: str,
        *,
        address: str | None = None,
    ) -> tuple[Ticket, Ticket]:
        """Split a wrongly merged report off its ticket into a ticket of its
        own (dispatched like a new report), with its reporter and photo;
        both histories and the audit log say so. Returns (ticket, split-off).

        Raises:
            PermissionDenied: not staff.
            TicketNotFound: no such ticket.
            InvalidRequest: no reason, the merge is not this ticket's, or it
                was split off already.
        """
        if not reason.strip():
            raise InvalidRequest("splitting a report off needs a reason")
        with self._write() as session:
            ticket = self._staff_ticket(session, actor, ticket_id)
            merge = session.get(TicketMerge, merge_id)
            if merge is None or merge.ticket_id != ticket_id:
                raise InvalidRequest(
                    f"merge #{merge_id} is not a report merged into ticket {ticket_id}"
                )
            if merge.split_at is not None:
                raise InvalidRequest(
                    f"merge #{merge_id} was split off already "
                    f"(ticket {merge.split_ticket_id})"
                )
            now = self.clock.now()
            new = self._ticket_of_merge(session, ticket, merge, now)
            split = new.to_orm()
            session.add(split)
            session.flush()
            for entry in new.opening_history(split.id, at=now, actor=actor.name):
                session.add(entry.to_orm())
            self._move_reporter(session, merge, ticket.id, split.id)
            ticket.observations = max(1, ticket.observations - 1)
            merge.split_at = now
            merge.split_by = actor.name
            merge.split_ticket_id = split.id
            add_history(
                session,
                ticket,
                at=now,
                actor=actor.name,
                action=TicketAction.SPLIT,
                from_state=ticket.state,
                note=f"merge #{merge.id} split off into ticket {split.id}: {reason}",
            )
            record(
                session,
                actor.name,
                AuditAction.TICKET_SPLIT,
                f"ticket:{ticket.id}",
                address,
                {"merge_id": merge.id, "split_ticket_id": split.id, "reason": reason},
            )
            session.flush()
        self._notify(ticket, "split", [ticket.assignee_id], reason)
        if split.assignee_id:
            self._notify(split, "dispatched", [split.assignee_id])
        return ticket, split

    def _ticket_of_merge(
        self, session: Session, ticket: Ticket, merge: TicketMerge, now: datetime
    ) -> NewTicket:
        """The ticket a split-off report opens: its own words, place and photo,
        found when it was reported, dispatched (or held) now."""
        try:
            matter = self.matters.by_key(ticket.matter_key)
        except KeyError as exc:
            raise InvalidRequest(str(exc.args[0])) from exc
        source = TicketSource(merge.source)
        spec = ManualTicket(
            matter_key=matter.key,
            title=merge.title,
            description=merge.description,
            source=source,
            lat=merge.lat,
            lon=merge.lon,
            reporter=self._patrol_reporter(session, merge.patrol_report_id),
            photo_sha256=merge.photo_sha256,
        )
        opens = (
            NewTicket.from_report
            if source is TicketSource.PATROL
            else NewTicket.from_citizen
        )
        new = opens(
            spec,
            matter=matter,
            matters=self.matters,
            departments=self.departments,
            grid_code=merge.grid_code,
            now=now,
        )
        new.found_at = merge.merged_at
        new.opening_note = f"{source.value} report split off ticket {ticket.id}"
        new.dispatch_or_hold(
            needs_review=False,  # an operator has just looked at it
            pick_worker=lambda grid: self._pick_worker(session, grid, now),
            now=now,
        )
        return new

    def _tell_reporters(self, ticket: Ticket, action: str, note: str | None) -> None:
        """The workers who reported the ticket on patrol (the one who opened it
        and those whose reports joined it) hear how it ended; its assignee was
        told already."""
        with self.sessions() as session:
            reporters = set(
                session.scalars(
                    select(PatrolReport.worker_id).where(
                        PatrolReport.ticket_id == ticket.id
                    )
                )
            )
        reporters.discard(ticket.assignee_id or "")
        if reporters:
            self._notify(ticket, action, sorted(reporters), note)

    @staticmethod
    def _patrol_reporter(session: Session, patrol_report_id: int | None) -> str | None:
        """The login of the worker who sent a patrol report (a ticket's reporter)."""
        if patrol_report_id is None:
            return None
        row = session.get(PatrolReport, patrol_report_id)
        if row is None:
            return None
        username = session.scalar(
            select(User.username).where(User.worker_id == row.worker_id).limit(1)
        )
        return username or row.worker_id

    @staticmethod
    def _move_reporter(
        session: Session, merge: TicketMerge, from_id: int, to_id: int
    ) -> None:
        """The split-off report's reporter row and photo follow it."""
        if merge.citizen_report_id is not None:
            citizen = session.get(CitizenReport, merge.citizen_report_id)
            if citizen is not None:
                citizen.ticket_id = to_id
        if merge.patrol_report_id is not None:
            patrol = session.get(PatrolReport, merge.patrol_report_id)
            if patrol is not None:
                patrol.ticket_id = to_id
        if merge.photo_sha256 is not None:
            photo = session.get(MediaObject, merge.photo_sha256)
            if photo is not None and photo.ticket_id == from_id:
                photo.ticket_id = to_id

    def reopen(self, ticket_id: int, *, reason: str, actor_name: str) -> Ticket:
        """The reporter reopens a closed ticket: back to its worker for rework
        (closed → returned), counted as rework, with a fresh time limit."""
        with self._write() as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                raise TicketNotFound(f"ticket {ticket_id} not found")
            now = self.clock.now()
            before = ticket.state
            ticket.state = next_state(
                ticket.id, TicketAction.REOPEN, TicketState(before)
            ).value
            ticket.rework_count += 1
            ticket.return_reason = reason
            ticket.closed_at = None
            ticket.overdue = False
            ticket.due_at = now + timedelta(minutes=ticket.time_limit_min)
            add_history(
                session,
                ticket,
                at=now,
                actor=actor_name,
                action=TicketAction.REOPEN,
                from_state=before,
                note=reason,
            )
            session.flush()
        self._notify(ticket, "returned", [ticket.assignee_id], reason)
        return ticket

    def escalate(
        self,
        actor: Actor,
        ticket_id: int,
        level: int,
        note: str,
        recipients: Sequence[str],
    ) -> Ticket:
        """Raise the escalation level (scheduler, supervisor) and notify that level."""
        with self._write() as session:
            ticket = self._staff_ticket(session, actor, ticket_id)
            if TicketState(ticket.state) not in OPEN_STATES:
                raise InvalidRequest(
                    f"ticket {ticket_id} is {ticket.state}; it cannot escalate"
                )
            if level <= ticket.escalation_level:
                raise InvalidRequest(
                    f"ticket {ticket_id} is already at escalation level "
                    f"{ticket.escalation_level}"
                )
            now = self.clock.now()
            ticket.escalation_level = level
            if ticket.due_at is not None and now >= ticket.due_at:
                ticket.overdue = True
            add_history(
                session,
                ticket,
                at=now,
                actor=actor.name,
                action=TicketAction.ESCALATE,
                from_state=ticket.state,
                note=note,
            )
            session.flush()
        self._notify(ticket, "escalated", [ticket.assignee_id, *recipients], note)
        return ticket

    # -- helpers ------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A session that commits on success, rolls back on error, and maps stale
        writes (someone else changed the ticket) to ConcurrentChange."""
        try:
            with self.sessions.begin() as session:
                yield session
        except StaleDataError as exc:
            raise ConcurrentChange(
                "the ticket changed meanwhile; reload and retry"
            ) from exc

    def _staff_move(
        self,
        actor: Actor,
        ticket_id: int,
        action: TicketAction,
        note: str | None,
        notice: str,
        apply: Callable[[Ticket, datetime], None],
    ) -> Ticket:
        """A staff transition: move the ticket, `apply` its fields, tell the worker."""
        with self._write() as session:
            ticket = self._staff_ticket(session, actor, ticket_id)
            now = self.clock.now()
            self._move(session, ticket, action, actor, now, note)
            apply(ticket, now)
            session.flush()
        self._notify(ticket, notice, [ticket.assignee_id], note)
        return ticket

    def _staff_ticket(self, session: Session, actor: Actor, ticket_id: int) -> Ticket:
        if not actor.is_staff:
            raise PermissionDenied(f"a {actor.role.value} may not do this")
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise TicketNotFound(f"ticket {ticket_id} not found")
        return ticket

    def _move(
        self,
        session: Session,
        ticket: Ticket,
        action: TicketAction,
        actor: Actor,
        now: datetime,
        note: str | None,
    ) -> None:
        before = ticket.state
        ticket.state = next_state(ticket.id, action, TicketState(before)).value
        add_history(
            session,
            ticket,
            at=now,
            actor=actor.name,
            action=action,
            from_state=before,
            note=note,
        )

    def _dispatch_action(
        self,
        actor: Actor,
        ticket_id: int,
        action: TicketAction,
        worker_id: str | None,
        note: str | None,
        grid_code: str | None = None,
    ) -> Ticket:
        with self._write() as session:
            ticket = self._staff_ticket(session, actor, ticket_id)
            next_state(ticket.id, action, TicketState(ticket.state))  # 409 before work
            previous = ticket.assignee_id
            if grid_code is not None:
                ticket.grid_code = grid_code
            if worker_id is not None:
                if self.directory.get(worker_id) is None:
                    raise InvalidRequest(f"no active worker {worker_id!r}")
                chosen = worker_id
            else:
                if ticket.grid_code is None:
                    raise InvalidRequest(
                        f"ticket {ticket_id} has no grid: name a worker or a grid"
                    )
                exclude = (
                    [previous] if previous and action is TicketAction.REASSIGN else []
                )
                picked = self._pick_worker(
                    session, ticket.grid_code, self.clock.now(), exclude
                )
                if picked is None:
                    raise InvalidRequest(
                        f"nobody is on duty for grid {ticket.grid_code}: name a worker"
                    )
                chosen = picked
            now = self.clock.now()
            self._assign(session, ticket, chosen, now, action, actor, note)
            session.flush()
        self._notify(
            ticket,
            "dispatched" if action is TicketAction.CONFIRM else "reassigned",
            [chosen],
        )
        if previous and previous != chosen:
            self._notify(ticket, "reassigned_away", [previous], note)
        return ticket

    def _pick_worker(
        self,
        session: Session,
        grid_code: str,
        now: datetime,
        exclude: Sequence[str] = (),
    ) -> str | None:
        """`choose_worker` weighing the open tickets of the grid's candidates."""
        candidates = [w.id for w in self.directory.candidates(grid_code)]
        return choose_worker(
            self.directory,
            grid_code,
            now,
            open_ticket_counts(session, candidates),
            exclude,
        )

    def _assign(
        self,
        session: Session,
        ticket: Ticket,
        worker_id: str,
        now: datetime,
        action: TicketAction,
        actor: Actor,
        note: str | None,
    ) -> None:
        ticket.assignee_id = worker_id
        if ticket.dispatched_at is None:
            ticket.dispatched_at = now
            ticket.due_at = now + timedelta(minutes=ticket.time_limit_min)
        self._move(session, ticket, action, actor, now, note or f"to {worker_id}")

    def _notify(
        self,
        ticket: Ticket,
        action: str,
        recipients: Sequence[str | None],
        note: str | None = None,
    ) -> None:
        with self.sessions() as session:
            event_ids = list(
                session.scalars(
                    select(Event.event_id).where(Event.ticket_id == ticket.id)
                )
            )
        targets = [r for r in recipients if r]
        try:
            notice = ticket_notice(
                ticket.id, ticket, action=action, event_ids=event_ids, note=note
            )
            self.notifier.ticket_changed(notice, targets)
        except Exception:
            log.exception("could not notify %s about ticket %s", targets, ticket.id)
