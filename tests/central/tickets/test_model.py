"""The one ticket model: new tickets, their opening history and their notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from central.db.models import Ticket, TicketSource
from central.matters import load_matter_list
from central.tickets.model import HoldReason, ManualTicket, NewTicket, ticket_notice
from central.tickets.states import IllegalTransition
from gridwatch.contract import EventType
from tests.central.conftest import make_event

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
MATTERS = load_matter_list()
DEPARTMENTS = {"public_security": "D03", "housing": "D07"}


def ai_ticket(grid_code: str | None = "440106001001001") -> NewTicket:
    event = make_event(23.12, 113.32, type_=EventType.CROWDING, at=NOW)
    return NewTicket.from_event(
        event,
        matter=MATTERS.by_key("crowding"),
        matters=MATTERS,
        departments=DEPARTMENTS,
        grid_code=grid_code,
        now=NOW,
    )


def reported_ticket(reporter: str | None = "Ms Li") -> NewTicket:
    spec = ManualTicket(
        matter_key="damaged_facility",
        title="Broken bench",
        source=TicketSource.PATROL,
        reporter=reporter,
    )
    return NewTicket.from_report(
        spec,
        matter=MATTERS.by_key("damaged_facility"),
        matters=MATTERS,
        departments=DEPARTMENTS,
        grid_code=None,
        now=NOW,
    )


def test_an_ai_ticket_takes_matter_and_title_from_the_matter_list() -> None:
    ticket = ai_ticket()
    assert (ticket.source, ticket.event_type, ticket.matter_key) == (
        "ai",
        "crowding",
        "crowding",
    )
    assert ticket.matter_version == MATTERS.version
    assert (ticket.category_code, ticket.department_code) == ("0503", "D03")
    assert ticket.title == "Crowd gathering (cam-001)"
    assert ticket.description.startswith("crowding seen by camera cam-001 on node-01")
    assert (ticket.state, ticket.assignee_id, ticket.due_at) == (
        "pending_review",
        None,
        None,
    )


def test_dispatch_follows_the_transition_table_and_starts_the_time_limit() -> None:
    ticket = ai_ticket()
    ticket.dispatch("w1", NOW)
    assert (ticket.state, ticket.assignee_id, ticket.dispatched_at) == (
        "dispatched",
        "w1",
        NOW,
    )
    assert ticket.due_at == NOW + timedelta(minutes=30)
    with pytest.raises(IllegalTransition, match="a new ticket is dispatched"):
        ticket.dispatch("w2", NOW)


@pytest.mark.parametrize(
    ("ticket", "dispatched_to", "expected"),
    [
        (
            ai_ticket(),
            "w1",
            [
                ("create", None, "pending_review", "AI event from node-01/cam-001"),
                ("dispatch", "pending_review", "dispatched", "to w1"),
            ],
        ),
        (
            ai_ticket(grid_code=None),
            None,
            [
                (
                    "create",
                    None,
                    "pending_review",
                    "AI event from node-01/cam-001; awaits review: unassigned_grid",
                )
            ],
        ),
        (
            reported_ticket(),
            None,
            [("create", None, "pending_review", "patrol report")],
        ),
        (
            reported_ticket(reporter=None),
            "w2",
            [
                ("create", None, "pending_review", "patrol report"),
                ("dispatch", "pending_review", "dispatched", "to w2"),
            ],
        ),
    ],
)
def test_opening_history_says_how_the_ticket_came_to_be(
    ticket: NewTicket,
    dispatched_to: str | None,
    expected: list[tuple[str, str | None, str, str]],
) -> None:
    if dispatched_to is None:
        ticket.hold(HoldReason.UNASSIGNED_GRID)
    else:
        ticket.dispatch(dispatched_to, NOW)
    history = ticket.opening_history(7, at=NOW, actor="op")
    assert [(h.action.value, h.from_state, h.to_state, h.note) for h in history] == (
        expected
    )
    assert all((h.ticket_id, h.at, h.actor) == (7, NOW, "op") for h in history)
    assert [h.assignee_id for h in history][-1] == dispatched_to
    assert history[0].to_row()["action"] == "create"


def test_rows_are_ticket_columns_and_the_notice_is_the_same_for_row_and_orm() -> None:
    ticket = ai_ticket()
    ticket.dispatch("w1", NOW)
    row = ticket.to_row()
    assert set(row) <= set(Ticket.__table__.columns.keys()) - {"id"}
    stored = ticket.to_orm()
    assert stored.title == ticket.title and stored.state == "dispatched"
    from_new = ticket_notice(5, ticket, action="dispatched", event_ids=["e1"])
    from_orm = ticket_notice(5, stored, action="dispatched", event_ids=["e1"])
    assert from_new.model_dump(exclude={"sent_at"}) == from_orm.model_dump(
        exclude={"sent_at"}
    )
    assert (from_new.escalation_level, from_new.overdue, from_new.note) == (
        0,
        False,
        None,
    )


@pytest.mark.parametrize(
    ("grid_code", "needs_review", "on_duty", "expected"),
    [
        (None, False, "w1", ("pending_review", "unassigned_grid", None)),
        ("440106001001001", True, "w1", ("pending_review", "review_policy", None)),
        ("440106001001001", False, None, ("pending_review", "no_worker", None)),
        ("440106001001001", False, "w1", ("dispatched", None, "w1")),
    ],
)
def test_dispatch_or_hold_says_why_a_ticket_waits(
    grid_code: str | None,
    needs_review: bool,
    on_duty: str | None,
    expected: tuple[str, str | None, str | None],
) -> None:
    ticket = ai_ticket(grid_code=grid_code)
    asked: list[str] = []

    def pick_worker(grid: str) -> str | None:
        asked.append(grid)
        return on_duty

    ticket.dispatch_or_hold(needs_review=needs_review, pick_worker=pick_worker, now=NOW)
    assert (ticket.state, ticket.review_reason, ticket.assignee_id) == expected
    assert asked == ([grid_code] if grid_code and not needs_review else [])
