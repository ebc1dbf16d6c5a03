"""One ticket per problem in the ingest path, on SQLite and a real PostgreSQL: a
camera event joins the open ticket a citizen opened for the same matter nearby
(and the matter list's `merge` rule, at 0, keeps them apart)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from central.citizens.reports import ReportDesk, ReportIn
from central.context import CentralContext
from central.db.models import Event, Ticket
from central.ingest.processor import EventProcessor, InboundMessage
from central.matters import parse_matter_list
from central.notify import RecordingNotifier
from gridwatch.contract import EventMessage
from tests.central.conftest import GRID_1, grid_centre, make_event
from tests.central.ingest.test_processor import SHIPPED_MATTERS

Central = tuple[CentralContext, RecordingNotifier]
M_PER_DEG_LAT = 110_574.0
CROWDING_MERGE = "merge: {distance_m: 60, window_min: 20}"


def inbound(event: EventMessage) -> InboundMessage:
    return InboundMessage(
        f"gw/v1/edge/{event.node_id}/events", event.to_json().encode()
    )


def citizen_ticket(context: CentralContext, lat: float, lon: float) -> int:
    ticket, _token = ReportDesk(context).submit(
        ReportIn(
            matter_key="crowding",
            description="a crowd blocking the pavement",
            lat=lat,
            lon=lon,
            review_first=False,
        )
    )
    return ticket.id


@pytest.mark.integration
def test_a_camera_event_should_join_the_citizens_open_ticket(
    central: Central,
) -> None:
    context, _ = central
    lat, lon = grid_centre(context, GRID_1)
    reported = citizen_ticket(context, lat, lon)
    event = make_event(lat + 25 / M_PER_DEG_LAT, lon, at=context.clock.now())
    result = EventProcessor(context).process([inbound(event)])
    assert (result.merged, result.tickets_created) == (1, 0)
    with context.sessions() as session:
        stored = session.get_one(Event, event.event_id)
        ticket = session.get_one(Ticket, reported)
        assert stored.ticket_id == reported
        assert (ticket.source, ticket.observations) == ("citizen", 2)


@pytest.mark.integration
def test_a_merge_rule_at_zero_should_keep_the_channels_apart(
    central: Central,
) -> None:
    context, _ = central
    assert CROWDING_MERGE in SHIPPED_MATTERS
    off = SHIPPED_MATTERS.replace(CROWDING_MERGE, "merge: {distance_m: 0}")
    context.matters = parse_matter_list(off, source="test")
    lat, lon = grid_centre(context, GRID_1)
    reported = citizen_ticket(context, lat, lon)
    event = make_event(lat, lon, at=context.clock.now())
    result = EventProcessor(context).process([inbound(event)])
    assert (result.merged, result.tickets_created) == (0, 1)
    with context.sessions() as session:
        ids = list(session.scalars(select(Ticket.id).order_by(Ticket.id)))
    assert ids[0] == reported and len(ids) == 2
