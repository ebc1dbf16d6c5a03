"""Camera health from the edge's retained status messages → the camera registry."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy import select

from central.context import CentralContext
from central.db.models import Camera
from gridwatch.contract import CameraStatusMessage

log = logging.getLogger(__name__)


class CameraStatusRecorder:
    def __init__(self, context: CentralContext) -> None:
        self.context = context

    def record(self, topic: str, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message
        try:
            status = CameraStatusMessage.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("malformed camera status on %s: %s", topic, exc.errors()[:2])
            return
        with self.context.sessions.begin() as session:
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
