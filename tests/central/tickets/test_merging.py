"""One ticket per problem: the merge rule of the matter list, the distance, and
which open ticket a sighting joins (an in-memory SQLite schema)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from central.db.models import Base, Ticket, TicketHistory, TicketMerge
from central.matters import MatterListError, MergePolicy, parse_matter_list
from central.tickets.merging import (
    MergeTarget,
    Sighting,
    find_open_ticket,
    merge_into,
    metres_between,
)

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
GRID = "440106001001001"
LAT, LON = 23.1225, 113.3225
M_PER_DEG_LAT = 110_574.0
LIST_HEAD = """
version: t1
matters:
  - key: littering
    category: {code: "0102", class: 市容环境, subclass: 暴露垃圾}
    department: sanitation
    time_limit_min: 60
"""


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as opened:
        yield opened
    engine.dispose()


def open_ticket(
    session: Session,
    *,
    lat: float = LAT,
    state: str = "dispatched",
    matter_key: str = "littering",
    seen: datetime = NOW,
) -> Ticket:
    ticket = Ticket(
        source="ai",
        matter_key=matter_key,
        matter_version="t1",
        category_code="0102",
        category_name="市容环境/暴露垃圾",
        priority="normal",
        state=state,
        title="littering",
        grid_code=GRID,
        lat=lat,
        lon=LON,
        time_limit_min=60,
        found_at=seen,
        created_at=seen,
        last_observed_at=seen,
    )
    session.add(ticket)
    session.flush()
    return ticket


def sighting(metres_north: float = 0.0, at: datetime = NOW) -> Sighting:
    return Sighting(
        source="citizen",
        matter_key="littering",
        grid_code=GRID,
        lat=LAT + metres_north / M_PER_DEG_LAT,
        lon=LON,
        at=at,
        title="Littering: bags",
        description="bags by the bus stop",
    )


def test_distance_should_be_metres_on_the_ground() -> None:
    assert metres_between(LAT, LON, LAT + 100 / M_PER_DEG_LAT, LON) == pytest.approx(
        100, rel=0.01
    )
    east = 100 / (M_PER_DEG_LAT * 0.92)  # cos(23.12°) ≈ 0.92
    assert metres_between(LAT, LON, LAT, LON + east) == pytest.approx(100, rel=0.01)


def test_the_policy_should_be_off_when_either_figure_is_zero() -> None:
    assert MergePolicy().enabled
    assert not MergePolicy(distance_m=0).enabled
    assert not MergePolicy(window_min=0).enabled


@pytest.mark.parametrize(
    ("merge", "named"),
    [
        ("{distance_m: -1, window_min: 10}", "distance_m"),
        ("{distance_m: 5000, window_min: 10}", "distance_m"),
        ("{distance_m: 30, window_min: 20000}", "window_min"),
        ("{distance_m: 30, window_min: ten}", "window_min"),
        ("{distance_m: 30, radius: 10}", "radius"),
    ],
)
def test_a_bad_merge_rule_should_be_refused_naming_the_field(
    merge: str, named: str
) -> None:
    with pytest.raises(MatterListError, match=named):
        parse_matter_list(LIST_HEAD + f"    merge: {merge}\n")


def test_a_sighting_should_join_the_nearest_open_ticket_in_reach(
    session: Session,
) -> None:
    open_ticket(session, lat=LAT + 20 / M_PER_DEG_LAT)
    nearest = open_ticket(session)
    open_ticket(session, state="closed")
    open_ticket(session, matter_key="illegal_parking")
    found = find_open_ticket(session, MergePolicy(), sighting(3))
    assert found is not None and found.ticket.id == nearest.id
    assert found.distance_m == pytest.approx(3, abs=0.1)


@pytest.mark.parametrize(
    ("policy", "metres", "minutes_later"),
    [
        (MergePolicy(), 31, 0),  # beyond the radius
        (MergePolicy(), 0, 31),  # past the window
        (MergePolicy(distance_m=0), 0, 0),  # merging off
        (MergePolicy(window_min=0), 0, 0),
    ],
)
def test_a_sighting_out_of_reach_should_join_nothing(
    session: Session, policy: MergePolicy, metres: float, minutes_later: int
) -> None:
    open_ticket(session)
    later = NOW + timedelta(minutes=minutes_later)
    assert find_open_ticket(session, policy, sighting(metres, later)) is None


def test_merging_should_count_an_observation_and_keep_the_report(
    session: Session,
) -> None:
    ticket = open_ticket(session)
    later = NOW + timedelta(minutes=5)
    merge = merge_into(
        session,
        MergeTarget(ticket, 12.34),
        sighting(12, later),
        actor_name="citizen",
        citizen_report_id=None,
    )
    assert (ticket.observations, ticket.last_observed_at) == (2, later)
    stored = session.get_one(TicketMerge, merge.id)
    assert (stored.ticket_id, stored.source, stored.distance_m) == (
        ticket.id,
        "citizen",
        12.3,
    )
    history = session.scalars(select(TicketHistory)).one()
    assert (history.action, history.from_state, history.to_state) == (
        "merge",
        "dispatched",
        "dispatched",
    )
    assert history.note is not None and "12 m away" in history.note
