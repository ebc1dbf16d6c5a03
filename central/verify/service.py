"""Camera checks at central: ask the node after a resolution, apply its verdict,
answer `cannot_verify` for a node that stays silent.

The request goes out when the worker's resolution is committed (a hook of
`TicketService.resolve`); the answer arrives on the consumer's MQTT connection
and is applied on this service's own thread (saving the "after" snapshot runs
the face screen, too slow for the network thread). The scheduler calls
`expire_overdue` every round, so a check never leaves its ticket hanging.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import queue
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.context import CentralContext
from central.db.models import CameraCheck, Event, MediaObject, Ticket, UserRole
from central.ingest.processor import InboundMessage, dead_letter_for
from central.media import MediaStore
from central.media_screen import MediaRejected
from central.tickets.service import (
    Actor,
    ConcurrentChange,
    add_history,
)
from central.tickets.states import IllegalTransition, TicketAction, TicketState
from central.verify.policy import CheckMode, CheckOutcome, CheckState, outcome_for
from gridwatch.contract import SnapshotRef
from gridwatch.verification import (
    EVENT_IDS_MAX,
    VerifyRequest,
    VerifyResult,
    VerifyVerdict,
    node_of_result_topic,
    verify_command_topic,
)

log = logging.getLogger(__name__)

Publish = Callable[[str, str], object]


@dataclass(frozen=True, slots=True)
class CameraCheckSettings:
    """How long a check may take.

    Attributes:
        look_s: Seconds of fresh frames the node watches before answering.
        answer_timeout_s: Seconds after `look_s` before central answers
            `cannot_verify` itself (node offline, command lost).
        queue_max: Answers waiting to be applied (the MQTT thread blocks beyond).
    """

    look_s: float = 10.0
    answer_timeout_s: float = 120.0
    queue_max: int = 1000

    def __post_init__(self) -> None:
        if not 0 <= self.look_s <= 300:
            raise ValueError(f"look_s must be in [0, 300], got {self.look_s}")
        if self.answer_timeout_s <= 0:
            raise ValueError(
                f"answer_timeout_s must be > 0, got {self.answer_timeout_s}"
            )


def camera_actor(node_id: str, camera_id: str) -> Actor:
    """Who acts on the ticket in its history: the camera that looked."""
    return Actor(f"camera {node_id}/{camera_id}"[:64], UserRole.ADMIN)


class CameraCheckService:
    """Requests camera checks and applies their answers.

    Args:
        context: The central context (database, clock, matter list, tickets).
        media: Where "after" snapshots are stored; None keeps none.
        publish: Sends (topic, JSON body) with QoS 1 (the consumer's client).
        settings: Time limits; defaults when None.
    """

    def __init__(
        self,
        context: CentralContext,
        *,
        media: MediaStore | None,
        publish: Publish,
        settings: CameraCheckSettings | None = None,
    ) -> None:
        self.context = context
        self.media = media
        self._publish = publish
        self.settings = settings or CameraCheckSettings()
        self._inbox: queue.Queue[InboundMessage | None] = queue.Queue(
            self.settings.queue_max
        )
        self._thread: threading.Thread | None = None

    # -- requests ------------------------------------------------------------------

    def on_resolved(self, ticket: Ticket) -> None:
        """The resolve hook: ask for a check (never fails the resolution)."""
        try:
            self.request(ticket.id)
        except Exception:
            log.exception("ticket %s: camera check not requested", ticket.id)

    def request(self, ticket_id: int) -> VerifyRequest | None:
        """Ask the ticket's camera to look again, if its matter wants that.

        Returns:
            The request sent, or None when the ticket has no camera check
            (not resolved, no camera event, or its matter has none).
        """
        now = self.context.clock.now()
        with self.context.sessions.begin() as session:
            request = self._new_request(session, ticket_id, now)
            if request is None:
                return None
            self._supersede(session, ticket_id, now)
            session.add(self._row(session, request, now))
        topic = verify_command_topic(self.context.topics.prefix, request.node_id)
        self._publish(topic, request.to_json())
        log.info(
            "ticket %s: asked node %s to look again at camera %s (%s)",
            ticket_id,
            request.node_id,
            request.camera_id,
            request.request_id,
        )
        return request

    def _new_request(
        self, session: Session, ticket_id: int, now: datetime
    ) -> VerifyRequest | None:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None or ticket.state != TicketState.RESOLVED.value:
            return None
        if self._mode(ticket.matter_key) is None:
            return None
        events = list(
            session.scalars(
                select(Event)
                .where(Event.ticket_id == ticket_id)
                .order_by(Event.started_at, Event.event_id)
            )
        )
        latest = events[-1] if events else None
        if latest is None:
            return None
        same_camera = [
            e.event_id
            for e in events
            if (e.node_id, e.camera_id) == (latest.node_id, latest.camera_id)
        ]
        box = latest.image_box
        image_box = (box[0], box[1], box[2], box[3]) if box and len(box) == 4 else None
        return VerifyRequest(
            request_id=secrets.token_hex(16),
            ticket_id=ticket_id,
            node_id=latest.node_id,
            camera_id=latest.camera_id,
            zone_id=latest.zone_id,
            event_type=latest.type,
            event_ids=same_camera[-EVENT_IDS_MAX:],
            image_box=image_box,
            look_s=self.settings.look_s,
            requested_at=now,
        )

    def _row(
        self, session: Session, request: VerifyRequest, now: datetime
    ) -> CameraCheck:
        before = session.scalar(
            select(Event.snapshot_sha256).where(Event.event_id == request.event_ids[-1])
        )
        wait_s = self.settings.look_s + self.settings.answer_timeout_s
        return CameraCheck(
            request_id=request.request_id,
            ticket_id=request.ticket_id,
            node_id=request.node_id,
            camera_id=request.camera_id,
            zone_id=request.zone_id,
            event_type=request.event_type,
            state=CheckState.PENDING.value,
            before_sha256=before,
            requested_at=now,
            deadline_at=now + timedelta(seconds=wait_s),
        )

    def _supersede(self, session: Session, ticket_id: int, now: datetime) -> None:
        # A ticket returned by hand and resolved again: the older check is moot.
        for older in session.scalars(
            select(CameraCheck).where(
                CameraCheck.ticket_id == ticket_id,
                CameraCheck.state == CheckState.PENDING.value,
            )
        ):
            older.state = CheckState.CANNOT_VERIFY.value
            older.reason = "superseded by a newer resolution"
            older.outcome = CheckOutcome.NONE.value
            older.answered_at = now

    def _mode(self, matter_key: str) -> CheckMode | None:
        try:
            return self.context.matters.by_key(matter_key).camera_check
        except KeyError:
            return None

    # -- answers -------------------------------------------------------------------

    def submit(self, topic: str, payload: bytes) -> None:
        """Queue an answer from the broker (blocks when the queue is full)."""
        self._inbox.put(InboundMessage(topic, payload, 0))

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="camera-checks", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._inbox.put(None)
        self._thread.join(10)

    def _run(self) -> None:
        while (message := self._inbox.get()) is not None:
            try:
                self.apply(message.topic, message.payload)
            except Exception:  # one answer must not stop the others
                log.exception("camera check answer on %s failed", message.topic)

    def apply(self, topic: str, payload: bytes) -> CheckOutcome | None:
        """Record one answer and move its ticket on.

        A malformed answer, one from another node than the topic's, or one to
        an unknown request is dead-lettered with the reason; a late answer (the
        check was already concluded) is logged and ignored.

        Returns:
            What the answer did to the ticket, None when it was not applied.
        """
        result = self._parse(topic, payload)
        if result is None:
            return None
        with self.context.sessions() as session:
            row = session.get(CameraCheck, result.request_id)
            owner = None if row is None else row.node_id
        if owner != result.node_id:
            self._refuse(
                topic,
                payload,
                f"no camera check {result.request_id} asked of node {result.node_id}",
            )
            return None
        after = self._store_after(result.snapshot, result.ticket_id)
        return self.conclude(
            result.request_id, result.verdict, result.reason, after_sha256=after
        )

    def _parse(self, topic: str, payload: bytes) -> VerifyResult | None:
        try:
            result = VerifyResult.model_validate_json(payload)
        except ValidationError as error:
            first = error.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(body)"
            self._refuse(
                topic,
                payload,
                f"invalid gw.verify_result/1 message: {where}: {first['msg']}",
            )
            return None
        node = node_of_result_topic(topic, self.context.topics.prefix)
        if node != result.node_id:
            self._refuse(
                topic,
                payload,
                f"node_id {result.node_id!r} does not match the topic's node {node!r}",
            )
            return None
        return result

    def _refuse(self, topic: str, payload: bytes, reason: str) -> None:
        log.warning("camera check answer on %s refused: %s", topic, reason)
        letter = dead_letter_for(InboundMessage(topic, payload, 0), reason)
        try:
            self.context.notifier.deadletter(letter)
        except Exception:
            log.exception("could not publish a dead letter")

    def _store_after(self, snapshot: SnapshotRef | None, ticket_id: int) -> str | None:
        if snapshot is None or not snapshot.bytes_b64 or self.media is None:
            return None
        try:
            data = base64.b64decode(snapshot.bytes_b64, validate=True)
        except (binascii.Error, ValueError):
            log.warning("ticket %s: after picture is not base64; dropped", ticket_id)
            return None
        if hashlib.sha256(data).hexdigest() != snapshot.sha256:
            log.warning("ticket %s: after picture sha256 mismatch; dropped", ticket_id)
            return None
        try:
            stored = self.media.save(data, "snapshot")
        except MediaRejected as error:
            log.warning("ticket %s: after picture refused: %s", ticket_id, error)
            return None
        now = self.context.clock.now()
        with self.context.sessions.begin() as session:
            if session.get(MediaObject, stored.sha256) is None:
                session.add(
                    MediaObject(
                        sha256=stored.sha256,
                        kind="snapshot",
                        content_type=stored.content_type,
                        size=stored.size,
                        ticket_id=ticket_id,
                        uploaded_by="camera check",
                        created_at=now,
                    )
                )
        return stored.sha256

    # -- concluding ------------------------------------------------------------------

    def expire_overdue(self) -> int:
        """Answer `cannot_verify` for every check past its deadline (scheduler)."""
        now = self.context.clock.now()
        with self.context.sessions() as session:
            due = session.execute(
                select(CameraCheck.request_id, CameraCheck.node_id).where(
                    CameraCheck.state == CheckState.PENDING.value,
                    CameraCheck.deadline_at <= now,
                )
            ).all()
        waited = self.settings.look_s + self.settings.answer_timeout_s
        for request_id, node_id in due:
            reason = (
                f"no answer from node {node_id} within {waited:.0f} s "
                "(node offline or command lost)"
            )
            self.conclude(request_id, VerifyVerdict.CANNOT_VERIFY, reason)
        return len(due)

    def conclude(
        self,
        request_id: str,
        verdict: VerifyVerdict,
        reason: str,
        *,
        after_sha256: str | None = None,
    ) -> CheckOutcome | None:
        """Record a verdict (once) and move the ticket on by its matter's policy."""
        now = self.context.clock.now()
        with self.context.sessions.begin() as session:
            row = session.get(CameraCheck, request_id)
            if row is None or row.state != CheckState.PENDING.value:
                log.info("camera check %s concluded before; ignored", request_id)
                return None
            row.state = CheckState(verdict.value).value
            row.reason = reason
            row.after_sha256 = after_sha256
            row.answered_at = now
            ticket = session.get(Ticket, row.ticket_id)
            matter_key = ticket.matter_key if ticket is not None else ""
            ticket_id, node_id, camera_id = row.ticket_id, row.node_id, row.camera_id
        actor = camera_actor(node_id, camera_id)
        outcome = outcome_for(verdict, self._mode(matter_key) or "review")
        outcome = self._move_ticket(ticket_id, outcome, actor, verdict, reason)
        with self.context.sessions.begin() as session:
            stored = session.get(CameraCheck, request_id)
            if stored is not None:
                stored.outcome = outcome.value
        log.info(
            "ticket %s: camera check %s: %s (%s)",
            ticket_id,
            verdict.value,
            outcome.value,
            reason,
        )
        return outcome

    def _move_ticket(
        self,
        ticket_id: int,
        outcome: CheckOutcome,
        actor: Actor,
        verdict: VerifyVerdict,
        reason: str,
    ) -> CheckOutcome:
        tickets = self.context.tickets
        try:
            if outcome is CheckOutcome.CLOSED:
                tickets.close(actor, ticket_id, f"verified by camera: {reason}")
            elif outcome is CheckOutcome.RETURNED:
                tickets.return_for_rework(
                    actor, ticket_id, f"the camera still sees it: {reason}"
                )
            else:
                self._note(ticket_id, actor, verdict, reason)
        except (IllegalTransition, ConcurrentChange) as error:
            log.info("ticket %s: camera check not applied: %s", ticket_id, error)
            return CheckOutcome.NONE
        return outcome

    def _note(
        self, ticket_id: int, actor: Actor, verdict: VerifyVerdict, reason: str
    ) -> None:
        words = {
            VerifyVerdict.GONE: "camera sees it gone; an operator closes it",
            VerifyVerdict.CANNOT_VERIFY: "camera cannot verify; an operator decides",
        }
        with self.context.sessions.begin() as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None or ticket.state != TicketState.RESOLVED.value:
                raise IllegalTransition(
                    ticket_id,
                    TicketAction.CLOSE,
                    TicketState(ticket.state) if ticket else TicketState.CLOSED,
                )
            add_history(
                session,
                ticket,
                at=self.context.clock.now(),
                actor=actor.name,
                action=TicketAction.OBSERVE,
                from_state=ticket.state,
                note=f"{words.get(verdict, verdict.value)}: {reason}",
            )


def checks_of(session: Session, ticket_id: int) -> list[CameraCheck]:
    """A ticket's camera checks, newest first."""
    return list(
        session.scalars(
            select(CameraCheck)
            .where(CameraCheck.ticket_id == ticket_id)
            .order_by(CameraCheck.requested_at.desc())
        )
    )
