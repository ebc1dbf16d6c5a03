"""Snapshot feeds: face-checkpoint cameras push JPEG frames over HTTP."""

from __future__ import annotations

import hmac
import logging
import os
import time
from datetime import datetime
from typing import NoReturn

import cv2
import numpy as np

from edge.config import CameraConfig
from edge.ingest.base import FrameSource
from edge.ingest.image_header import ImageHeaderError, image_size
from edge.ingest.slot import FreshestFrameSlot
from gridwatch.secrets import SecretError, read_secret_file

logger = logging.getLogger(__name__)

MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024
MAX_SNAPSHOT_PIXELS = 4096 * 4096
MIN_SECRET_CHARS = 16
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
        """
        Raises:
            SnapshotError: the checkpoint's secret cannot be read.
        """
        super().__init__(camera, slot)
        self.checkpoint_id: str | None = None
        self._secret = _read_push_secret(camera)

    def accepts(self, authorization: str | None) -> bool:
        """Whether an `Authorization` header carries this checkpoint's secret."""
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return False
        return hmac.compare_digest(given.strip().encode(), self._secret.encode())

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
        try:
            width, height = image_size(jpeg)
        except ImageHeaderError as error:
            self._refuse(f"body is not a decodable JPEG/PNG image ({error})")
        if width * height > MAX_SNAPSHOT_PIXELS or not width or not height:
            self._refuse(
                f"a {width}x{height} image is over the {MAX_SNAPSHOT_PIXELS} pixel "
                "limit (checked before decoding)"
            )
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


def _read_push_secret(camera: CameraConfig) -> str:
    """The checkpoint's secret from `push_secret_env`, else `push_secret_file`."""
    where = ""
    secret: str | None = None
    if camera.push_secret_env is not None:
        where = f"variable {camera.push_secret_env}"
        secret = os.environ.get(camera.push_secret_env)
    elif camera.push_secret_file is not None:
        where = f"file {camera.push_secret_file}"
        try:
            secret = read_secret_file(camera.push_secret_file)
        except SecretError as error:
            raise SnapshotError(
                f"camera {camera.id}: push secret file {error}"
            ) from None
    if not secret or len(secret) < MIN_SECRET_CHARS:
        raise SnapshotError(
            f"camera {camera.id}: push secret ({where or 'not configured'}) is unset "
            f"or shorter than {MIN_SECRET_CHARS} characters"
        )
    return secret
