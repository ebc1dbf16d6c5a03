"""The ingest batch on SQLite and a real PostgreSQL: tickets, dedupe, merge, grids."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from central.context import CentralContext
from central.db.models import (
    Camera,
    Event,
    EventMessageRow,
    MediaObject,
    Ticket,
    TicketHistory,
)
from central.ingest.processor import EventProcessor, InboundMessage
from central.matters import parse_matter_list
from central.media import MediaStore
from central.notify import RecordingNotifier
from central.tickets.model import ticket_notice
from gridwatch.contract import EventMessage, EventPhase, EventType, Media, SnapshotRef
from tests.central.conftest import GRID_1, GRID_1_WORKER, grid_centre, make_event

Central = tuple[CentralContext, RecordingNotifier]
M_PER_DEG_LAT = 110_574.0
SHIPPED_MATTERS = resources.files("central").joinpath("matters.yaml").read_text("utf-8")
TOY_MATTER = """
  - key: toy
    event_types: [toy_rule]
    category: {code: "0198", class: 市容环境, subclass: 玩具}
    department: urban_management
    time_limit_min: 60
"""


def inbound(event: EventMessage, topic: str | None = None) -> InboundMessage:
    return InboundMessage(
        topic or f"gw/v1/edge/{event.node_id}/events", event.to_json().encode()
    )


def count(context: CentralContext, model: type) -> int:
    with context.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def tickets(context: CentralContext) -> list[Ticket]:
    with context.sessions() as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


@pytest.mark.integration
def test_event_in_a_grid_opens_a_ticket_dispatched_to_its_worker(
    central: Central,
) -> None:
    context, _ = central
    lat, lon = grid_centre(context, GRID_1)
    event = make_event(lat, lon)
    result = EventProcessor(context).process([inbound(event)])
    assert (result.accepted, result.tickets_created, result.duplicates) == (1, 1, 0)
    [ticket] = tickets(context)
    assert ticket.grid_code == GRID_1
    assert ticket.state == "dispatched"
    assert ticket.assignee_id == GRID_1_WORKER
    assert ticket.category_code == "0503"
    assert ticket.department_code == "D03"  # public security handles crowding
    assert ticket.dispatched_at is not None
    assert ticket.due_at == ticket.dispatched_at + timedelta(minutes=30)
    [(notice, recipients)] = result.notices
    assert notice.ticket_id == ticket.id and recipients == [GRID_1_WORKER]
    assert notice.event_ids == [event.event_id]
    with context.sessions() as session:
        history = session.scalars(
            select(TicketHistory)
            .where(TicketHistory.ticket_id == ticket.id)
            .order_by(TicketHistory.id)
        ).all()
        stored = session.get(Event, event.event_id)
    assert [(h.action, h.from_state, h.to_state) for h in history] == [
        ("create", None, "pending_review"),
        ("dispatch", "pending_review", "dispatched"),
    ]
    assert stored is not None and stored.ticket_id == ticket.id
    assert stored.grid_code == GRID_1


@pytest.mark.integration
def test_ingest_notice_is_the_ticket_models_notice_of_the_stored_ticket(
    central: Central,
) -> None:
    context, _ = central
    lat, lon = grid_centre(context, GRID_1)
    dispatched, held = make_event(lat, lon), make_event(lat, lon, type_=EventType.FALL)
    held = held.model_copy(update={"confidence": 0.1})  # below the fall matter's 0.3
    result = EventProcessor(context).process([inbound(dispatched), inbound(held)])
    stored = tickets(context)
    assert [t.title for t in stored] == [
        "Crowd gathering (cam-001)",  # the titles come from the matter list
        "Person fallen (cam-001)",
    ]
    for (notice, _), ticket, event, action in zip(
        result.notices,
        stored,
        [dispatched, held],
        ["dispatched", "pending_review"],
        strict=True,
    ):
        expected = ticket_notice(
            ticket.id, ticket, action=action, event_ids=[event.event_id]
        )
        assert notice.model_dump(exclude={"sent_at"}) == expected.model_dump(
            exclude={"sent_at"}
        )
        assert (notice.escalation_level, notice.overdue, notice.note) == (
            0,
            False,
            None,
        )


@pytest.mark.integration
def test_an_event_type_without_words_gets_a_readable_title(central: Central) -> None:
    context, _ = central
    words = "crowding: {label: Crowding, title: Crowd gathering}"
    assert words in SHIPPED_MATTERS
    bare = SHIPPED_MATTERS.replace(words, "crowding: {}")
    context.matters = parse_matter_list(bare, source="test")
    EventProcessor(context).process(
        [inbound(make_event(*grid_centre(context, GRID_1)))]
    )
    [ticket] = tickets(context)
    assert ticket.title == "Crowding (cam-001)"


@pytest.mark.integration
def test_a_plug_in_event_type_needs_only_a_matter_list_entry(central: Central) -> None:
    context, _ = central
    body = json.loads(make_event(*grid_centre(context, GRID_1)).to_json())
    body["type"] = "toy_rule"  # a rule plug-in's own type
    message = InboundMessage("gw/v1/edge/node-01/events", json.dumps(body).encode())
    refused = EventProcessor(context).process([message])
    assert "no matter list entry for event type 'toy_rule'" in (
        refused.deadletters[0].reason
    )
    context.matters = parse_matter_list(SHIPPED_MATTERS + TOY_MATTER, source="test")
    body["event_id"] += "-2"
    message = InboundMessage("gw/v1/edge/node-01/events", json.dumps(body).encode())
    result = EventProcessor(context).process([message])
    [ticket] = tickets(context)
    assert (ticket.state, ticket.event_type, ticket.matter_key) == (
        "dispatched",
        "toy_rule",
        "toy",
    )
    assert ticket.title == "Toy rule (cam-001)"
    [(notice, recipients)] = result.notices
    assert (notice.title, recipients) == (ticket.title, [GRID_1_WORKER])


@pytest.mark.integration
def test_redelivery_and_repeats_never_create_a_second_event_or_ticket(
    central: Central,
) -> None:
    context, _ = central
    processor = EventProcessor(context)
    event = make_event(*grid_centre(context, GRID_1))
    first = processor.process([inbound(event), inbound(event)])
    again = processor.process([inbound(event)])
    assert (first.accepted, first.duplicates) == (1, 1)
    assert (again.accepted, again.duplicates, again.tickets_created) == (0, 1, 0)
    assert again.notices == []
    assert count(context, Ticket) == 1
    assert count(context, Event) == 1
    assert count(context, EventMessageRow) == 1


@pytest.mark.integration
def test_updates_and_end_are_observations_of_the_same_ticket(central: Central) -> None:
    context, _clock_notifier = central
    processor = EventProcessor(context)
    start = make_event(*grid_centre(context, GRID_1))
    processor.process([inbound(start)])
    later = start.detected_at + timedelta(seconds=30)
    update = start.model_copy(update={"phase": EventPhase.UPDATE, "detected_at": later})
    end = start.model_copy(
        update={
            "phase": EventPhase.END,
            "detected_at": later + timedelta(seconds=5),
            "ended_at": later + timedelta(seconds=5),
        }
    )
    result = processor.process([inbound(update), inbound(end), inbound(update)])
    assert (result.accepted, result.duplicates, result.observations) == (2, 1, 2)
    assert result.tickets_created == 0
    [ticket] = tickets(context)
    assert ticket.observations == 3
    with context.sessions() as session:
        stored = session.get(Event, start.event_id)
    assert stored is not None
    assert stored.phase == "end" and stored.ended_at == end.ended_at
    assert stored.observations == 3


@pytest.mark.integration
def test_a_message_over_the_size_limit_is_dead_lettered_unparsed(
    central: Central,
) -> None:
    context, _ = central
    ingest = context.settings.ingest.model_copy(update={"max_message_bytes": 2048})
    context.settings = context.settings.model_copy(update={"ingest": ingest})
    event = make_event(*grid_centre(context, GRID_1))
    big = event.model_copy(
        update={
            "attributes": {"note": "x" * 200} | {f"k{i}": "y" * 200 for i in range(10)}
        }
    )
    result = EventProcessor(context).process([inbound(big), inbound(event)])
    [letter] = result.deadletters
    assert "over the 2048 byte limit" in letter.reason
    assert result.accepted == 1


@pytest.mark.integration
def test_an_update_from_another_node_is_dead_lettered_unstored(
    central: Central,
) -> None:
    context, _ = central
    processor = EventProcessor(context)
    start = make_event(*grid_centre(context, GRID_1), node="node-01")
    processor.process([inbound(start)])
    forged = start.model_copy(
        update={
            "node_id": "node-02",
            "phase": EventPhase.END,
            "detected_at": start.detected_at + timedelta(seconds=5),
            "ended_at": start.detected_at + timedelta(seconds=5),
        }
    )
    result = processor.process([inbound(forged)])
    [letter] = result.deadletters
    assert "raised by node 'node-01', not 'node-02'" in letter.reason
    assert (result.accepted, result.observations) == (0, 0)
    with context.sessions() as session:
        stored = session.get(Event, start.event_id)
    assert stored is not None and stored.phase == "start"
    # The real end from the node that raised it is still taken afterwards.
    real_end = forged.model_copy(update={"node_id": "node-01"})
    assert processor.process([inbound(real_end)]).observations == 1


@pytest.mark.integration
def test_an_update_from_another_node_in_the_same_batch_is_dead_lettered(
    central: Central,
) -> None:
    context, _ = central
    start = make_event(*grid_centre(context, GRID_1), node="node-01")
    forged = start.model_copy(
        update={
            "node_id": "node-02",
            "phase": EventPhase.UPDATE,
            "detected_at": start.detected_at + timedelta(seconds=5),
        }
    )
    result = EventProcessor(context).process([inbound(start), inbound(forged)])
    [letter] = result.deadletters
    assert "raised by node 'node-01', not 'node-02'" in letter.reason
    assert (result.accepted, result.tickets_created) == (1, 1)


@pytest.mark.integration
def test_a_nearby_event_of_the_same_type_merges_a_far_one_does_not(
    central: Central,
) -> None:
    context, _ = central
    processor = EventProcessor(context)
    lat, lon = grid_centre(context, GRID_1)
    processor.process([inbound(make_event(lat, lon, camera="cam-001"))])
    near = make_event(lat + 20 / M_PER_DEG_LAT, lon, camera="cam-002")
    other_type = make_event(lat, lon, type_=EventType.INTRUSION)
    result = processor.process([inbound(near), inbound(other_type)])
    assert (result.merged, result.tickets_created) == (1, 1)
    far = make_event(lat + 150 / M_PER_DEG_LAT, lon)
    assert processor.process([inbound(far)]).tickets_created == 1
    all_tickets = tickets(context)
    assert [t.observations for t in all_tickets] == [2, 1, 1]
    with context.sessions() as session:
        merged = session.get(Event, near.event_id)
    assert merged is not None and merged.ticket_id == all_tickets[0].id


@pytest.mark.integration
def test_merge_window_expires(central: Central) -> None:
    context, _ = central
    processor = EventProcessor(context)
    lat, lon = grid_centre(context, GRID_1)
    processor.process([inbound(make_event(lat, lon))])
    clock = context.clock
    later = clock.now() + timedelta(minutes=45)  # crowding merges within 20 min
    clock.set(later)  # type: ignore[attr-defined]
    result = processor.process([inbound(make_event(lat, lon, at=later))])
    assert (result.merged, result.tickets_created) == (0, 1)


@pytest.mark.integration
def test_points_outside_every_grid(central: Central) -> None:
    context, _ = central
    assert context.grid_index is not None
    west, south, _east, north = context.grid_index.bounds_lonlat()
    mid_lat = (south + north) / 2
    just_outside = make_event(mid_lat, west - 0.0002)  # ~20 m west of the city
    far_away = make_event(mid_lat, west - 0.05)  # ~5 km
    result = EventProcessor(context).process([inbound(just_outside), inbound(far_away)])
    assert result.tickets_created == 2
    near_ticket, far_ticket = tickets(context)
    assert near_ticket.grid_code is not None and near_ticket.state == "dispatched"
    assert far_ticket.grid_code is None
    assert (far_ticket.state, far_ticket.review_reason) == (
        "pending_review",
        "unassigned_grid",
    )
    assert far_ticket.assignee_id is None


@pytest.mark.integration
def test_review_policy_holds_low_confidence_and_review_only_matters(
    central: Central,
) -> None:
    context, _ = central
    lat, lon = grid_centre(context, GRID_1)
    low = make_event(lat, lon, type_=EventType.LITTERING, confidence=0.3)
    abandoned = make_event(lat, lon, type_=EventType.ABANDONED_OBJECT, confidence=0.99)
    result = EventProcessor(context).process([inbound(low), inbound(abandoned)])
    assert result.pending_review == 2
    for ticket in tickets(context):
        assert (ticket.state, ticket.review_reason) == (
            "pending_review",
            "review_policy",
        )
    assert all(recipients == [] for _, recipients in result.notices)


@pytest.mark.integration
def test_malformed_messages_go_to_dead_letter_and_the_rest_is_stored(
    central: Central,
) -> None:
    context, _ = central
    good = make_event(*grid_centre(context, GRID_1))
    bad_schema = json.loads(good.to_json())
    bad_schema["confidence"] = 7
    wrong_node = make_event(*grid_centre(context, GRID_1), node="node-02")
    batch = [
        InboundMessage("gw/v1/edge/node-01/events", b"{not json"),
        InboundMessage("gw/v1/edge/node-01/events", json.dumps(bad_schema).encode()),
        InboundMessage("gw/v1/edge/node-01/events", b"\xff\xfe binary"),
        inbound(wrong_node, topic="gw/v1/edge/node-01/events"),
        InboundMessage("gw/v1/edge/node-01/other", good.to_json().encode()),
        inbound(good),
    ]
    result = EventProcessor(context).process(batch)
    assert result.tickets_created == 1
    reasons = [d.reason for d in result.deadletters]
    assert len(reasons) == 5
    assert "invalid gw.event/1 message" in reasons[0]
    assert "confidence" in reasons[1]
    assert reasons[2].startswith("invalid gw.event/1 message")
    binary = result.deadletters[2]  # not UTF-8: kept as base64
    assert binary.payload_encoding == "base64"
    assert base64.b64decode(binary.payload) == b"\xff\xfe binary"
    assert result.deadletters[0].payload_encoding == "utf-8"
    assert result.deadletters[0].payload == "{not json"
    assert "does not match the topic's node" in reasons[3]
    assert "not an event topic" in reasons[4]


@pytest.mark.integration
def test_dispatch_balances_and_falls_back_when_the_full_timer_is_off_duty(
    central: Central,
) -> None:
    context, _ = central
    lat, lon = grid_centre(context, GRID_1)
    clock = context.clock
    # Wednesday 19:00 local: the full-time worker went home; a part-timer is on.
    clock.set(clock.now() + timedelta(hours=9))  # type: ignore[attr-defined]
    evening = EventProcessor(context).process([inbound(make_event(lat, lon))])
    assert evening.tickets_created == 1
    [ticket] = tickets(context)
    worker = context.directory.get(ticket.assignee_id or "")
    assert worker is not None and worker.role.value == "part_time"
    # Sunday 03:00 local: nobody in the hierarchy is on duty → operators.
    clock.set(clock.now() + timedelta(days=3, hours=8))  # type: ignore[attr-defined]
    night = EventProcessor(context).process(
        [inbound(make_event(lat, lon, type_=EventType.FALL))]
    )
    assert night.pending_review == 1
    assert tickets(context)[-1].review_reason == "no_worker"


@pytest.mark.integration
def test_inline_snapshot_is_stored_once_and_left_out_of_the_stored_message(
    central: Central, tmp_path: Path
) -> None:
    context, _ = central
    # a real (face-free) JPEG: central decodes snapshots to check them for faces
    jpeg = bytes(cv2.imencode(".jpg", np.full((16, 16, 3), 90, np.uint8))[1])
    digest = hashlib.sha256(jpeg).hexdigest()
    snapshot = SnapshotRef(sha256=digest, bytes_b64=base64.b64encode(jpeg).decode())
    lat, lon = grid_centre(context, GRID_1)
    first = make_event(lat, lon).model_copy(update={"media": Media(snapshot=snapshot)})
    second = make_event(lat, lon).model_copy(update={"media": Media(snapshot=snapshot)})
    processor = EventProcessor(context, MediaStore(tmp_path / "media"))
    processor.process([inbound(first)])
    processor.process([inbound(second)])  # the same picture again: no second row
    with context.sessions() as session:
        [stored] = session.scalars(select(MediaObject)).all()
        message = session.get(EventMessageRow, first.dedupe_key)
    assert (stored.sha256, stored.kind, stored.event_id) == (
        digest,
        "snapshot",
        first.event_id,
    )
    assert stored.size == len(jpeg) and stored.uploaded_by == first.node_id
    assert message is not None
    assert message.payload["media"]["snapshot"] == {
        "sha256": digest,
        "content_type": "image/jpeg",
    }


@pytest.mark.integration
def test_events_merged_inside_one_batch_count_on_the_new_ticket(
    central: Central,
) -> None:
    context, _ = central
    lat, lon = grid_centre(context, GRID_1)
    first = make_event(lat, lon, camera="cam-001")
    second = make_event(lat + 10 / M_PER_DEG_LAT, lon, camera="cam-002")
    result = EventProcessor(context).process([inbound(first), inbound(second)])
    assert (result.tickets_created, result.merged) == (1, 1)
    [ticket] = tickets(context)
    assert ticket.observations == 2
    [(notice, _)] = result.notices
    assert notice.event_ids == [first.event_id, second.event_id]


@pytest.mark.integration
def test_events_move_their_cameras_last_event_time_forward_only(
    central: Central,
) -> None:
    context, _ = central
    lat, lon = grid_centre(context, GRID_1)
    newer = make_event(lat, lon, camera="cam-001")
    older = make_event(
        lat, lon, camera="cam-001", at=newer.detected_at - timedelta(minutes=5)
    )
    processor = EventProcessor(context)
    processor.process([inbound(newer)])
    processor.process([inbound(older)])
    with context.sessions() as session:
        camera = session.scalars(
            select(Camera).where(Camera.camera_id == "cam-001")
        ).one()
        other = session.scalars(
            select(Camera).where(Camera.camera_id == "cam-002")
        ).one()
    assert camera.last_event_at == newer.detected_at
    assert other.last_event_at is None


@pytest.mark.integration
def test_a_batch_moves_each_camera_to_its_newest_event_only_forward(
    central: Central,
) -> None:
    context, _ = central
    lat, lon = grid_centre(context, GRID_1)
    at = make_event(lat, lon).detected_at
    minutes = [0, 2, -3]  # several events of one camera, newest in the middle
    batch = [
        make_event(lat, lon, camera="cam-001", at=at + timedelta(minutes=m))
        for m in minutes
    ] + [
        make_event(lat, lon, camera="cam-002", at=at - timedelta(minutes=1)),
        make_event(lat, lon, camera="cam-999", at=at),  # no such camera: no row
    ]
    processor = EventProcessor(context)
    processor.process([inbound(e) for e in batch])
    # Later: an older event of cam-001 (out of order), a newer one of cam-002.
    processor.process(
        [
            inbound(make_event(lat, lon, camera="cam-001", at=at)),
            inbound(make_event(lat, lon, camera="cam-002", at=at)),
        ]
    )
    with context.sessions() as session:
        seen = dict(
            session.execute(
                select(Camera.camera_id, Camera.last_event_at).where(
                    Camera.node_id == "node-01"
                )
            ).all()
        )
    assert seen["cam-001"] == at + timedelta(minutes=2)
    assert seen["cam-002"] == at
    assert seen["cam-003"] is None
    assert "cam-999" not in seen
