"""What a camera's verdict does to a resolved ticket, by the matter's policy."""

from __future__ import annotations

import pytest

from central.verify.policy import CheckMode, CheckOutcome, outcome_for
from gridwatch.verification import VerifyVerdict


@pytest.mark.parametrize(
    ("verdict", "mode", "outcome"),
    [
        (VerifyVerdict.GONE, "close", CheckOutcome.CLOSED),
        (VerifyVerdict.GONE, "review", CheckOutcome.REVIEW),
        (VerifyVerdict.PRESENT, "close", CheckOutcome.RETURNED),
        (VerifyVerdict.PRESENT, "review", CheckOutcome.RETURNED),
        (VerifyVerdict.CANNOT_VERIFY, "close", CheckOutcome.REVIEW),
        (VerifyVerdict.CANNOT_VERIFY, "review", CheckOutcome.REVIEW),
    ],
)
def test_outcome_for_given_verdict_and_mode_should_move_the_ticket_so(
    verdict: VerifyVerdict, mode: CheckMode, outcome: CheckOutcome
) -> None:
    assert outcome_for(verdict, mode) is outcome
