"""Camera sources feeding per-camera freshest-frame slots."""

from __future__ import annotations

from edge.config import CameraConfig, DecoderKind, SourceKind
from edge.ingest.base import FrameSource, RateMeter, SourceState
from edge.ingest.capture import CaptureSource
from edge.ingest.jpeg_push import SnapshotError, SnapshotSource
from edge.ingest.pyav_capture import PyAvSource
from edge.ingest.sampler import FrameSampler
from edge.ingest.slot import FreshestFrameSlot

__all__ = [
    "CaptureSource",
    "FrameSampler",
    "FrameSource",
    "FreshestFrameSlot",
    "PyAvSource",
    "RateMeter",
    "SnapshotError",
    "SnapshotSource",
    "SourceState",
    "build_source",
]


def build_source(camera: CameraConfig, slot: FreshestFrameSlot) -> FrameSource:
    """The source class that reads this camera's kind."""
    if camera.kind == SourceKind.SNAPSHOT:
        return SnapshotSource(camera, slot)
    if camera.decoder == DecoderKind.PYAV:
        return PyAvSource(camera, slot)
    return CaptureSource(camera, slot)
