"""Camera health from the edge's retained status messages → the camera registry.

Messages arrive on paho's network thread, which must never wait for the
database (it also carries every event and acknowledgement): there they are only
parsed and kept, newest per camera; a thread of this recorder writes them.
"""

from __future__ import annotations

import logging
import threading

from pydantic import ValidationError
from sqlalchemy import select

from central.context import CentralContext
from central.db.models import Camera
from gridwatch.contract import CameraStatusMessage

log = logging.getLogger(__name__)

_RETRY_S = 5.0


class CameraStatusRecorder:
    """Keeps the newest status of each camera and writes it from its own thread."""

    def __init__(self, context: CentralContext) -> None:
        self.context = context
        self._pending: dict[tuple[str, str], CameraStatusMessage] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="central-camera-status", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def submit(self, topic: str, payload: bytes) -> None:
        """Parse a status message and keep it for the writer (never blocks long)."""
        if not payload:
            return  # a cleared retained message
        try:
            status = CameraStatusMessage.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("malformed camera status on %s: %s", topic, exc.errors()[:2])
            return
        with self._lock:
            self._pending[(status.node_id, status.camera_id)] = status
        self._wake.set()

    def flush(self) -> int:
        """Write what is pending now; returns how many cameras were written.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database failed (the statuses
                stay pending, unless newer ones arrived meanwhile).
        """
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return 0
        try:
            self._write(list(batch.values()))
        except Exception:
            with self._lock:
                for key, status in batch.items():
                    self._pending.setdefault(key, status)
            raise
        return len(batch)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                log.exception("camera status not stored; retrying in %.0f s", _RETRY_S)
                self._stop.wait(_RETRY_S)
                self._wake.set()
        try:
            self.flush()  # what arrived before the stop
        except Exception:
            log.exception("camera status not stored at stop")

    def _write(self, statuses: list[CameraStatusMessage]) -> None:
        with self.context.sessions.begin() as session:
            for status in statuses:
                camera = session.scalars(
                    select(Camera).where(
                        Camera.node_id == status.node_id,
                        Camera.camera_id == status.camera_id,
                    )
                ).first()
                if camera is None:
                    # Not in the registry yet: record it without a position.
                    camera = Camera(
                        node_id=status.node_id, camera_id=status.camera_id, name=""
                    )
                    session.add(camera)
                camera.health = status.health.value
                camera.fps_in = status.fps_in
                camera.fps_analysed = status.fps_analysed
                camera.status_at = status.at
                camera.status_error = status.error
