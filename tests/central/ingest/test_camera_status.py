"""Camera status: parsed on the network thread, written by the recorder's own."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from central.clock import ManualClock
from central.context import CentralContext
from central.db.models import Camera
from central.db.session import make_session_factory
from central.ingest.camera_status import CameraStatusRecorder
from gridwatch.contract import CameraHealth, CameraStatusMessage
from tests.central.conftest import make_context

TOPIC = "gw/v1/edge/node-x/cameras/cam-x/status"


@pytest.fixture
def context(
    tmp_path: Path, demo_city: tuple[Path, Path], clock: ManualClock
) -> CentralContext:
    made, _ = make_context(
        f"sqlite:///{tmp_path}/c.db", demo_city, clock, tmp_path / "media"
    )
    return made


def _status(health: CameraHealth, fps: float = 10.0) -> bytes:
    return (
        CameraStatusMessage(
            node_id="node-x",
            camera_id="cam-x",
            health=health,
            fps_in=fps,
            fps_analysed=fps,
        )
        .to_json()
        .encode()
    )


def _camera(context: CentralContext) -> Camera | None:
    with context.sessions() as session:
        return session.scalars(
            select(Camera).where(Camera.camera_id == "cam-x")
        ).first()


def test_newest_status_per_camera_is_written_by_the_recorder_thread(
    context: CentralContext,
) -> None:
    recorder = CameraStatusRecorder(context)
    recorder.start()
    try:
        recorder.submit(TOPIC, _status(CameraHealth.STALLED, 0.0))
        recorder.submit(TOPIC, _status(CameraHealth.ONLINE, 12.5))
        recorder.submit(TOPIC, b"{not json")  # logged and dropped
        deadline = time.monotonic() + 5
        while (camera := _camera(context)) is None or camera.health != "online":
            assert time.monotonic() < deadline, "status not written"
            time.sleep(0.02)
        assert camera.fps_in == 12.5
    finally:
        recorder.stop()


def test_a_failing_database_keeps_the_status_for_the_next_try(
    context: CentralContext,
) -> None:
    recorder = CameraStatusRecorder(context)
    recorder.submit(TOPIC, _status(CameraHealth.OFFLINE, 0.0))
    working = context.sessions
    context.sessions = make_session_factory(
        create_engine("sqlite:////nonexistent-dir/never/c.db")
    )
    with pytest.raises(Exception, match="unable to open database"):
        recorder.flush()
    context.sessions = working
    assert recorder.flush() == 1
    camera = _camera(context)
    assert camera is not None and camera.health == "offline"
