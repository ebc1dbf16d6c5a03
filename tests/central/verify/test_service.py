"""Camera checks at central on SQLite and PostgreSQL: the request on resolve,
the verdict applied by the matter's policy, refusals and the time-out."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from central.context import CentralContext
from central.db.models import CameraCheck, Ticket, TicketHistory, UserRole
from central.ingest.processor import EventProcessor, InboundMessage
from central.media import MediaStore
from central.media_screen import MediaKind
from central.notify import RecordingNotifier
from central.tickets.service import Actor
from central.verify import CameraCheckService, CameraCheckSettings
from gridwatch.contract import EventType, SnapshotRef
from gridwatch.verification import VerifyRequest, VerifyResult, VerifyVerdict
from tests.central.conftest import GRID_1, GRID_1_WORKER, grid_centre, make_event

pytestmark = pytest.mark.integration

Central = tuple[CentralContext, RecordingNotifier]
WORKER = Actor("worker", UserRole.WORKER, worker_id=GRID_1_WORKER)
OPERATOR = Actor("operator", UserRole.OPERATOR)
ANSWERS = "gw/v1/edge/node-01/verifications"


class Unscreened:
    """Stores what it is given (the face screen has its own tests)."""

    def screen(self, data: bytes, kind: MediaKind) -> bytes:
        return data


class Sent:
    """The MQTT publish of the service, kept."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def __call__(self, topic: str, body: str) -> None:
        self.messages.append((topic, body))


def checks(
    context: CentralContext, media: MediaStore
) -> tuple[CameraCheckService, Sent]:
    sent = Sent()
    service = CameraCheckService(
        context,
        media=media,
        publish=sent,
        settings=CameraCheckSettings(look_s=5, answer_timeout_s=60),
    )
    context.tickets.resolve_hooks.append(service.on_resolved)
    return service, sent


def resolved_ticket(context: CentralContext, type_: EventType) -> tuple[int, str]:
    """A camera ticket of `type_` resolved by its worker, and its event id."""
    lat, lon = grid_centre(context, GRID_1)
    event = make_event(lat, lon, type_=type_)
    message = InboundMessage("gw/v1/edge/node-01/events", event.to_json().encode())
    EventProcessor(context).process([message])
    with context.sessions() as session:
        ticket_id = session.scalars(
            select(Ticket.id).order_by(Ticket.id.desc())
        ).first()
    assert ticket_id is not None
    if state_of(context, ticket_id) == "pending_review":  # an operator confirms
        context.tickets.confirm(OPERATOR, ticket_id, GRID_1_WORKER)
    context.tickets.accept(WORKER, ticket_id)
    context.tickets.resolve(WORKER, ticket_id, "picked it up", None)
    return ticket_id, event.event_id


def answer(request: VerifyRequest, verdict: VerifyVerdict, **changes: object) -> bytes:
    ok, jpeg = cv2.imencode(".jpg", np.full((16, 16, 3), 90, np.uint8))
    assert ok
    data = jpeg.tobytes()
    result = VerifyResult(
        request_id=request.request_id,
        ticket_id=request.ticket_id,
        node_id=request.node_id,
        camera_id=request.camera_id,
        verdict=verdict,
        reason="looked",
        snapshot=SnapshotRef(
            sha256=hashlib.sha256(data).hexdigest(),
            bytes_b64=base64.b64encode(data).decode(),
        ),
    )
    return result.model_copy(update=changes).to_json().encode()


def state_of(context: CentralContext, ticket_id: int) -> str:
    with context.sessions() as session:
        return session.get_one(Ticket, ticket_id).state


def check_row(context: CentralContext, request_id: str) -> CameraCheck:
    with context.sessions() as session:
        row = session.get_one(CameraCheck, request_id)
        session.expunge(row)
        return row


@pytest.fixture
def media(tmp_path_factory: pytest.TempPathFactory) -> MediaStore:
    return MediaStore(tmp_path_factory.mktemp("media"), screen=Unscreened())


def test_resolve_given_littering_ticket_should_ask_its_node_to_look_again(
    central: Central, media: MediaStore
) -> None:
    context, _ = central
    _service, sent = checks(context, media)
    ticket_id, event_id = resolved_ticket(context, EventType.LITTERING)
    [(topic, body)] = sent.messages
    assert topic == "gw/v1/edge/node-01/commands/verify"
    request = VerifyRequest.model_validate_json(body)
    assert (request.ticket_id, request.camera_id) == (ticket_id, "cam-001")
    assert request.event_ids == [event_id] and request.look_s == 5
    row = check_row(context, request.request_id)
    assert row.state == "pending"
    assert row.deadline_at == context.clock.now() + timedelta(seconds=65)


def test_resolve_given_matter_without_camera_check_should_ask_nothing(
    central: Central, media: MediaStore
) -> None:
    context, _ = central
    _service, sent = checks(context, media)
    resolved_ticket(context, EventType.FALL)  # a fall is over: nothing to look at
    assert sent.messages == []


@pytest.mark.parametrize(
    ("type_", "verdict", "state", "outcome"),
    [
        (EventType.LITTERING, VerifyVerdict.GONE, "closed", "closed"),
        (EventType.LITTERING, VerifyVerdict.PRESENT, "returned", "returned"),
        (EventType.LITTERING, VerifyVerdict.CANNOT_VERIFY, "resolved", "review"),
        (EventType.ABANDONED_OBJECT, VerifyVerdict.GONE, "resolved", "review"),
    ],
)
def test_apply_given_verdict_should_move_the_ticket_by_its_matter(
    central: Central,
    media: MediaStore,
    type_: EventType,
    verdict: VerifyVerdict,
    state: str,
    outcome: str,
) -> None:
    context, _ = central
    service, sent = checks(context, media)
    ticket_id, _ = resolved_ticket(context, type_)
    request = VerifyRequest.model_validate_json(sent.messages[-1][1])
    applied = service.apply(ANSWERS, answer(request, verdict))
    assert applied is not None and applied.value == outcome
    assert state_of(context, ticket_id) == state
    row = check_row(context, request.request_id)
    assert (row.state, row.outcome) == (verdict.value, outcome)
    assert row.after_sha256 is not None and media.find(row.after_sha256) is not None
    with context.sessions() as session:
        last = session.scalars(
            select(TicketHistory)
            .where(TicketHistory.ticket_id == ticket_id)
            .order_by(TicketHistory.id.desc())
        ).first()
    assert last is not None and last.actor == "camera node-01/cam-001"
    # A second copy of the answer (redelivery) changes nothing.
    assert service.apply(ANSWERS, answer(request, verdict)) is None


@pytest.mark.parametrize(
    ("topic", "changes", "reason"),
    [
        (ANSWERS, {"node_id": "node-02"}, "does not match the topic's node"),
        ("gw/v1/edge/node-02/verifications", {"node_id": "node-02"}, "no camera check"),
        (ANSWERS, {"request_id": "ab" * 16}, "no camera check"),
    ],
)
def test_apply_given_a_foreign_answer_should_dead_letter_it_and_keep_the_ticket(
    central: Central,
    media: MediaStore,
    topic: str,
    changes: dict[str, object],
    reason: str,
) -> None:
    context, notifier = central
    service, sent = checks(context, media)
    ticket_id, _ = resolved_ticket(context, EventType.LITTERING)
    request = VerifyRequest.model_validate_json(sent.messages[-1][1])
    payload = answer(request, VerifyVerdict.GONE, **changes)
    assert service.apply(topic, payload) is None
    assert reason in notifier.deadletters[-1].reason
    assert state_of(context, ticket_id) == "resolved"
    assert check_row(context, request.request_id).state == "pending"


def test_apply_given_malformed_answer_should_dead_letter_with_the_reason(
    central: Central, media: MediaStore
) -> None:
    context, notifier = central
    service, _ = checks(context, media)
    body = json.dumps({"schema": "gw.verify_result/1", "verdict": "maybe"})
    assert service.apply(ANSWERS, body.encode()) is None
    assert notifier.deadletters[-1].reason.startswith(
        "invalid gw.verify_result/1 message:"
    )


def test_expire_overdue_given_a_silent_node_should_answer_cannot_verify(
    central: Central, media: MediaStore
) -> None:
    context, _ = central
    service, sent = checks(context, media)
    ticket_id, _ = resolved_ticket(context, EventType.LITTERING)
    request = VerifyRequest.model_validate_json(sent.messages[-1][1])
    context.clock.advance(timedelta(seconds=64))  # type: ignore[attr-defined]
    assert service.expire_overdue() == 0
    context.clock.advance(timedelta(seconds=2))  # type: ignore[attr-defined]
    assert service.expire_overdue() == 1
    row = check_row(context, request.request_id)
    assert (row.state, row.outcome) == ("cannot_verify", "review")
    assert row.reason is not None and "no answer from node node-01" in row.reason
    assert state_of(context, ticket_id) == "resolved"  # an operator decides
    # The node's late answer is ignored: the check is concluded.
    assert service.apply(ANSWERS, answer(request, VerifyVerdict.GONE)) is None
    assert state_of(context, ticket_id) == "resolved"
