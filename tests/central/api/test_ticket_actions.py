"""A ticket's `actions`: what the caller may do now, as central's transition
table and roles say (the pages offer exactly these buttons)."""

from __future__ import annotations

from typing import Any

import pytest

from central.api.routes_tickets import STAFF_ACTIONS, WORKER_ACTIONS
from central.tickets.states import TicketState
from tests.central.api.conftest import Api, add_ai_ticket

STATES = [state.value for state in TicketState]

# A request each action accepts when the ticket's state allows it.
REQUESTS: dict[str, dict[str, Any]] = {
    "accept": {},
    "resolve": {"data": {"note": "done"}},
    "confirm": {"json": {}},
    "close": {"json": {"note": "checked"}},
    "return": {"json": {"reason": "still there"}},
    "reassign": {"json": {"worker_id": "w2"}},
    "escalate": {"json": {"level": 1, "note": "late"}},
    "reject": {"json": {"reason": "a shadow"}},
}


def ticket_in(api: Api, state: str) -> int:
    """A ticket brought to `state` through the API, held by worker1 (w1) unless
    it waits for review."""
    if state == "pending_review":
        return add_ai_ticket(api.context, event_id=None)
    tid: int = api.create_ticket()["id"]
    steps = {
        "dispatched": [],
        "accepted": [("worker1", "accept")],
        "resolved": [("worker1", "accept"), ("worker1", "resolve")],
        "returned": [
            ("worker1", "accept"),
            ("worker1", "resolve"),
            ("operator", "return"),
        ],
        "closed": [
            ("worker1", "accept"),
            ("worker1", "resolve"),
            ("operator", "close"),
        ],
        "rejected": [("operator", "reject")],
    }[state]
    for user, action in steps:
        response = api.act(user, tid, action, **REQUESTS[action])
        assert response.status_code == 200, response.text
    assert api.get("operator", f"/api/v1/tickets/{tid}").json()["state"] == state
    return tid


def actions_of(api: Api, user: str, tid: int) -> list[str]:
    response = api.get(user, f"/api/v1/tickets/{tid}")
    assert response.status_code == 200, response.text
    actions: list[str] = response.json()["actions"]
    return actions


@pytest.mark.parametrize(
    ("state", "operator", "worker"),
    [
        ("pending_review", ["confirm", "reassign", "escalate", "reject"], None),
        ("dispatched", ["reassign", "escalate", "reject"], ["accept"]),
        ("accepted", ["reassign", "escalate", "reject"], ["resolve"]),
        ("resolved", ["close", "return", "escalate"], []),
        ("returned", ["reassign", "escalate", "reject"], ["accept"]),
        ("closed", [], []),
        ("rejected", [], []),
    ],
)
def test_ticket_detail_should_list_the_callers_actions(
    api: Api, state: str, operator: list[str], worker: list[str] | None
) -> None:
    tid = ticket_in(api, state)
    assert actions_of(api, "operator", tid) == operator
    assert actions_of(api, "admin", tid) == operator
    if worker is None:  # nobody holds it: no worker sees it
        assert api.get("worker1", f"/api/v1/tickets/{tid}").status_code == 404
    else:
        assert actions_of(api, "worker1", tid) == worker


def test_escalate_should_not_be_offered_past_the_top_level(api: Api) -> None:
    tid = api.create_ticket()["id"]
    for level in (1, 3):
        response = api.act(
            "operator", tid, "escalate", json={"level": level, "note": "late"}
        )
        assert response.status_code == 200, response.text
        offered = actions_of(api, "operator", tid)
        assert ("escalate" in offered) is (level < 3)
    assert actions_of(api, "operator", tid) == ["reassign", "reject"]
    assert actions_of(api, "worker1", tid) == ["accept"]


@pytest.mark.parametrize("state", STATES)
def test_an_action_should_be_listed_exactly_when_central_takes_it(
    api: Api, state: str
) -> None:
    """Every action of each role, tried on a fresh ticket in `state`: it
    succeeds if and only if the ticket's `actions` named it."""
    roles = [("operator", STAFF_ACTIONS)]
    if state != "pending_review":
        roles.append(("worker1", WORKER_ACTIONS))
    for user, actions in roles:
        listed = actions_of(api, user, ticket_in(api, state))
        for action in actions:
            tid = ticket_in(api, state)
            response = api.act(user, tid, action.value, **REQUESTS[action.value])
            assert (response.status_code == 200) is (action.value in listed), (
                user,
                action.value,
                response.status_code,
                response.text,
            )
