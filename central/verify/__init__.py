"""Closure the camera confirms: after a resolution, the camera that raised the
ticket looks again (docs/verification.md)."""

from central.verify.policy import CheckOutcome, CheckState, outcome_for
from central.verify.service import CameraCheckService, CameraCheckSettings

__all__ = [
    "CameraCheckService",
    "CameraCheckSettings",
    "CheckOutcome",
    "CheckState",
    "outcome_for",
]
