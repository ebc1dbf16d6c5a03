"""Snapshot feeds: face-checkpoint cameras push JPEG frames over HTTP."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import NoReturn

import cv2
import numpy as np

from edge.config import CameraConfig
from edge.ingest.base import FrameSource
from edge.ingest.slot import FreshestFrameSlot

logger = logging.getLogger(__name__)

MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024
MAX_CLOCK_SKEW_S = 60.0


class SnapshotError(ValueError):
    """A pushed snapshot was refused; the message says why."""


class SnapshotSource(FrameSource):
    """A camera whose frames arrive through `push` instead of being pulled.

    The camera counts as offline until the first frame arrives and as stalled
    when no frame came for `stall_after_s`; a pushed checkpoint never
    "disconnects", so this source has no reconnect loop.
    """

    def __init__(self, camera: CameraConfig, slot: FreshestFrameSlot) -> None:
        super().__init__(camera, slot)
        self.checkpoint_id: str | None = None

    def push(
        self, jpeg: bytes, checkpoint_id: str | None, captured_at: datetime | None
    ) -> None:
        """Decode one pushed JPEG and offer it to analysis.

        Raises:
            SnapshotError: empty, too large, or not a decodable image.
        """
        if not jpeg:
            self._refuse("empty body")
        if len(jpeg) > MAX_SNAPSHOT_BYTES:
            self._refuse(f"{len(jpeg)} bytes is over the {MAX_SNAPSHOT_BYTES} limit")
        image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            self._refuse("body is not a decodable JPEG/PNG image")
        self.checkpoint_id = checkpoint_id
        self._connected = True
        self.error = None
        self._emit(image.astype(np.uint8, copy=False), self._frame_time(captured_at))

    def _frame_time(self, captured_at: datetime | None) -> float | None:
        """The checkpoint's capture time when plausible, else None (arrival time).

        A checkpoint clock that is off by more than `MAX_CLOCK_SKEW_S` (or a time
        before the previous frame) is not trusted: rules need increasing times.
        """
        if captured_at is None:
            return None
        stamp = captured_at.timestamp()
        now = time.time()
        previous = self.last_frame_at or 0.0
        if abs(now - stamp) > MAX_CLOCK_SKEW_S or stamp <= previous:
            logger.debug(
                "camera %s: ignoring X-Captured-At %s", self.camera.id, captured_at
            )
            return None
        return stamp

    def _refuse(self, reason: str) -> NoReturn:
        raise SnapshotError(f"camera {self.camera.id}: snapshot refused: {reason}")

    def start(self) -> None:
        """Nothing to pull; frames arrive through `push`."""

    def _read_until_failure(self) -> bool:
        self._stop.wait()
        return False
