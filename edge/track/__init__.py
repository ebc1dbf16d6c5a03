"""Multi-object tracking of detections per camera."""

from edge.track.bytetrack import ObjectTracker, TrackerSettings

__all__ = ["ObjectTracker", "TrackerSettings"]
