"""Ticket states and the closed-loop transition table.

pending_review → dispatched → accepted → resolved → closed, with resolved →
returned (rework) → accepted again, rejected (false positive) from any state
before resolution, and reassign (→ dispatched) while the ticket is open. A
citizen may reopen a closed ticket they reported (within the configured days):
closed → returned, back to its worker for rework.
"""

from __future__ import annotations

from enum import StrEnum


class TicketState(StrEnum):
    PENDING_REVIEW = "pending_review"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    RETURNED = "returned"
    CLOSED = "closed"
    REJECTED = "rejected"


class TicketAction(StrEnum):
    CREATE = "create"
    CONFIRM = "confirm"
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    RESOLVE = "resolve"
    CLOSE = "close"
    RETURN = "return"
    REJECT = "reject"
    REASSIGN = "reassign"
    ESCALATE = "escalate"
    OBSERVE = "observe"
    REOPEN = "reopen"
    # One ticket per problem: a report joins an open ticket; an operator splits
    # a wrong merge off into a ticket of its own. Neither changes the state.
    MERGE = "merge"
    SPLIT = "split"


# Every ticket is created in review; `dispatch` or `confirm` move it on.
CREATED_STATE = TicketState.PENDING_REVIEW
OPEN_STATES: frozenset[TicketState] = frozenset(
    {
        TicketState.PENDING_REVIEW,
        TicketState.DISPATCHED,
        TicketState.ACCEPTED,
        TicketState.RESOLVED,
        TicketState.RETURNED,
    }
)
# States in which the clock of the time limit runs (a worker owns the ticket).
WORKING_STATES: frozenset[TicketState] = frozenset(
    {TicketState.DISPATCHED, TicketState.ACCEPTED, TicketState.RETURNED}
)

_S = TicketState
TRANSITIONS: dict[TicketAction, dict[TicketState, TicketState]] = {
    TicketAction.CONFIRM: {_S.PENDING_REVIEW: _S.DISPATCHED},
    TicketAction.DISPATCH: {_S.PENDING_REVIEW: _S.DISPATCHED},
    TicketAction.ACCEPT: {_S.DISPATCHED: _S.ACCEPTED, _S.RETURNED: _S.ACCEPTED},
    TicketAction.RESOLVE: {_S.ACCEPTED: _S.RESOLVED},
    TicketAction.CLOSE: {_S.RESOLVED: _S.CLOSED},
    TicketAction.RETURN: {_S.RESOLVED: _S.RETURNED},
    # The reporting citizen, within `citizen.reopen_days` of the close.
    TicketAction.REOPEN: {_S.CLOSED: _S.RETURNED},
    TicketAction.REJECT: {
        _S.PENDING_REVIEW: _S.REJECTED,
        _S.DISPATCHED: _S.REJECTED,
        _S.ACCEPTED: _S.REJECTED,
        _S.RETURNED: _S.REJECTED,
    },
    TicketAction.REASSIGN: {
        _S.PENDING_REVIEW: _S.DISPATCHED,
        _S.DISPATCHED: _S.DISPATCHED,
        _S.ACCEPTED: _S.DISPATCHED,
        _S.RETURNED: _S.DISPATCHED,
    },
}


class IllegalTransition(Exception):
    """An action the ticket's state does not allow; the message says why."""

    def __init__(self, ticket_id: int | None, action: TicketAction, state: TicketState):
        allowed = sorted(s.value for s in TRANSITIONS.get(action, {}))
        self.ticket_id = ticket_id
        self.action = action
        self.state = state
        which = "a new ticket" if ticket_id is None else f"ticket {ticket_id}"
        super().__init__(
            f"{which} is {state.value}: cannot {action.value} it "
            f"({action.value} is allowed from {', '.join(allowed) or 'no state'})"
        )


def actions_from(state: TicketState) -> frozenset[TicketAction]:
    """The actions `state` allows whoever takes them: every action of
    TRANSITIONS that moves on from it, and escalate while the ticket is open
    (escalating raises the level and keeps the state)."""
    allowed = {action for action, moves in TRANSITIONS.items() if state in moves}
    if state in OPEN_STATES:
        allowed.add(TicketAction.ESCALATE)
    return frozenset(allowed)


def next_state(
    ticket_id: int | None, action: TicketAction, state: TicketState
) -> TicketState:
    """The state after `action`, or IllegalTransition (`ticket_id` None: not
    stored yet)."""
    target = TRANSITIONS.get(action, {}).get(state)
    if target is None:
        raise IllegalTransition(ticket_id, action, state)
    return target
