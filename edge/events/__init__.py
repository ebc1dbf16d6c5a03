"""Events: contract messages from rule signals, ground location and snapshots."""

from edge.events.builder import EventBuilder, person_boxes
from edge.events.geo import GroundProjector, LocalTangentPlane, Locator
from edge.events.snapshot import (
    BOX_COLOR_BGR,
    FaceAndHeadBlur,
    Snapshot,
    SnapshotSettings,
    Snapshotter,
)

__all__ = [
    "BOX_COLOR_BGR",
    "EventBuilder",
    "FaceAndHeadBlur",
    "GroundProjector",
    "LocalTangentPlane",
    "Locator",
    "Snapshot",
    "SnapshotSettings",
    "Snapshotter",
    "person_boxes",
]
