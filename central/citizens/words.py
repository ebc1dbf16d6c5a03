"""The progress of a reported ticket in plain words, for the person who
reported it: no names, no worker ids, no internal notes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from central.db.models import TicketHistory
from central.tickets.states import TicketAction, TicketState

STATE_WORDS: dict[TicketState, str] = {
    TicketState.PENDING_REVIEW: "Received: a city operator will check it soon",
    TicketState.DISPATCHED: "Sent to the grid worker responsible for the place",
    TicketState.ACCEPTED: "A grid worker is dealing with it",
    TicketState.RESOLVED: "Reported as handled; the city is checking the work",
    TicketState.RETURNED: "Being worked on again",
    TicketState.CLOSED: "Handled and closed",
    TicketState.REJECTED: "Not taken up",
}

ACTION_WORDS: dict[TicketAction, str] = {
    TicketAction.CREATE: "Report received",
    TicketAction.CONFIRM: "Checked by an operator and sent to a grid worker",
    TicketAction.DISPATCH: "Sent to a grid worker",
    TicketAction.REASSIGN: "Handed to another grid worker",
    TicketAction.ACCEPT: "A grid worker took it on",
    TicketAction.RESOLVE: "The grid worker reported it handled",
    TicketAction.CLOSE: "Checked and closed",
    TicketAction.RETURN: "Sent back for more work",
    TicketAction.REOPEN: "Reopened by you",
    TicketAction.REJECT: "Not taken up",
    TicketAction.ESCALATE: "Taking longer than planned: passed up for attention",
    TicketAction.MERGE: "Reported again: handled together as one case",
}


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    words: str


def state_words(state: str) -> str:
    """What the ticket's state means to the person who reported it."""
    try:
        return STATE_WORDS[TicketState(state)]
    except ValueError:
        return "In progress"


def progress_steps(history: Iterable[TicketHistory]) -> list[Step]:
    """Each history row the reporter may know of, worded (observations and
    unknown actions left out)."""
    steps: list[Step] = []
    for row in history:
        try:
            words = ACTION_WORDS.get(TicketAction(row.action))
        except ValueError:
            words = None
        if words is not None:
            steps.append(Step(at=row.at, words=words))
    return steps
