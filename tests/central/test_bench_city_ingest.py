"""`bench city --ingest-events`: the events go where nothing can merge."""

from __future__ import annotations

from datetime import timedelta

from central.context import CentralContext
from central.db.models import Area, AreaLevel
from central.ingest.processor import EventProcessor, InboundMessage
from central.notify import RecordingNotifier
from gridwatch.contract import Topics
from harness.bench.city_ingest import _grid_centres
from tests.central.conftest import GRID_1, grid_centre, make_event


def test_quiet_grids_should_leave_out_a_grid_with_an_open_ticket(
    central: tuple[CentralContext, RecordingNotifier],
) -> None:
    context, clock = central[0], central[0].clock
    an_hour_ago = clock.now() - timedelta(hours=1)
    an_hour_later = clock.now() + timedelta(hours=1)
    with context.sessions() as session:
        grids = session.query(Area).filter(Area.level == AreaLevel.GRID.value).count()
        before = _grid_centres(session, since=an_hour_ago)[0]
    busy = grid_centre(context, GRID_1)
    assert len(before) == grids and busy in [tuple(c) for c in before]

    event = make_event(*busy)
    wire = InboundMessage(Topics().events("node-01"), event.to_json().encode())
    assert EventProcessor(context).process([wire]).tickets_created == 1

    with context.sessions() as session:
        after = [tuple(c) for c in _grid_centres(session, since=an_hour_ago)[0]]
        later = _grid_centres(session, since=an_hour_later)[0]
    assert len(after) == grids - 1
    assert busy not in after
    # a ticket last observed before the merge window cannot take the events
    assert len(later) == grids
