"""The transition table's read-only view: which actions a state allows."""

from __future__ import annotations

import pytest

from central.tickets.states import (
    OPEN_STATES,
    TRANSITIONS,
    IllegalTransition,
    TicketAction,
    TicketState,
    actions_from,
    next_state,
)


def test_actions_from_should_follow_the_transition_table() -> None:
    assert actions_from(TicketState.PENDING_REVIEW) == {
        TicketAction.CONFIRM,
        TicketAction.DISPATCH,
        TicketAction.REASSIGN,
        TicketAction.ESCALATE,
        TicketAction.REJECT,
    }
    assert actions_from(TicketState.RESOLVED) == {
        TicketAction.CLOSE,
        TicketAction.RETURN,
        TicketAction.ESCALATE,
    }
    # Only the reporting citizen reopens (central/citizens), never staff.
    assert actions_from(TicketState.CLOSED) == {TicketAction.REOPEN}
    assert actions_from(TicketState.REJECTED) == frozenset()


@pytest.mark.parametrize("state", list(TicketState))
def test_next_state_should_take_exactly_the_actions_listed(state: TicketState) -> None:
    allowed = actions_from(state)
    for action in TRANSITIONS:
        if action in allowed:
            next_state(1, action, state)
        else:
            with pytest.raises(IllegalTransition):
                next_state(1, action, state)
    assert (TicketAction.ESCALATE in allowed) is (state in OPEN_STATES)
