"""What a camera's verdict does to a resolved ticket, by the matter's policy."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from gridwatch.verification import VerifyVerdict

CheckMode = Literal["close", "review"]


class CheckState(StrEnum):
    """A camera check: waiting for the node, or its verdict."""

    PENDING = "pending"
    GONE = "gone"
    PRESENT = "present"
    CANNOT_VERIFY = "cannot_verify"


class CheckOutcome(StrEnum):
    """What the verdict did to the ticket."""

    CLOSED = "closed"  # verified by camera and closed
    REVIEW = "review"  # stays resolved for an operator to close or return
    RETURNED = "returned"  # the camera still sees it: back for rework
    NONE = "none"  # the ticket had moved on meanwhile (closed or returned by hand)


def outcome_for(verdict: VerifyVerdict, mode: CheckMode) -> CheckOutcome:
    """The ticket's way on after `verdict` under the matter's `camera_check`.

    A refusal returns the ticket whatever the mode (the camera sees the problem
    still there); a confirmation closes it only in `close` mode; a camera that
    cannot see leaves it to an operator, so a ticket never hangs on a check.
    """
    if verdict is VerifyVerdict.PRESENT:
        return CheckOutcome.RETURNED
    if verdict is VerifyVerdict.GONE and mode == "close":
        return CheckOutcome.CLOSED
    return CheckOutcome.REVIEW
